/**
 * BIND named: the query log, security denials, response rate limiting (RRL) and EDNS fallback.
 *
 * Lines arrive three ways, and all end up as the same message:
 *   syslog:          Nov 20 09:30:01 ns1 named[123]: client @0x7f.. 192.0.2.1#53211 (example.com): query: ...
 *   double stamp:    Nov 20 09:30:01 ns1 named[123]: 20-Nov-2026 09:30:01.123 queries: info: client ...
 *   channel file:    20-Nov-2026 09:30:01.123 queries: info: client @0x7f.. 192.0.2.1#53211 (example.com): query: ...
 * In a channel file `print-category` and `print-severity` may each be off, so the
 * `queries: info: ` in front is optional, as is either half of it.
 *
 * Messages about a client are written by ns_client_logv (lib/ns/client.c) as
 *   client @0x<ptr> <addr>#<port>[/key <signer>][ (<qname>)][: view <view>]: <text>
 * Older versions (9.10 and before) have no `@0x..`, and 9.9 and before no `(qname)`.
 *
 * Query-log lines are the busiest DNS lines, so that path scans with indexOf and charCodeAt,
 * slices only the values it keeps and builds no intermediate objects.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { normalizeIp, portAt, toPort } from './common.js';
import { lineParser } from './line.js';
import { isEnvelopeError, parseEnvelope, type Envelope } from './syslog.js';
import type { SourceParser } from './types.js';

/** Event kinds this parser produces; the correlator depends on these names. */
export type BindKind = 'query' | 'denied' | 'rate-limit' | 'edns-fallback';

/** BIND's logging categories (ARM "The category Phrase"), as `print-category` writes them. */
const CATEGORIES = new Set([
  'client', 'cname', 'config', 'database', 'default', 'delegation-only', 'dispatch', 'dnssec', 'dnstap',
  'dns-reporting-agent', 'edns-disabled', 'general', 'lame-servers', 'network', 'notify', 'nsid', 'queries',
  'query-errors', 'rate-limit', 'resolver', 'responses', 'rpz', 'rpz-passthru', 'security', 'serve-stale',
  'spill', 'sslkeylog', 'trust-anchor-telemetry', 'unmatched', 'update', 'update-policy', 'update-security',
  'xfer-in', 'xfer-out', 'zoneload', 'zoneversion',
]);

/**
 * Categories that can stand where a program tag belongs: a channel file with print-category
 * on and a syslog-style date, as in fail2ban's sample `Oct 23 02:06:39 security: info: client ...`.
 * Generic words (`general`, `network`, `client`, `update`, ...) are left out: real programs use them.
 */
const CATEGORY_TAGS = new Set([
  'security', 'update-security', 'queries', 'query-errors', 'rate-limit', 'lame-servers', 'edns-disabled',
  'xfer-in', 'xfer-out', 'serve-stale', 'trust-anchor-telemetry', 'rpz', 'rpz-passthru', 'dnssec',
  'delegation-only', 'zoneload', 'spill', 'unmatched', 'dns-reporting-agent',
]);

/** Categories whose messages are all deliberate non-events (unless a reader below claims them first). */
const SKIP_CATEGORIES = new Set([
  'lame-servers', 'xfer-in', 'xfer-out', 'notify', 'dnssec', 'zoneload', 'config', 'network', 'database',
  'update', 'update-policy', 'serve-stale', 'spill', 'cname', 'dispatch', 'nsid', 'rpz', 'rpz-passthru',
  'trust-anchor-telemetry', 'unmatched', 'sslkeylog', 'dnstap', 'delegation-only', 'dns-reporting-agent',
  'zoneversion', 'responses', 'resolver', 'edns-disabled', 'rate-limit', 'query-errors',
]);

const SEVERITIES = new Set(['critical', 'error', 'warning', 'notice', 'info', 'dynamic']);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** `info`, `debug 3`, `level 12`, ...: what print-severity writes. */
function isSeverity(tok: string): boolean {
  if (SEVERITIES.has(tok)) return true;
  if (tok.startsWith('debug ') || tok.startsWith('level ')) {
    for (let k = 6; k < tok.length; k++) if (!isDigit(tok.charCodeAt(k))) return false;
    return tok.length > 6;
  }
  return false;
}

