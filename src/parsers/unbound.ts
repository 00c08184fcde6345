/**
 * Unbound: the query and reply log (`log-queries`, `log-replies`) and local-zone actions
 * (`log-local-actions`). Everything else unbound says is skipped.
 *
 * Unbound writes `<type>: <text>` after its tag, where the type is `info`, `notice`, ... or,
 * with `log-tag-queryreply: yes`, `query` and `reply`. Through syslog the pid and thread come
 * first in the message (util/log.c):
 *   own logfile:  [1732094402] unbound[1234:0] info: 192.0.2.1 example.com. A IN
 *   syslog:       Nov 20 09:30:02 ns1 unbound: [1234:0] info: 192.0.2.1 example.com. A IN
 *
 * The texts (util/data/msgreply.c log_reply_info, util/log.c log_query_in,
 * services/localzone.c lz_inform_print, daemon/acl_list.c log_acl_action):
 *   query:   192.0.2.1 example.com. A IN
 *   reply:   192.0.2.1 example.com. A IN NOERROR 0.000000 0 45
 *            (rcode, seconds taken, 1 if answered from the cache, response size in bytes)
 *   reply:   192.0.2.1 - - - FORMERR - - -
 *   local:   example.com. refuse 192.0.2.1@40123 www.example.com. A IN   (zone, local-zone type, client@port, question)
 *   acl:     refused query from 192.0.2.1 port 40123 because of 192.0.2.0/24 refuse   (verbosity 4)
 *
 * Query and reply lines come one per query, so that path scans with indexOf.
 */