/**
 * Category seen by the last skipPrefixes call. A module-level scratch value rather than a
 * returned object, so the query path allocates nothing here; parsing is synchronous.
 */
let seenCategory: string | null = null;

/**
 * Skip `queries: info: `, `security: `, `info: `, `debug 3: ` in front of a message, from i.
 * Sets seenCategory. Returns the index of the message text.
 */
function skipPrefixes(msg: string, i: number): number {
  seenCategory = null;
  // The common cases without slicing.
  if (msg.startsWith('queries: ', i)) { seenCategory = 'queries'; i += 9; }
  else if (msg.startsWith('client ', i)) return i;
  else {
    const colon = msg.indexOf(': ', i);
    if (colon > i && colon - i <= 24) {
      const tok = msg.slice(i, colon);
      if (CATEGORIES.has(tok)) { seenCategory = tok; i = colon + 2; }
    }
  }
  if (msg.startsWith('info: ', i)) return i + 6;
  const colon = msg.indexOf(': ', i);
  if (colon > i && colon - i <= 9 && isSeverity(msg.slice(i, colon))) return colon + 2;
  return i;
}

/** `message repeated 3 times: [ text]` (rsyslog's duplicate suppression): the count, and the text. */
function unwrapRepeated(msg: string): { count: number; text: string } | null {
  const m = /^message repeated (\d+) times: \[ ?(.*?)\]?$/.exec(msg);
  return m ? { count: +m[1], text: m[2] } : null;
}

/** Mutable bits of one line while it is read. */
interface Line {
  env: Envelope;
  ts: number;
  program: string | null;
  repeated: number;
}

function event(l: Line, kind: BindKind, attrs: Record<string, AttrValue>): LogEvent {
  const e = baseEvent('bind', l.ts, l.env.host, l.program, kind);
  if (l.repeated > 0) attrs.repeated = l.repeated;
  e.attrs = attrs;
  return e;
}

// ---------------------------------------------------------------------------------------------
// The client prefix and what follows it
// ---------------------------------------------------------------------------------------------

/**
 * `client @0x7f.. 192.0.2.1#53211 (example.com): view internal: <text>`, with `i` at `client `.
 */
function clientLine(l: Line, msg: string, i: number): ParseResult {
  const n = msg.length;
  let j = i + 7;
  if (msg.charCodeAt(j) === 64 /* @ */) {
    const sp = msg.indexOf(' ', j);
    if (sp < 0) return unparsed('client line ends after the client object id');
    j = sp + 1;
  }
  let rip: string | null = null;
  let rport: number | null = null;
  if (msg.startsWith('(no-peer)', j)) j += 9;
  else {
    let k = j;
    while (k < n) {
      const c = msg.charCodeAt(k);
      if (c === 35 /* # */ || c === 32) break;
      k++;
    }
    if (k >= n) return unparsed('client line without an address#port');
    rip = normalizeIp(msg.slice(j, k));
    if (rip === null) return unparsed('client address is not an IP address');
    if (msg.charCodeAt(k) === 35) {
      k++;
      const from = k;
      while (k < n && isDigit(msg.charCodeAt(k))) k++;
      rport = portAt(msg, from, k);
    }
    j = k;
  }
  // `/key <signer>` (TSIG or SIG(0) signed request)
  if (msg.startsWith('/key ', j)) {
    let k = j + 5;
    while (k < n && msg.charCodeAt(k) !== 32 && !(msg.charCodeAt(k) === 58 && msg.charCodeAt(k + 1) === 32)) k++;
    j = k;
  }
  // ` (<qname>)`: a name never holds a space (dns_name_format escapes it), so `): ` ends it.
  if (msg.charCodeAt(j) === 32 && msg.charCodeAt(j + 1) === 40) {
    const close = msg.indexOf('): ', j + 2);
    if (close < 0) return unparsed('client line with an unclosed (name)');
    j = close + 1;
  }
  if (msg.charCodeAt(j) !== 58 || msg.charCodeAt(j + 1) !== 32) return unparsed('client line without ": " after the address');
  j += 2;
  let view: string | null = null;
  if (msg.startsWith('view ', j)) {
    const c = msg.indexOf(': ', j + 5);
    if (c < 0) return unparsed('client line ends after the view name');
    view = msg.slice(j + 5, c);
    j = c + 2;
  }

  if (msg.startsWith('query: ', j)) return queryLine(l, msg, j + 7, rip, rport, view);
  if (msg.startsWith('rate limit ', j) || msg.startsWith('would rate limit ', j)) {
    return rateLimit(l, msg.slice(j), rip, rport, view);
  }
  const d = deniedLine(l, msg, j, rip, rport, view);
  if (d) return d;
  return clientNonEvent(msg, j);
}

/**
 * `example.com IN A +E(0)K (198.51.100.1)`, from after `query: `. Flags (ARM, "queries"):
 * `+`/`-` recursion desired, S signed, E(n) EDNS version n, T TCP, D DO bit, C CD bit,
 * V valid server cookie, K a cookie without a valid server cookie. Then the address the query
 * was sent to, and ` [ECS addr/source/scope]` when the client sent a client subnet.
 * 9.8 and older have no server address, 9.3 no flags.
 */
function queryLine(l: Line, msg: string, k: number, rip: string | null, rport: number | null, view: string | null): ParseResult {
  const n = msg.length;
  const s1 = msg.indexOf(' ', k);
  if (s1 < 0) return unparsed('query line ends after the name');
  const s2 = msg.indexOf(' ', s1 + 1);
  if (s2 < 0) return unparsed('query line ends after the class');
  let s3 = msg.indexOf(' ', s2 + 1);
  if (s3 < 0) s3 = n;
  const qname = msg.slice(k, s1);
  const qclass = msg.slice(s1 + 1, s2);
  const qtype = msg.slice(s2 + 1, s3);
  if (qname === '' || qclass === '' || qtype === '') return unparsed('query line with an empty name, class or type');

  let flags = '';
  let rd = false, signed = false, edns = false, tcp = false, dnssec = false, cd = false, cookie = false;
  let p = s3 + 1;
  const f0 = msg.charCodeAt(p);
  if (f0 === 43 /* + */ || f0 === 45 /* - */) {
    let fe = msg.indexOf(' ', p);
    if (fe < 0) fe = n;
    flags = msg.slice(p, fe);
    rd = f0 === 43;
    for (let q = p + 1; q < fe; q++) {
      switch (msg.charCodeAt(q)) {
        case 83: signed = true; break; // S
        case 69: edns = true; break; // E, E(0)
        case 84: tcp = true; break; // T
        case 68: dnssec = true; break; // D
        case 67: cd = true; break; // C
        case 86: case 75: cookie = true; break; // V, K
      }
    }
    p = fe + 1;
  }
  let lip: string | null = null;
  if (msg.charCodeAt(p) === 40 /* ( */) {
    const close = msg.indexOf(')', p);
    if (close < 0) return unparsed('query line with an unclosed server address');
    lip = normalizeIp(msg.slice(p + 1, close));
    p = close + 1;
  }
  const attrs: Record<string, AttrValue> = {
    qname, qtype, qclass, flags, rd, edns, tcp, dnssec, cd, cookie, signed,
  };
  if (view !== null) attrs.view = view;
  if (msg.startsWith(' [ECS ', p)) {
    const close = msg.indexOf(']', p);
    if (close > 0) attrs.ecs = msg.slice(p + 6, close);
  }
  const e = event(l, 'query', attrs);
  e.rip = rip;
  e.rport = rport;
  e.lip = lip;
  e.lport = 53;
  return ok(e);
}

/**
 * `query (cache) 'example.com/ANY/IN' denied`, `zone transfer 'example.com/AXFR/IN' denied`,
 * `update 'example.com/IN' denied`, `query 'x/A/IN' denied (allow-query-cache did not match)`,
 * `bad zone transfer request: 'example.com/IN': non-authoritative zone (NOTAUTH)`.
 * Null when the text is not a denial.
 */