import type { AttrValue, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { counterAt, isIPv4Fast, normalizeIp, portAt, toPort } from './common.js';
import { lineParser } from './line.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';

/** Event kinds this parser produces. */
export type UnboundKind = 'query' | 'reply' | 'denied';

/** Local-zone types that turn the client away: `deny` drops the query, `refuse` answers REFUSED. */
const DENY_TYPES = new Set(['deny', 'refuse', 'always_deny', 'always_refuse', 'inform_deny']);

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Strip the root dot unbound writes after every name: `example.com.` → `example.com`, `.` stays. */
function bareName(s: string): string {
  return s.length > 1 && s.charCodeAt(s.length - 1) === 46 ? s.slice(0, -1) : s;
}

/** Could this token be an IP address as unbound's addr_to_str writes it? Cheap pre-check. */
function looksLikeIp(s: string): boolean {
  return isIPv4Fast(s) || s.indexOf(':') >= 0;
}

/** Non-negative integer in s[from, to), or -1. */
function intAt(s: string, from: number, to: number): number {
  if (to <= from) return -1;
  let v = 0;
  for (let k = from; k < to; k++) {
    const c = s.charCodeAt(k);
    if (!isDigit(c)) return -1;
    v = v * 10 + (c - 48);
  }
  return v;
}

function parseMessage(env: Envelope, _ctx: ParseContext): ParseResult {
  let msg = env.msg;
  let repeated = 0;
  if (msg.startsWith('message repeated ')) {
    const m = /^message repeated (\d+) times: \[ ?(.*?)\]?$/.exec(msg);
    if (m) { repeated = +m[1]; msg = m[2]; }
  }
  let i = 0;
  // `[1234:0] ` in front when unbound logs through syslog.
  if (msg.charCodeAt(0) === 91 /* [ */) {
    const close = msg.indexOf('] ');
    if (close > 0 && close < 24) i = close + 2;
  }
  const colon = msg.indexOf(': ', i);
  if (colon < 0 || colon - i > 20) return unparsed('unbound message without a type');
  const type = msg.slice(i, colon);
  const j = colon + 2;
  let r: ParseResult | null = null;
  if (type === 'info' || type === 'query' || type === 'reply') r = queryOrReply(env, msg, j, type);
  else if (type === 'debug' && (msg.startsWith('refused query from ', j) || msg.startsWith('dropped query from ', j))) r = aclAction(env, msg, j);
  if (r === null) return skip(`unbound ${TYPES.has(type) ? type : 'other'} message`);
  if (repeated > 0 && r.type === 'event' && r.event.attrs) r.event.attrs.repeated = repeated;
  return r;
}

const TYPES = new Set(['info', 'notice', 'debug', 'warning', 'error', 'fatal error', 'query', 'reply', 'assertion failure', 'operational']);

/** `192.0.2.1 example.com. A IN[ NOERROR 0.000000 0 45]` or a local-zone action, from j. Null if neither. */
function queryOrReply(env: Envelope, msg: string, j: number, type: string): ParseResult | null {
  const n = msg.length;
  const s1 = msg.indexOf(' ', j);
  if (s1 < 0) return null;
  const first = msg.slice(j, s1);
  if (!looksLikeIp(first)) return type === 'info' ? localAction(env, msg, j) : unparsed(`unbound ${type} line without a client address`);
  const rip = normalizeIp(first);
  if (rip === null) return type === 'info' ? null : unparsed(`unbound ${type} line without a client address`);
  const s2 = msg.indexOf(' ', s1 + 1);
  if (s2 < 0) return null;
  const s3 = msg.indexOf(' ', s2 + 1);
  if (s3 < 0) return null;
  let s4 = msg.indexOf(' ', s3 + 1);
  if (s4 < 0) s4 = n;
  const name = msg.slice(s1 + 1, s2);
  const qtype = msg.slice(s2 + 1, s3);
  const qclass = msg.slice(s3 + 1, s4);

  // log-queries: exactly four fields (a trailing space is tolerated).
  if (s4 >= n - 1 && type !== 'reply') {
    const e = baseEvent('unbound', env.ts, env.host, env.program, 'query');
    e.rip = rip;
    e.attrs = { qname: bareName(name), qtype, qclass };
    return ok(e);
  }
  if (type === 'query') return unparsed('unbound query line with extra fields');

  // log-replies: rcode, time, cached, size, then (log-destaddr) where it was sent.
  const s5 = msg.indexOf(' ', s4 + 1);
  if (s5 < 0) return type === 'reply' ? unparsed('unbound reply line ends after the rcode') : null;
  const s6 = msg.indexOf(' ', s5 + 1);
  if (s6 < 0) return null;
  const s7 = msg.indexOf(' ', s6 + 1);
  if (s7 < 0) return null;
  let s8 = msg.indexOf(' ', s7 + 1);
  if (s8 < 0) s8 = n;
  const rcode = msg.slice(s4 + 1, s5);
  const e = baseEvent('unbound', env.ts, env.host, env.program, 'reply');
  e.rip = rip;
  if (name === '-') {
    // `192.0.2.1 - - - FORMERR - - -`: the question could not be read.
    e.attrs = { qname: null, qtype: null, qclass: null, rcode, time: null, cached: null };
    return ok(e);
  }
  const time = parseFloat(msg.slice(s5 + 1, s6));
  const cached = intAt(msg, s6 + 1, s7);
  const size = counterAt(msg, s7 + 1, s8);
  // Eight fields after a client address are a reply whatever its type says: damaged numbers
  // make it the line's failure, not a skip.
  if (!Number.isFinite(time) || cached < 0 || size === null || Number.isNaN(size)) return unparsed('unbound reply line with a bad time, cache flag or size');
  const attrs: Record<string, AttrValue> = { qname: bareName(name), qtype, qclass, rcode, time, cached };
  // log-destaddr (1.19+) appends where the query arrived; not read here, the size stays the 8th field.
  e.bytesOut = size;
  e.attrs = attrs;
  return ok(e);
}

/**
 * `example.com. refuse 192.0.2.1@40123 www.example.com. A IN`: a local-zone answered or turned
 * the query away. Refusals and drops are `denied` events; other local answers are skipped, since
 * the query and reply lines carry them. Also read without the zone (`refused 192.0.2.1@40123 ...`).
 */
function localAction(env: Envelope, msg: string, j: number): ParseResult | null {
  const at = msg.indexOf('@', j);
  if (at < 0) return null;
  const addrStart = msg.lastIndexOf(' ', at) + 1;
  if (addrStart <= j) return null;
  const head = msg.slice(j, addrStart - 1);
  const sp = head.indexOf(' ');
  const zone = sp >= 0 ? head.slice(0, sp) : null;
  const action = sp >= 0 ? head.slice(sp + 1) : head;
  if (action.indexOf(' ') >= 0) return null;
  const rip = normalizeIp(msg.slice(addrStart, at));
  if (rip === null) return null;
  const pe = msg.indexOf(' ', at);
  if (pe < 0) return null;
  const port = portAt(msg, at + 1, pe);
  const q = msg.slice(pe + 1).split(' ');
  if (q.length < 3) return null;
  const denied = DENY_TYPES.has(action) || action === 'refused' || action === 'dropped' || action === 'denied';
  if (!denied) return skip(`local-zone ${action.length <= 24 ? action : 'other'} answer`);
  const e = baseEvent('unbound', env.ts, env.host, env.program, 'denied');
  e.rip = rip;
  e.rport = port;
  e.attrs = { qname: bareName(q[0]), qtype: q[1], qclass: q[2], action, zone: zone === null ? null : bareName(zone) };
  return ok(e);
}

/** `refused query from 192.0.2.1 port 40123 because of 192.0.2.0/24 refuse` (verbosity 4). */
function aclAction(env: Envelope, msg: string, j: number): ParseResult {
  const m = /^(refused|dropped) query from (\S+) port (\d+)(?: because of (\S+) (?:\(ACL on interface IP\) )?(\S+))?/.exec(msg.slice(j));
  if (!m) return unparsed('unbound acl message not recognised');
  const rip = normalizeIp(m[2]);
  if (rip === null) return unparsed('unbound acl message without a client address');
  const e = baseEvent('unbound', env.ts, env.host, env.program, 'denied');
  e.rip = rip;
  e.rport = toPort(m[3]);
  e.attrs = { qname: null, qtype: null, qclass: null, action: m[1], acl: m[4] ?? null, rule: m[5] ?? null };
  return ok(e);
}

export const unbound: SourceParser = {
  source: 'unbound',
  matchesProgram: (program: string) => program === 'unbound' || program === 'local-unbound',
  parseMessage,
};

export const parseLine = lineParser(unbound);