function deniedLine(l: Line, msg: string, j: number, rip: string | null, rport: number | null, view: string | null): ParseResult | null {
  let what: string;
  let tuple: string | null = null;
  let reason: string | null = null;
  if (msg.startsWith('bad zone transfer request: ', j)) {
    // xfrout.c: `bad zone transfer request: '<zone>/<class>': <why>`
    const q1 = j + 27;
    const q2 = msg.indexOf("': ", q1 + 1);
    if (msg.charCodeAt(q1) !== 39 || q2 < 0) return unparsed('bad zone transfer request without a zone');
    what = 'zone transfer';
    tuple = msg.slice(q1 + 1, q2);
    reason = msg.slice(q2 + 3) || null;
  } else {
    // The first ` denied` that ends the text or is followed by ` (reason)`.
    let d = msg.indexOf(' denied', j);
    while (d >= 0) {
      const after = d + 7;
      if (after === msg.length) break;
      if (msg.startsWith(' (', after) && msg.charCodeAt(msg.length - 1) === 41) { reason = msg.slice(after + 2, -1); break; }
      d = msg.indexOf(' denied', after);
    }
    if (d < 0) return null;
    if (msg.charCodeAt(d - 1) === 39 /* ' */) {
      const q1 = msg.lastIndexOf(" '", d - 2);
      if (q1 < j) return unparsed('denial with an unopened quoted name');
      what = msg.slice(j, q1);
      tuple = msg.slice(q1 + 2, d - 1);
    } else what = msg.slice(j, d);
  }
  // `name/TYPE/CLASS` or `zone/CLASS`; a name may itself hold `/` (RFC 2317), so split from the right.
  let qname: string | null = null, qtype: string | null = null, qclass: string | null = null;
  if (tuple !== null) {
    const s2 = tuple.lastIndexOf('/');
    const s1 = s2 > 0 ? tuple.lastIndexOf('/', s2 - 1) : -1;
    // Types are upper case (`A`, `ANY`, `TYPE65534`); a zone with a `/` has lower-case labels there.
    if (s1 > 0 && /^[A-Z][A-Z0-9]*$/.test(tuple.slice(s1 + 1, s2))) {
      qname = tuple.slice(0, s1); qtype = tuple.slice(s1 + 1, s2); qclass = tuple.slice(s2 + 1);
    } else if (s2 > 0) {
      qname = tuple.slice(0, s2); qclass = tuple.slice(s2 + 1);
    } else qname = tuple;
  }
  const attrs: Record<string, AttrValue> = { what, qname, qtype, qclass, reason };
  if (view !== null) attrs.view = view;
  const e = event(l, 'denied', attrs);
  e.rip = rip;
  e.rport = rport;
  return ok(e);
}

/** Client messages that are not events: known ones are skipped, the rest left unparsed. */
const CLIENT_SKIPS: ReadonlyArray<readonly [string, string]> = [
  ['transfer of ', 'zone transfer progress'],
  ['zone transfer ', 'zone transfer progress'],
  ['received notify', 'notify'],
  ['notify ', 'notify'],
  ['refused notify', 'notify'],
  ['update', 'dynamic update'],
  ['signer ', 'dynamic update'],
  ['query failed', 'query error'],
  ['query (cache)', 'query acl check'],
  ['query ', 'query acl check'],
  ['recursion ', 'recursion acl check'],
  ['request has ', 'request signature'],
  ['request is ', 'request signature'],
  ['no matching view', 'view selection'],
  ['using view', 'view selection'],
  ['SIG(0)', 'request signature'],
  ['dropped request', 'dropped request'],
  ['message parsing failed', 'malformed request'],
  ['error sending response', 'send error'],
  ['recursive-clients', 'recursion quota'],
  ['no more recursive clients', 'recursion quota'],
  ['RFC 1918 response', 'resolver'],
  ['rpz ', 'rpz rewrite'],
  ['prefetch', 'resolver'],
  ['serve-stale', 'serve-stale'],
  ['sending notifies', 'notify'],
  ['allow-', 'acl check'],
  ['bad ', 'malformed request'],
  ['tcp ', 'tcp connection'],
  ['TCP ', 'tcp connection'],
  ['new TCP', 'tcp connection'],
];

function clientNonEvent(msg: string, j: number): ParseResult {
  for (const [prefix, reason] of CLIENT_SKIPS) if (msg.startsWith(prefix, j)) return skip(`client: ${reason}`);
  if (msg.endsWith(' approved')) return skip('client: acl approved');
  return unparsed('client message not recognised');
}

// ---------------------------------------------------------------------------------------------
// Response rate limiting (lib/dns/rrl.c make_log_buf)
// ---------------------------------------------------------------------------------------------

/**
 * One RRL message: `[*][would ]<verb> [drop |slip ][<rtype> ]response[s] to <cidr>[ for <name>[ <class>[ <type>]]][  (<hash>)]`.
 * The verb is `rate limit` for the per-response line (query-errors category, with the client
 * prefix), `limit`, `continue limiting` or `stop limiting` for the rate-limit category summaries.
 *   rate limit drop response to 192.0.2.0/24 for example.com IN ANY  (00800000)
 *   limit NXDOMAIN responses to 203.0.113.0/24 for example.net  (1a2b3c4d)
 */
const RRL = /^(\*)?(would )?(rate limit|limit|continue limiting|stop limiting) (?:(drop|slip) )?(?:(referral|NODATA|NXDOMAIN|all|error|[A-Za-z0-9_ ]+? error) )?responses? to (\S+?)(?: for (\S+)(?: ([A-Z][A-Z0-9]*))?(?: ([A-Z][A-Z0-9]*))?)?(?: +\(([0-9a-f]{8})\))?$/;

const RRL_VERBS: Record<string, string> = {
  'limit': 'limit', 'continue limiting': 'continue', 'stop limiting': 'stop',
};

function rateLimit(l: Line, text: string, rip: string | null, rport: number | null, view: string | null): ParseResult {
  const m = RRL.exec(text);
  if (!m) return unparsed('rate limit message not recognised');
  const [, , would, verb, result, rtype, prefix, qname, cls, type] = m;
  let action: string;
  if (verb === 'rate limit') {
    if (!result) return unparsed('rate limit message without drop or slip');
    action = result;
  } else action = RRL_VERBS[verb];
  if (would) action = 'would-' + action;
  let response = 'answer';
  if (rtype) response = rtype === 'referral' || rtype === 'all' ? rtype : rtype === 'NODATA' ? 'nodata' : rtype === 'NXDOMAIN' ? 'nxdomain' : 'error';
  // A referral/NODATA entry names a class but no type; NXDOMAIN neither.
  const attrs: Record<string, AttrValue> = {
    action,
    prefix,
    qname: qname && qname !== '(?)' ? qname : null,
    qtype: type ?? null,
    qclass: cls ?? null,
    response,
  };
  if (view !== null) attrs.view = view;
  const e = event(l, 'rate-limit', attrs);
  e.rip = rip;
  e.rport = rport;
  return ok(e);
}

// ---------------------------------------------------------------------------------------------
// EDNS fallback (lib/dns/resolver.c, edns-disabled category)
// ---------------------------------------------------------------------------------------------

/**
 *   success resolving 'ns1.example.com/AAAA' (in 'example.com'?) after reducing the advertised EDNS UDP packet size to 512 octets
 *   success resolving 'www.example.net/A' (in 'example.net'?) after disabling EDNS
 *   too many timeouts resolving 'example.org/A' (in 'example.org'?): disabling EDNS
 * Null when the message is about something else (qname minimisation, ...).
 */
const EDNS = /^(success|too many timeouts) resolving '([^']*)'(?: \(in '([^']*)'\?\))?(?: after|:) (.*)$/;

function ednsFallback(l: Line, text: string): ParseResult | null {
  const m = EDNS.exec(text);
  if (!m || m[4].indexOf('EDNS') < 0) return null;
  const [, outcome, tuple, zone, rest] = m;
  const slash = tuple.lastIndexOf('/');
  const size = /packet size to (\d+) octets/.exec(rest);
  const attrs: Record<string, AttrValue> = {
    qname: slash > 0 ? tuple.slice(0, slash) : tuple,
    qtype: slash > 0 ? tuple.slice(slash + 1) : null,
    zone: zone ?? null,
    size: size ? +size[1] : null,
    action: size ? 'reduce-size' : 'disable-edns',
    success: outcome === 'success',
  };
  const e = event(l, 'edns-fallback', attrs);
  // Some builds name the server that forced the fallback: `...: 192.0.2.53#53` or `from 192.0.2.53#53`.
  const srv = /(?:: | from )([0-9A-Fa-f:.]+)#(\d+)/.exec(rest);
  if (srv) {
    e.rip = normalizeIp(srv[1]);
    if (e.rip !== null) e.rport = toPort(srv[2]);
  }
  return ok(e);
}

// ---------------------------------------------------------------------------------------------
// Everything else named says
// ---------------------------------------------------------------------------------------------

/** Deliberate non-events by the start of the message. First match wins. */
const SKIPS: ReadonlyArray<readonly [string, string]> = [
  ['zone ', 'zone maintenance'],
  ['managed-keys-zone', 'managed keys'],
  ['resolver priming', 'resolver priming'],
  ['lame server', 'lame server'],
  ['error (', 'resolver error'],
  ['DNS format error', 'resolver error'],
  ['FORMERR', 'resolver error'],
  ['timed out resolving', 'resolver error'],
  ['shut down hung fetch', 'resolver error'],
  ['success resolving', 'resolver'],
  ['too many timeouts', 'resolver'],
  ['enforced delegation-only', 'resolver'],
  ['clients-per-query', 'resolver'],
  ['fetch', 'resolver'],
  ['validating', 'dnssec validation'],
  ['validator', 'dnssec validation'],
  ['no valid signature', 'dnssec validation'],
  ['no valid RRSIG', 'dnssec validation'],
  ['dnssec', 'dnssec'],
  ['keymgr', 'dnssec'],
  ['transfer of ', 'zone transfer progress'],
  ['received notify', 'notify'],
  ['sending notifies', 'notify'],
  ['notify ', 'notify'],
  ['starting BIND', 'lifecycle'],
  ['running', 'lifecycle'],
  ['built with', 'lifecycle'],
  ['----', 'lifecycle'],
  ['compiled ', 'lifecycle'],
  ['linked to ', 'lifecycle'],
  ['found ', 'lifecycle'],
  ['using ', 'lifecycle'],
  ['loading configuration', 'lifecycle'],
  ['reading built-in', 'lifecycle'],
  ['initializing', 'lifecycle'],
  ['adjusted limit', 'lifecycle'],
  ['max open files', 'lifecycle'],
  ['the working directory', 'lifecycle'],
  ['generating session key', 'lifecycle'],
  ['sizing zone task pool', 'lifecycle'],
  ['set up managed keys', 'lifecycle'],
  ['automatic empty zone', 'lifecycle'],
  ['configuring command channel', 'lifecycle'],
  ['command channel', 'lifecycle'],
  ["couldn't add command channel", 'lifecycle'],
  ['listening on', 'lifecycle'],
  ['no longer listening', 'lifecycle'],
  ['reloading', 'lifecycle'],
  ['reconfiguring', 'lifecycle'],
  ['scheduled loading', 'lifecycle'],
  ['all zones loaded', 'lifecycle'],
  ['any newly configured zones', 'lifecycle'],
  ['received control channel command', 'lifecycle'],
  ['stopping command channel', 'lifecycle'],
  ['shutting down', 'lifecycle'],
  ['exiting', 'lifecycle'],
  ['none:', 'lifecycle'],
  ['GeoIP', 'lifecycle'],
  ['dispatch', 'dispatch'],
  ['adb:', 'resolver'],
  ['dumping', 'control'],
  ['flushing', 'control'],
  ['RFC 1918', 'resolver'],
  ['rpz', 'rpz'],
];

function otherLine(l: Line, msg: string, i: number): ParseResult {
  const text = i === 0 ? msg : msg.slice(i);
  if (text.startsWith('success resolving ') || text.startsWith('too many timeouts resolving ')) {
    const r = ednsFallback(l, text);
    if (r) return r;
  }
  const c0 = text.charCodeAt(0);
  if (c0 === 42 /* * */ || text.startsWith('limit ') || text.startsWith('would ') || text.startsWith('continue limiting ') || text.startsWith('stop limiting ')) {
    if (/^\*?(?:would )?(?:limit|continue limiting|stop limiting) /.test(text)) return rateLimit(l, text, null, null, null);
  }
  if (seenCategory !== null && SKIP_CATEGORIES.has(seenCategory)) return skip(seenCategory);
  for (const [prefix, reason] of SKIPS) if (text.startsWith(prefix)) return skip(reason);
  if (text === '') return unparsed('empty named message');
  return unparsed('named message not recognised');
}

// ---------------------------------------------------------------------------------------------

function parseMessage(env: Envelope, ctx: ParseContext): ParseResult {
  let msg = env.msg;
  const l: Line = { env, ts: env.ts, program: env.program, repeated: 0 };
  let tagCategory: string | null = null;
  if (env.program !== null && CATEGORY_TAGS.has(env.program)) {
    if (env.host !== null) return skip('program tag is a BIND category name, but the line has a host');
    tagCategory = env.program;
    l.program = null;
  }
  if (msg.charCodeAt(0) === 109 /* m */ && msg.startsWith('message repeated ')) {
    const r = unwrapRepeated(msg);
    if (r) { l.repeated = r.count; msg = r.text; }
  }
  // `20-Nov-2026 09:30:01.123 ...` inside a syslog message: BIND's own stamp carries the year
  // and milliseconds, so it replaces a year-less BSD stamp. A stamp with a UTC offset
  // (RFC 3339, RFC 5424, the journal) is kept: the inner one is in the server's zone.
  if (isDigit(msg.charCodeAt(0)) && msg.charCodeAt(2) === 45 && env.form !== 'native') {
    const inner = parseEnvelope(msg, ctx);
    if (isEnvelopeError(inner)) {
      if (msg.charCodeAt(6) === 45) return unparsed(`BIND timestamp inside the message not readable: ${inner.error}`);
    } else if (inner.form === 'native') {
      if (env.form === 'bsd') l.ts = inner.ts;
      msg = inner.msg;
    }
  }
  const i = skipPrefixes(msg, 0);
  if (tagCategory !== null && seenCategory === null) seenCategory = tagCategory;
  if (msg.startsWith('client ', i)) return clientLine(l, msg, i);
  return otherLine(l, msg, i);
}

/** Words a BIND channel-file message can start with once its prefixes are gone. */
const NATIVE_STARTS = ['client ', 'success resolving ', 'too many timeouts resolving ', 'lame server resolving ', 'zone ', 'managed-keys-zone', 'resolver priming', 'limit ', 'stop limiting ', 'would limit '];

export const bind: SourceParser = {
  source: 'bind',
  matchesProgram: (program: string) =>
    program === 'named' || program === 'bind' || program === 'bind9' || program.startsWith('named-') || CATEGORY_TAGS.has(program),
  /**
   * `queries: info: client ...`, `security: error: client ...`, `client @0x...`, and a
   * severity-only prefix (`error: client ...`) when BIND-looking text follows it. The BIND
   * date itself would be the surest sign, but the sniffer only sees the message.
   */
  sniffNative(msg: string): boolean {
    if (msg.startsWith('client ') || msg.startsWith('queries: ')) return true;
    const colon = msg.indexOf(': ');
    if (colon <= 0 || colon > 24) return false;
    const tok = msg.slice(0, colon);
    if (CATEGORIES.has(tok)) return true;
    if (!isSeverity(tok)) return false;
    for (const s of NATIVE_STARTS) if (msg.startsWith(s, colon + 2)) return true;
    return false;
  },
  parseMessage,
};

export const parseLine = lineParser(bind);
