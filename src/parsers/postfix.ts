/**
 * Postfix: the syslog lines of every daemon (smtpd, smtp, qmgr, cleanup, postscreen, ...) under
 * any instance and service tag (`postfix/smtpd`, `postfix/submission/smtpd`, `postfix-out/smtp`).
 *
 * The session is the queue id. It ties smtpd's `client=` line (client address and SASL account)
 * to cleanup's message-id, qmgr's size and the delivery agents' relay, which is how a delivery
 * is traced back to the account that submitted it.
 *
 * Dispatch is on the daemon (cached per program tag) and then on the first characters of the
 * message, compared in place at an offset; the only regular expression on the hot path reads a
 * delivery line in its usual field order in one linear pass. No string is kept that the event
 * does not hold.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { normalizeIp, portAt, toPort } from './common.js';
import { lineParser } from './line.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';

// ---------------------------------------------------------------------------------------------
// Program tags

const Daemon = { Generic: 0, Postscreen: 1, Tlsproxy: 2, Dnsblog: 3, Housekeeping: 4 } as const;
type Daemon = (typeof Daemon)[keyof typeof Daemon];

interface ProgramInfo {
  /** `postfix`, `postfix-out`: the multi-instance name, the tag before the first `/`. */
  instance: string;
  /** `smtpd`, `smtp`, `qmgr`: the tag after the last `/`. */
  daemon: string;
  /** `submission` when the tag names the submission or smtps service, else `smtp`. */
  service: string;
  kind: Daemon;
  housekeeping: string;
  unrecognised: string;
}

/** Daemons whose lines are counters, cache upkeep, start/stop and configuration warnings. */
const HOUSEKEEPING = new Set([
  'anvil', 'master', 'scache', 'verify', 'tlsmgr', 'trivial-rewrite', 'proxymap', 'postfix-script',
  'postlogd', 'postmap', 'postalias', 'postconf', 'postqueue', 'postdrop', 'sendmail', 'showq', 'flush',
  'postmulti', 'postlog', 'set-permissions', 'post-install', 'spawn',
]);

const programs = new Map<string, ProgramInfo>();

function programInfo(program: string): ProgramInfo {
  let p = programs.get(program);
  if (p) return p;
  const slash = program.indexOf('/');
  const daemon = program.slice(program.lastIndexOf('/') + 1);
  const kind = daemon === 'postscreen' ? Daemon.Postscreen
    : daemon === 'tlsproxy' ? Daemon.Tlsproxy
      : daemon === 'dnsblog' ? Daemon.Dnsblog
        : HOUSEKEEPING.has(daemon) ? Daemon.Housekeeping : Daemon.Generic;
  p = {
    instance: slash < 0 ? program : program.slice(0, slash),
    daemon,
    service: /submission|smtps/.test(program) ? 'submission' : 'smtp',
    kind,
    housekeeping: `postfix ${daemon.slice(0, 24)} housekeeping`,
    unrecognised: `postfix ${daemon.slice(0, 24)}: message not recognised`,
  };
  if (programs.size > 1000) programs.clear();
  programs.set(program, p);
  return p;
}

/** `postfix/...` or `postfix-<instance>/...`; a bare `postfix-foo` tag is some other program. */
function matchesProgram(program: string): boolean {
  if (!at(program, 0, 'postfix')) return false;
  const c = program.charCodeAt(7);
  return c === 47 /* / */ || (c === 45 /* - */ && program.indexOf('/', 8) > 8);
}

// ---------------------------------------------------------------------------------------------
// Scanners. Their results live in module-level scratch variables so that the hot path allocates
// only the strings it keeps.

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * Does s hold lit at i? `String.prototype.startsWith` checks on every call whether its argument
 * is a RegExp; comparing the characters in place skips that.
 */
function at(s: string, i: number, lit: string): boolean {
  const n = lit.length;
  if (i < 0 || i + n > s.length) return false;
  for (let k = 0; k < n; k++) if (s.charCodeAt(i + k) !== lit.charCodeAt(k)) return false;
  return true;
}

let aName = '';
let aIp: string | null = null;
let aPort: number | null = null;
let aRaw = '';
let aEnd = 0;

/**
 * Read `name[address]`, `name[address]:port` or postscreen's `[address]:port` at i (not past end).
 * The address may be IPv6, `unknown`, or a socket path (`private/dovecot-lmtp`): aIp is then null.
 */
function readAddr(s: string, i: number, end = s.length): boolean {
  const lb = s.indexOf('[', i);
  if (lb < 0 || lb >= end) return false;
  // The name is one token: `from local; from=<...> helo=<[192.0.2.1]>` is not an address.
  const sp = s.indexOf(' ', i);
  if (sp >= 0 && sp < lb) return false;
  const rb = s.indexOf(']', lb + 1);
  if (rb < 0 || rb >= end) return false;
  aName = s.slice(i, lb);
  aRaw = s.slice(lb + 1, rb);
  aIp = normalizeIp(aRaw);
  aPort = null;
  let j = rb + 1;
  if (s.charCodeAt(j) === 58 && isDigit(s.charCodeAt(j + 1))) {
    let k = j + 1;
    while (k < end && isDigit(s.charCodeAt(k))) k++;
    aPort = portAt(s, j + 1, k);
    j = k;
  }
  aEnd = j;
  return true;
}

const clientName = (name: string): string | null => (name === '' || name === 'unknown' ? null : name);

let kS = 0, kE = 0, vS = 0, vE = 0;

function isKeyChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || isDigit(c) || c === 95 || c === 45 || c === 46;
}

/**
 * The next `key=value` or `key=<value>` at or after i, separated by `, ` or spaces, as in
 * `to=<jan@example.com>, relay=mx.example.net[192.0.2.25]:25, delay=1.2` and
 * `from=<> to=<> proto=ESMTP helo=<x>`. Sets kS/kE and vS/vE (angle brackets excluded) and
 * returns the index after the value, or -1 at the first thing that is not a pair.
 */
function nextKv(s: string, i: number, end: number): number {
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c !== 32 && c !== 44) break;
    i++;
  }
  const k0 = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 61 /* = */) break;
    if (!isKeyChar(c)) return -1;
    i++;
  }
  if (i >= end || i === k0) return -1;
  kS = k0; kE = i; i++;
  if (s.charCodeAt(i) === 60 /* < */) {
    const gt = s.indexOf('>', i + 1);
    vS = i + 1;
    if (gt < 0 || gt >= end) { vE = end; return end; }
    vE = gt;
    return gt + 1;
  }
  vS = i;
  while (i < end) {
    const c = s.charCodeAt(i);
    if (c === 44 || c === 32) break;
    i++;
  }
  vE = i;
  return i;
}

const keyIs = (s: string, name: string) => kE - kS === name.length && at(s, kS, name);
const val = (s: string) => s.slice(vS, vE);

/** Decimal number in s[i, end), or null. */
function num(s: string, i: number, end: number): number | null {
  let v = 0, digits = 0, frac = 0, scale = 1;
  let k = i;
  for (; k < end; k++) {
    const c = s.charCodeAt(k);
    if (isDigit(c)) {
      if (frac) { scale /= 10; v += (c - 48) * scale; } else v = v * 10 + (c - 48);
      digits++;
    } else if (c === 46 && !frac) frac = 1;
    else return null;
  }
  return digits ? (frac ? Math.round(v * 1e6) / 1e6 : v) : null;
}

/**
 * The queue id at the start of s when it is followed by `: `: the short hex form (`3F0A51C2B`)
 * or the long form of `enable_long_queue_ids` (`4Xyz1c2D3fz9Bq`). Returns its length or 0.
 */
function queueIdLength(s: string): number {
  let i = 0, hex = true, digit = false;
  const n = Math.min(s.length, 40);
  for (; i < n; i++) {
    const c = s.charCodeAt(i);
    if (isDigit(c)) { digit = true; continue; }
    if (c >= 65 && c <= 70) continue;
    if ((c >= 71 && c <= 90) || (c >= 97 && c <= 122)) { hex = false; continue; }
    break;
  }
  if (s.charCodeAt(i) !== 58 || s.charCodeAt(i + 1) !== 32) return 0;
  if (hex ? i >= 6 : i >= 10 && digit) return i;
  return 0;
}

// The reply scanner's results: `554 5.7.1 <x@example.com>: Recipient address rejected: ...`.
let rCode: number | null = null;
let rDsn: string | null = null;
let rReason: string | null = null;
let rStage: string | null = null;

const MAX_TEXT = 200;
const clip = (s: string, i: number, end: number) => s.slice(i, Math.min(end, i + MAX_TEXT));

/**
 * Split an SMTP reply into code, enhanced status and text; a leading `<address>: ` is dropped so
 * the reason reads `Recipient address rejected: User unknown`. With `inReply`, a trailing
 * `(in reply to RCPT TO command)` becomes rStage.
 */
function readReply(s: string, i: number, end: number, inReply = false): void {
  rCode = null; rDsn = null; rStage = null;
  while (i < end && s.charCodeAt(i) === 32) i++;
  if (isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 1)) && isDigit(s.charCodeAt(i + 2)) &&
    (s.charCodeAt(i + 3) === 32 || s.charCodeAt(i + 3) === 45) && i + 3 < end) {
    rCode = (s.charCodeAt(i) - 48) * 100 + (s.charCodeAt(i + 1) - 48) * 10 + (s.charCodeAt(i + 2) - 48);
    i += 4;
  }
  // enhanced status code: class.subject.detail, e.g. 5.7.1, 4.7.25, 5.12.345
  if ((s.charCodeAt(i) === 50 || s.charCodeAt(i) === 52 || s.charCodeAt(i) === 53) && s.charCodeAt(i + 1) === 46) {
    let k = i + 2, dots = 0;
    while (k < end && (isDigit(s.charCodeAt(k)) || s.charCodeAt(k) === 46)) { if (s.charCodeAt(k) === 46) dots++; k++; }
    if (dots === 1 && (k === end || s.charCodeAt(k) === 32)) { rDsn = s.slice(i, k); i = k + 1; }
  }
  if (s.charCodeAt(i) === 60) {
    const gt = s.indexOf('>: ', i);
    if (gt > 0 && gt < end) i = gt + 3;
  } else if (s.charCodeAt(i) === 58 && s.charCodeAt(i + 1) === 32) i += 2;
  if (inReply && s.charCodeAt(end - 1) === 41 /* ) */) {
    const p = s.lastIndexOf(' (in reply to ', end);
    if (p >= i && at(s, end - 9, ' command)')) {
      rStage = s.slice(p + 14, end - 9);
      end = p;
    }
  }
  rReason = i < end ? clip(s, i, end) : null;
}

// ---------------------------------------------------------------------------------------------
// Events

function mk(env: Envelope, info: ProgramInfo, kind: string, session: string | null): LogEvent {
  const e = baseEvent('postfix', env.ts, env.host, env.program, kind);
  e.session = session;
  e.attrs = { instance: info.instance, daemon: info.daemon, service: info.service };
  return e;
}

/** The address just read is the SMTP client's. */
function withClient(e: LogEvent): LogEvent {
  e.rip = aIp;
  e.rport = aPort;
  (e.attrs as Record<string, AttrValue>).clientName = clientName(aName);
  return e;
}

/** The address just read is the remote server's (the relay, for smtp and lmtp). */
function withRelay(e: LogEvent): LogEvent {
  e.rip = aIp;
  e.rport = aPort;
  (e.attrs as Record<string, AttrValue>).relay = aName || null;
  return e;
}

const SKIP_DIAGNOSTIC = skip('postfix diagnostic (warning, fatal, panic or error)');
const SKIP_STATISTICS = skip('postfix statistics');
const SKIP_HOSTNAME = skip('postfix hostname does not resolve to the client address');
const SKIP_TLS_SETUP = skip('postfix TLS setup detail');
const SKIP_EHLO = skip('postfix EHLO keyword filtering');
const SKIP_PIX = skip('postfix PIX workaround notice');
const SKIP_STILL_DELIVERING = skip('postfix qmgr: message still being delivered');
const SKIP_POSTSUPER_SUMMARY = skip('postfix postsuper summary');
const SKIP_POSTSCREEN_CACHE = skip('postfix cache cleanup');
const SKIP_VETO = skip('postfix postscreen allowlist veto');

// Policy actions that stop or hold a message (kind `reject`); every other action is a `check`.
const BLOCKING_ACTIONS = [
  'reject', 'reject_warning', 'milter-reject', 'discard', 'milter-discard', 'hold', 'milter-hold',
  'defer', 'defer_if_permit', 'defer_if_reject', 'proxy-reject', 'milter-tempfail', 'bounce',
];
const CHECK_ACTIONS = ['warning', 'info', 'prepend', 'replace', 'redirect', 'filter', 'proxy-accept', 'bcc', 'strip', 'ignore', 'dunno', 'ok'];
const ACTIONS = [...BLOCKING_ACTIONS, ...CHECK_ACTIONS];
const BLOCKING = new Set(BLOCKING_ACTIONS);

let actName = '';

/**
 * `reject`, `milter-reject`, `prepend` ... at i, followed by `: `? Sets actName (a constant for
 * the known actions, so nothing is allocated) and returns the index of the colon, or -1.
 */
function actionEnd(s: string, i: number): number {
  let k = i;
  while (k < s.length && k - i < 32) {
    const c = s.charCodeAt(k);
    if ((c >= 97 && c <= 122) || c === 45 || c === 95) { k++; continue; }
    break;
  }
  if (k === i || s.charCodeAt(k) !== 58 || s.charCodeAt(k + 1) !== 32) return -1;
  const len = k - i;
  for (const name of ACTIONS) {
    if (name.length === len && at(s, i, name)) { actName = name; return k; }
  }
  // milter-header-redirect and whatever else a milter names its action
  if (len > 7 && at(s, i, 'milter-')) { actName = s.slice(i, k); return k; }
  return -1;
}

/** Start of the `; from=<...> to=<...> proto=ESMTP helo=<...>` tail, or -1. */
function kvTail(s: string, from: number): number {
  let t = s.lastIndexOf('; from=');
  if (t < from) t = s.lastIndexOf('; to=');
  if (t < from) t = s.lastIndexOf('; proto=');
  if (t < from) t = s.lastIndexOf('; helo=');
  return t >= from ? t : -1;
}

/**
 * A policy action, at i (after the queue id or `NOQUEUE: `):
 *   reject: RCPT from mail.example.net[192.0.2.7]: 554 5.7.1 <x@example.com>: Relay access denied; from=<a@example.net> to=<x@example.com> proto=ESMTP helo=<mail.example.net>
 *   milter-reject: END-OF-MESSAGE from mail.example.net[192.0.2.7]: 5.7.1 Spam; from=<...> to=<...> proto=ESMTP helo=<...>
 *   reject: header Subject: win from mail.example.net[192.0.2.7]; from=<...> to=<...> proto=ESMTP helo=<...>: 5.7.1 go away
 *   proxy-reject: END-OF-MESSAGE: 554 5.7.0 Reject; from=<...> to=<...> proto=SMTP helo=<...>
 *   reject: RCPT from [192.0.2.7]:4984: 550 5.7.1 Service unavailable; from=<...>, to=<...>, proto=ESMTP, helo=<...>   (postscreen)
 */
function action(s: string, i: number, session: string | null, env: Envelope, info: ProgramInfo, kind?: string): ParseResult {
  const colon = actionEnd(s, i);
  if (colon < 0) return unparsed(info.unrecognised);
  const act = actName;
  const e = mk(env, info, kind ?? (BLOCKING.has(act) ? 'reject' : 'check'), session);
  const a = e.attrs as Record<string, AttrValue>;
  a.action = act;
  const p = colon + 2;
  const sp = s.indexOf(' ', p);
  const tail = kvTail(s, p);
  const textEnd = tail >= 0 ? tail : s.length;
  let textStart = -1;
  let trailing = -1;
  if (sp > p && at(s, sp + 1, 'from ')) {
    // STAGE from host[ip]: reply
    a.stage = s.slice(p, sp);
    if (!readAddr(s, sp + 6, textEnd)) return unparsed('postfix policy action without a client address');
    withClient(e);
    textStart = s.charCodeAt(aEnd) === 58 ? aEnd + 1 : aEnd;
  } else if (sp > p && (at(s, p, 'header ') || at(s, p, 'body '))) {
    // header/body checks: the client comes last, just before the `;` tail
    const isHeader = s.charCodeAt(p) === 104;
    a.stage = isHeader ? 'header' : 'body';
    if (isHeader) {
      const hc = s.indexOf(':', sp + 1);
      if (hc > sp && hc < textEnd) a.header = s.slice(sp + 1, Math.min(hc, sp + 1 + 64));
    }
    const f = s.lastIndexOf(' from ', textEnd);
    if (f > p && readAddr(s, f + 6, textEnd)) withClient(e);
    trailing = 1;
  } else if (sp > p && s.charCodeAt(sp - 1) === 58) {
    // proxy-accept / proxy-reject: `END-OF-MESSAGE: reply`
    a.stage = s.slice(p, sp - 1);
    textStart = sp + 1;
  } else {
    return unparsed('postfix policy action in an unknown form');
  }
  if (textStart >= 0) {
    readReply(s, textStart, textEnd);
    a.code = rCode;
    a.dsn = rDsn;
    a.reason = rReason;
  }
  let j = tail >= 0 ? tail + 1 : s.length;
  while ((j = nextKv(s, j, s.length)) >= 0) {
    if (keyIs(s, 'from')) a.from = val(s);
    else if (keyIs(s, 'to')) a.to = val(s);
    else if (keyIs(s, 'helo')) a.helo = val(s);
    else if (keyIs(s, 'proto')) a.proto = val(s);
    if (trailing > 0 && s.charCodeAt(j) === 58 && s.charCodeAt(j + 1) === 32) {
      // header/body checks: `helo=<...>: optional text` is the action's own text
      readReply(s, j + 2, s.length);
      a.code = rCode;
      a.dsn = rDsn;
      a.reason = rReason;
      trailing = 0;
      break;
    }
  }
  if (trailing > 0) a.reason = null;
  return ok(e);
}

// `STAGE[ (N bytes)] from host[ip]`: lost connection / timeout / pipelining / too many errors.
let sStage: string | null = null;
let sBytes: number | null = null;

function stageFrom(s: string, i: number): boolean {
  const sp = s.indexOf(' ', i);
  if (sp <= i) return false;
  sStage = s.slice(i, sp);
  sBytes = null;
  let j = sp + 1;
  if (s.charCodeAt(j) === 40 /* ( */) {
    const close = s.indexOf(' bytes) ', j);
    if (close < 0) return false;
    sBytes = num(s, j + 1, close);
    j = close + 8;
  }
  if (!at(s, j, 'from ')) return false;
  return readAddr(s, j + 5);
}

function afterStage(s: string, i: number, kind: string, error: string | null, env: Envelope, info: ProgramInfo, session: string | null): ParseResult {
  if (!stageFrom(s, i)) return unparsed(info.unrecognised);
  const e = withClient(mk(env, info, kind, session));
  const a = e.attrs as Record<string, AttrValue>;
  if (error) a.error = error;
  a.stage = sStage;
  if (sBytes !== null) a.dataBytes = sBytes;
  return ok(e);
}

/**
 * Store one `name=good[/total]` counter. The usual command names are written as named
 * properties (fast stores, keys not allocated); others fall back to a computed key.
 */
function setCounter(a: Record<string, AttrValue>, s: string, k0: number, k1: number, good: number, total: number): void {
  const failed = total >= 0 ? total - good : -1;
  switch (k1 - k0) {
    case 4:
      switch (s.charCodeAt(k0)) {
        case 104: if (at(s, k0, 'helo')) { a.helo = good; if (failed >= 0) a.heloFailed = failed; return; } break;
        case 101:
          if (at(s, k0, 'ehlo')) { a.ehlo = good; if (failed >= 0) a.ehloFailed = failed; return; }
          if (at(s, k0, 'etrn')) { a.etrn = good; if (failed >= 0) a.etrnFailed = failed; return; }
          break;
        case 97: if (at(s, k0, 'auth')) { a.auth = good; if (failed >= 0) a.authFailed = failed; return; } break;
        case 109: if (at(s, k0, 'mail')) { a.mail = good; if (failed >= 0) a.mailFailed = failed; return; } break;
        case 114:
          if (at(s, k0, 'rcpt')) { a.rcpt = good; if (failed >= 0) a.rcptFailed = failed; return; }
          if (at(s, k0, 'rset')) { a.rset = good; if (failed >= 0) a.rsetFailed = failed; return; }
          break;
        case 100: if (at(s, k0, 'data')) { a.data = good; if (failed >= 0) a.dataFailed = failed; return; } break;
        case 98: if (at(s, k0, 'bdat')) { a.bdat = good; if (failed >= 0) a.bdatFailed = failed; return; } break;
        case 110: if (at(s, k0, 'noop')) { a.noop = good; if (failed >= 0) a.noopFailed = failed; return; } break;
        case 113: if (at(s, k0, 'quit')) { a.quit = good; if (failed >= 0) a.quitFailed = failed; return; } break;
        case 118: if (at(s, k0, 'vrfy')) { a.vrfy = good; if (failed >= 0) a.vrfyFailed = failed; return; } break;
      }
      break;
    case 8:
      if (at(s, k0, 'commands')) { a.commands = good; if (failed >= 0) a.commandsFailed = failed; return; }
      if (at(s, k0, 'starttls')) { a.starttls = good; if (failed >= 0) a.starttlsFailed = failed; return; }
      if (at(s, k0, 'xforward')) { a.xforward = good; if (failed >= 0) a.xforwardFailed = failed; return; }
      break;
  }
  const key = s.slice(k0, k1);
  a[key] = good;
  if (failed >= 0) a[key + 'Failed'] = failed;
}

// `disconnect from host[ip] ehlo=1 auth=0/1 mail=1 rcpt=1 data=1 quit=1 commands=5/6`
function disconnect(s: string, at: number, env: Envelope, info: ProgramInfo, session: string | null): ParseResult {
  if (!readAddr(s, at)) return unparsed(info.unrecognised);
  const e = withClient(mk(env, info, 'disconnect', session));
  const a = e.attrs as Record<string, AttrValue>;
  const n = s.length;
  let j = aEnd;
  while (j < n) {
    if (s.charCodeAt(j) === 32) j++;
    // Counter names are a few letters: a character loop beats an indexOf call here.
    let eq = j;
    while (eq < n && s.charCodeAt(eq) >= 97) eq++;
    if (eq === j || s.charCodeAt(eq) !== 61) break;
    let k = eq + 1, good = 0, total = -1, digits = 0;
    for (; k < n; k++) {
      const c = s.charCodeAt(k);
      if (isDigit(c)) { if (total < 0) good = good * 10 + c - 48; else total = total * 10 + c - 48; digits++; }
      else if (c === 47 && total < 0) total = 0;
      else break;
    }
    if (digits === 0 || (k < n && s.charCodeAt(k) !== 32)) break;
    setCounter(a, s, j, eq, good, total);
    j = k;
  }
  return ok(e);
}

/**
 * `Anonymous TLS connection established from host[ip]: TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256/256 bits)`
 * (smtpd) or `... established to host[ip]:25: ...` (smtp, lmtp).
 */
function tlsEstablished(s: string, word: number, env: Envelope, info: ProgramInfo, session: string | null): ParseResult {
  const p = word + 28; // ' TLS connection established '
  const out = at(s, p, 'to ');
  if (!out && !at(s, p, 'from ')) return unparsed(info.unrecognised);
  if (!readAddr(s, p + (out ? 3 : 5))) return unparsed(info.unrecognised);
  const e = mk(env, info, 'tls', session);
  if (out) withRelay(e); else withClient(e);
  const a = e.attrs as Record<string, AttrValue>;
  a.direction = out ? 'out' : 'in';
  a.trust = s.charCodeAt(0) === 65 ? 'anonymous' : s.charCodeAt(0) === 85 ? 'untrusted' : s.charCodeAt(0) === 84 ? 'trusted' : 'verified';
  const v = aEnd + 2;
  const w = s.indexOf(' with cipher ', v);
  if (w > v) {
    a.tlsVersion = s.slice(v, w);
    const c = w + 13;
    let ce = s.indexOf(' ', c);
    if (ce < 0) ce = s.length;
    a.cipher = s.slice(c, ce);
  }
  return ok(e);
}

/** `<verb> host[ip](:port): text` lines of the SMTP client and server about TLS and connections. */
function peerError(s: string, at: number, kind: string, error: string, relay: boolean, env: Envelope, info: ProgramInfo, session: string | null): ParseResult {
  if (!readAddr(s, at)) return unparsed(info.unrecognised);
  const e = mk(env, info, kind, session);
  if (relay) withRelay(e); else withClient(e);
  const a = e.attrs as Record<string, AttrValue>;
  a.error = error;
  const t = s.charCodeAt(aEnd) === 58 ? aEnd + 1 : aEnd;
  readReply(s, t, s.length);
  a.code = rCode;
  a.reason = rReason;
  return ok(e);
}

/**
 * Lines without a queue id. Most come from smtpd; the TLS and `connect to` lines from smtp/lmtp.
 */
function noQueue(s: string, off: number, env: Envelope, info: ProgramInfo): ParseResult {
  const c = s.charCodeAt(off);
  switch (c) {
    case 99: // c
      if (at(s, off, 'connect from ')) {
        if (!readAddr(s, off + 13)) return unparsed(info.unrecognised);
        return ok(withClient(mk(env, info, 'connect', null)));
      }
      // `connect to mx.example.net[192.0.2.25]:25: Connection timed out`
      if (at(s, off, 'connect to ')) return peerError(s, off + 11, 'relay-error', 'connect', true, env, info, null);
      if (at(s, off, 'certificate verification failed for ')) return peerError(s, off + 36, 'tls-error', 'certificate', true, env, info, null);
      break;
    case 100: // d
      if (at(s, off, 'disconnect from ')) return disconnect(s, off + 16, env, info, null);
      if (at(s, off, 'discarding EHLO keywords')) return SKIP_EHLO;
      break;
    case 108: // l
      if (at(s, off, 'lost connection after ')) return afterStage(s, off + 22, 'lost-connection', null, env, info, null);
      break;
    case 116: // t
      if (at(s, off, 'timeout after ')) return afterStage(s, off + 14, 'timeout', null, env, info, null);
      if (at(s, off, 'too many errors after ')) return afterStage(s, off + 22, 'protocol-error', 'too-many-errors', env, info, null);
      break;
    case 105: // i
      if (at(s, off, 'improper command pipelining after ')) return afterStage(s, off + 34, 'protocol-error', 'improper-pipelining', env, info, null);
      break;
    case 98: // b
      if (at(s, off, 'bare <LF> received after ')) return afterStage(s, off + 25, 'protocol-error', 'bare-lf', env, info, null);
      break;
    case 119: // w
      if (at(s, off, 'warning: ')) return warning(s, off + 9, env, info, null);
      break;
    case 102: case 112: case 101: // fatal: panic: error:
      if (at(s, off, 'fatal: ') || at(s, off, 'panic: ') || at(s, off, 'error: ')) return SKIP_DIAGNOSTIC;
      if (at(s, off, 'proxy-')) return action(s, off, null, env, info);
      break;
    case 115: // s
      if (at(s, off, 'statistics: ')) return SKIP_STATISTICS;
      if (at(s, off, 'setting up TLS connection ')) return SKIP_TLS_SETUP;
      break;
    case 83: // S
      if (at(s, off, 'SSL_accept error from ')) return peerError(s, off + 22, 'tls-error', 'ssl-accept', false, env, info, null);
      if (at(s, off, 'SSL_connect error to ')) return peerError(s, off + 21, 'tls-error', 'ssl-connect', true, env, info, null);
      break;
    case 65: case 85: case 84: case 86: { // Anonymous/Untrusted/Trusted/Verified TLS connection established
      const sp = s.indexOf(' ', off);
      if (sp > 0 && at(s, sp, ' TLS connection established ')) return tlsEstablished(s, sp, env, info, null);
      break;
    }
    case 78: // N
      if (at(s, off, 'NOQUEUE: ')) {
        const r = off + 9;
        if (actionEnd(s, r) > 0) return action(s, r, null, env, info);
        return noQueue(s, r, env, info);
      }
      break;
  }
  return unparsed(info.unrecognised);
}

/** `warning: ...` lines: the few that name a client are events, the rest are diagnostics. */
function warning(s: string, p: number, env: Envelope, info: ProgramInfo, session: string | null): ParseResult {
  // `warning: unknown[192.0.2.1]:1234: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=jan@example.com`
  if (readAddr(s, p) && at(s, aEnd, ': SASL ')) {
    const e = withClient(mk(env, info, 'sasl-fail', session));
    const a = e.attrs as Record<string, AttrValue>;
    const m = aEnd + 7;
    const sp = s.indexOf(' ', m);
    if (sp > m) a.method = s.slice(m, sp);
    const colon = s.indexOf('failed:', m);
    let end = s.length;
    const u = s.lastIndexOf(', sasl_username=');
    if (u > m) {
      e.account = s.slice(u + 16) || null;
      end = u;
    }
    if (colon > 0 && colon < end) {
      let r = colon + 7;
      while (s.charCodeAt(r) === 32) r++;
      a.reason = r < end ? clip(s, r, end) : null;
    }
    return ok(e);
  }
  // `warning: non-SMTP command from unknown[192.0.2.1]: GET / HTTP/1.1`
  if (at(s, p, 'non-SMTP command from ')) {
    if (!readAddr(s, p + 22)) return unparsed(info.unrecognised);
    const e = withClient(mk(env, info, 'protocol-error', session));
    (e.attrs as Record<string, AttrValue>).error = 'non-smtp-command';
    return ok(e);
  }
  // `warning: Connection rate limit exceeded: 31 from host[192.0.2.1] for service smtpd`
  const lim = s.indexOf(' limit exceeded: ', p);
  if (lim > p && lim - p < 64) {
    const f = s.indexOf(' from ', lim);
    if (f > 0 && readAddr(s, f + 6)) {
      const e = withClient(mk(env, info, 'rate-limit', session));
      const a = e.attrs as Record<string, AttrValue>;
      a.limit = s.slice(p, lim);
      a.count = num(s, lim + 17, f);
      if (at(s, aEnd, ' for service ')) a.limitService = s.slice(aEnd + 13);
      return ok(e);
    }
  }
  if (at(s, p, 'hostname ')) return SKIP_HOSTNAME;
  return SKIP_DIAGNOSTIC;
}

/** Lines after `QUEUEID: `. */
function withQueueId(s: string, q: number, env: Envelope, info: ProgramInfo): ParseResult {
  const session = s.slice(0, q);
  const r = q + 2;
  const n = s.length;
  const c = s.charCodeAt(r);
  switch (c) {
    case 116: // t
      if (at(s, r, 'to=')) return delivery(s, r, session, env, info);
      break;
    case 99: // c
      if (at(s, r, 'client=')) return client(s, r + 7, session, env, info);
      if (at(s, r, 'conversation with ')) {
        // `conversation with mx.example.net[192.0.2.25] timed out while receiving the initial server greeting`
        if (!readAddr(s, r + 18)) break;
        const e = withRelay(mk(env, info, 'relay-error', session));
        const a = e.attrs as Record<string, AttrValue>;
        a.error = 'timeout';
        if (at(s, aEnd, ' timed out while ')) a.stage = s.slice(aEnd + 17, Math.min(n, aEnd + 17 + 64));
        return ok(e);
      }
      break;
    case 102: // f
      if (at(s, r, 'from=')) {
        // qmgr: `from=<jan@example.com>, size=4512, nrcpt=2 (queue active)` or `from=<>, status=expired, returned to sender`
        const e = mk(env, info, 'queued', session);
        const a = e.attrs as Record<string, AttrValue>;
        let j = r;
        while ((j = nextKv(s, j, n)) >= 0) {
          if (keyIs(s, 'from')) a.from = val(s);
          else if (keyIs(s, 'size')) a.size = num(s, vS, vE);
          else if (keyIs(s, 'nrcpt')) a.nrcpt = num(s, vS, vE);
          else if (keyIs(s, 'status')) { a.status = val(s); e.kind = a.status === 'expired' ? 'expired' : 'queue-status'; }
        }
        return ok(e);
      }
      break;
    case 109: // m
      if (at(s, r, 'message-id=')) return messageId(s, r + 11, false, session, env, info);
      break;
    case 114: // r
      if (r + 7 === n && at(s, r, 'removed')) return ok(mk(env, info, 'removed', session));
      if (at(s, r, 'resent-message-id=')) return messageId(s, r + 18, true, session, env, info);
      if (r + 8 === n && at(s, r, 'requeued')) return ok(mk(env, info, 'requeued', session));
      if (at(s, r, 'released from hold')) return ok(mk(env, info, 'released', session));
      break;
    case 115: case 112: { // sender/postmaster ... notification: QUEUEID
      const nt = s.indexOf(' notification: ', r);
      if (nt > 0 && (at(s, r, 'sender ') || at(s, r, 'postmaster '))) {
        const e = mk(env, info, 'bounce', session);
        const a = e.attrs as Record<string, AttrValue>;
        const sender = c === 115;
        a.recipient = sender ? 'sender' : 'postmaster';
        a.notification = s.slice(r + (sender ? 7 : 11), nt);
        a.bounceQueueId = s.slice(nt + 15);
        return ok(e);
      }
      if (at(s, r, 'skipped, still being delivered')) return SKIP_STILL_DELIVERING;
      if (at(s, r, 'placed on hold')) return ok(mk(env, info, 'hold', session));
      break;
    }
    case 117: // u
      if (at(s, r, 'uid=')) {
        // pickup: `uid=1000 from=<jan>`
        const e = mk(env, info, 'pickup', session);
        const a = e.attrs as Record<string, AttrValue>;
        let j = r;
        while ((j = nextKv(s, j, n)) >= 0) {
          if (keyIs(s, 'uid')) a.uid = num(s, vS, vE);
          else if (keyIs(s, 'from')) a.from = val(s);
        }
        return ok(e);
      }
      break;
    case 104: // h
      if (at(s, r, 'host ') && readAddr(s, r + 5)) {
        // `host mx.example.net[192.0.2.25] said: 450 4.7.1 ... (in reply to RCPT TO command)`
        // `host mx.example.net[192.0.2.25] refused to talk to me: 450 4.3.2 try again later`
        const e = withRelay(mk(env, info, 'relay-error', session));
        const a = e.attrs as Record<string, AttrValue>;
        const said = at(s, aEnd, ' said: ');
        const refused = at(s, aEnd, ' refused to talk to me: ');
        if (!said && !refused) return unparsed(info.unrecognised);
        a.error = said ? 'reply' : 'refused';
        readReply(s, aEnd + (said ? 7 : 24), n, true);
        a.code = rCode;
        a.dsn = rDsn;
        a.reason = rReason;
        if (rStage !== null) a.stage = rStage;
        return ok(e);
      }
      break;
    case 108: // l
      if (at(s, r, 'lost connection with ') && readAddr(s, r + 21)) {
        // `lost connection with mx.example.net[192.0.2.25] while sending RCPT TO`
        const e = withRelay(mk(env, info, 'relay-error', session));
        const a = e.attrs as Record<string, AttrValue>;
        a.error = 'lost-connection';
        // `... while sending end of data -- message may be sent more than once`
        if (at(s, aEnd, ' while ')) {
          const dash = s.indexOf(' -- ', aEnd + 7);
          a.stage = s.slice(aEnd + 7, Math.min(dash < 0 ? n : dash, aEnd + 7 + 64));
        }
        return ok(e);
      }
      if (at(s, r, 'lost connection after ')) return afterStage(s, r + 22, 'lost-connection', null, env, info, session);
      break;
    case 83: // S
      if (at(s, r, 'SASL authentication failed; server ') && readAddr(s, r + 35)) {
        const e = withRelay(mk(env, info, 'relay-error', session));
        const a = e.attrs as Record<string, AttrValue>;
        a.error = 'sasl';
        if (at(s, aEnd, ' said: ')) {
          readReply(s, aEnd + 7, n);
          a.code = rCode;
          a.dsn = rDsn;
          a.reason = rReason;
        }
        return ok(e);
      }
      break;
    case 101: // e
      if (at(s, r, 'enabling PIX workarounds')) return SKIP_PIX;
      break;
    case 67: // C
      if (at(s, r, 'Cannot start TLS')) {
        const e = mk(env, info, 'tls-error', session);
        (e.attrs as Record<string, AttrValue>).error = 'starttls';
        return ok(e);
      }
      break;
    case 119: // w
      if (at(s, r, 'warning: header ') || at(s, r, 'warning: body ')) return action(s, r, session, env, info);
      if (at(s, r, 'warning: ')) return warning(s, r + 9, env, info, session);
      break;
  }
  if (actionEnd(s, r) > 0) return action(s, r, session, env, info);
  return unparsed(info.unrecognised);
}

// `client=mail.example.net[192.0.2.7]:52144, sasl_method=PLAIN, sasl_username=jan@example.com, orig_client=...`
function client(s: string, i: number, session: string, env: Envelope, info: ProgramInfo): ParseResult {
  if (!readAddr(s, i)) return unparsed('postfix client= without host[address]');
  const e = withClient(mk(env, info, 'client', session));
  const a = e.attrs as Record<string, AttrValue>;
  let j = aEnd;
  const n = s.length;
  while ((j = nextKv(s, j, n)) >= 0) {
    if (keyIs(s, 'sasl_username')) e.account = val(s) || null;
    else if (keyIs(s, 'sasl_method')) a.saslMethod = val(s);
    else if (keyIs(s, 'sasl_sender')) a.saslSender = val(s);
    else if (keyIs(s, 'orig_queue_id')) a.origQueueId = val(s);
    else if (keyIs(s, 'orig_client')) {
      if (readAddr(s, vS, vE)) { a.origClient = aIp; a.origClientName = clientName(aName); }
    }
  }
  if (e.account !== null) e.kind = 'sasl-login';
  return ok(e);
}

function messageId(s: string, i: number, resent: boolean, session: string, env: Envelope, info: ProgramInfo): ParseResult {
  const e = mk(env, info, 'message-id', session);
  const a = e.attrs as Record<string, AttrValue>;
  let v: string;
  if (s.charCodeAt(i) === 60 && s.charCodeAt(s.length - 1) === 62) v = s.slice(i + 1, -1);
  else v = s.slice(i, Math.min(s.length, i + 256));
  a.messageId = v || null;
  if (resent) a.resent = true;
  return ok(e);
}

/**
 * Delivery agents (smtp, lmtp, local, pipe, virtual, error, discard) and qmgr's deferrals:
 *   to=<jan@example.net>, orig_to=<info@example.com>, relay=mx.example.net[192.0.2.25]:25, delay=1.2, delays=0.1/0/0.5/0.6, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4ABC)
 */
// The usual order of a delivery line, read in one native pass; anything else takes the loop below.
const DELIVERY = /to=<([^>]*)>, (?:orig_to=<([^>]*)>, )?relay=([^,\[]*)(?:\[([^\]]*)\](?::(\d+))?)?, (?:conn_use=(\d+), )?delay=([\d.]+), delays=([\d./]+), (?:tls=([^,]*), )?dsn=([\d.]+), status=([^ ]+)/y;

/** Attributes every delivery line has, in one fixed shape; optional ones are added after. */
interface DeliveryAttrs {
  [key: string]: AttrValue;
  instance: string; daemon: string; service: string; transport: string;
  to: string | null; origTo: string | null; relay: string | null;
  delay: number | null; delays: string | null; dsn: string | null; status: string | null;
}

function delivery(s: string, r: number, session: string, env: Envelope, info: ProgramInfo): ParseResult {
  const e = baseEvent('postfix', env.ts, env.host, env.program, 'delivery');
  e.session = session;
  const a: DeliveryAttrs = {
    instance: info.instance, daemon: info.daemon, service: info.service, transport: info.daemon,
    to: null, origTo: null, relay: null, delay: null, delays: null, dsn: null, status: null,
  };
  e.attrs = a;
  const n = s.length;
  let j = r;
  let status = -1;
  DELIVERY.lastIndex = r;
  const m = DELIVERY.exec(s);
  if (m !== null) {
    a.to = m[1];
    if (m[2] !== undefined) a.origTo = m[2];
    a.relay = m[3];
    a.delay = num(m[7], 0, m[7].length);
    a.delays = m[8];
    a.dsn = m[10];
    a.status = m[11];
    if (m[4] !== undefined) {
      e.rip = normalizeIp(m[4]);
      if (e.rip === null) a.relaySocket = m[4];
      else if (m[5] !== undefined) e.rport = toPort(m[5]);
    }
    if (m[6] !== undefined) a.connUse = +m[6];
    if (m[9] !== undefined) a.tls = m[9];
    status = DELIVERY.lastIndex;
    j = -1;
  }
  while (j >= 0 && (j = nextKv(s, j, n)) >= 0) {
    switch (s.charCodeAt(kS)) {
      case 116: // to, tls
        if (keyIs(s, 'to')) a.to = val(s);
        else if (keyIs(s, 'tls')) a.tls = val(s);
        break;
      case 111: if (keyIs(s, 'orig_to')) a.origTo = val(s); break;
      case 114:
        if (keyIs(s, 'relay')) {
          if (readAddr(s, vS, vE)) {
            a.relay = aName;
            e.rip = aIp;
            e.rport = aPort;
            if (aIp === null) a.relaySocket = aRaw;
          } else a.relay = val(s);
        }
        break;
      case 100:
        if (keyIs(s, 'delay')) a.delay = num(s, vS, vE);
        else if (keyIs(s, 'delays')) a.delays = val(s);
        else if (keyIs(s, 'dsn')) a.dsn = val(s);
        break;
      case 99: if (keyIs(s, 'conn_use')) a.connUse = num(s, vS, vE); break;
      case 115: if (keyIs(s, 'status')) { a.status = val(s); status = j; } break;
    }
    if (status >= 0) break;
  }
  if (status < 0) return unparsed('postfix delivery without status=');
  // `(250 2.0.0 Ok: queued as 4ABC)`: keep the next hop's queue id; the text only when not sent.
  let t = status;
  while (s.charCodeAt(t) === 32) t++;
  if (s.charCodeAt(t) === 40 && s.charCodeAt(n - 1) === 41) {
    const qa = s.indexOf(' as ', t);
    if (qa > 0 && (at(s, qa - 6, 'queued') || at(s, qa - 9, 'forwarded'))) {
      let k = qa + 4;
      while (k < n && isKeyChar(s.charCodeAt(k)) && s.charCodeAt(k) !== 46) k++;
      if (k > qa + 4) a.queuedAs = s.slice(qa + 4, k);
    }
    if (a.status !== 'sent') a.response = clip(s, t + 1, n - 1);
  }
  return ok(e);
}

// ---------------------------------------------------------------------------------------------
// postscreen, tlsproxy, dnsblog

/**
 * postscreen:
 *   CONNECT from [192.0.2.7]:53024 to [198.51.100.1]:25
 *   PASS NEW [192.0.2.7]:53024
 *   PREGREET 14 after 0.08 from [192.0.2.7]:59415: EHLO example\r\n
 *   COMMAND TIME LIMIT from [192.0.2.7]:3608 after CONNECT
 *   DNSBL rank 3 for [192.0.2.7]:1038
 *   NOQUEUE: reject: RCPT from [192.0.2.7]:2413: 550 5.7.1 Service unavailable; ...
 */
function postscreen(s: string, env: Envelope, info: ProgramInfo): ParseResult {
  const c0 = s.charCodeAt(0);
  if (c0 === 67 && at(s, 0, 'CONNECT from ')) {
    if (!readAddr(s, 13)) return unparsed(info.unrecognised);
    const e = mk(env, info, 'postscreen-connect', null);
    e.rip = aIp;
    e.rport = aPort;
    if (at(s, aEnd, ' to ') && readAddr(s, aEnd + 4)) { e.lip = aIp; e.lport = aPort; }
    return ok(e);
  }
  if (c0 === 68 && at(s, 0, 'DISCONNECT ')) return addrEvent(s, 11, 'postscreen-disconnect', null, env, info);
  if (c0 === 80 && at(s, 0, 'PASS ')) {
    const r = addrEvent(s, s.indexOf('[', 5), 'postscreen-pass', null, env, info);
    if (r.type === 'event') (r.event.attrs as Record<string, AttrValue>).pass = at(s, 0, 'PASS NEW') ? 'new' : 'old';
    return r;
  }
  if (at(s, 0, 'WHITELISTED ') || at(s, 0, 'ALLOWLISTED ')) {
    const r = addrEvent(s, 12, 'postscreen-pass', null, env, info);
    if (r.type === 'event') (r.event.attrs as Record<string, AttrValue>).pass = 'allowlisted';
    return r;
  }
  if (at(s, 0, 'WHITELIST VETO ') || at(s, 0, 'ALLOWLIST VETO ')) return SKIP_VETO;
  if (c0 === 78 && at(s, 0, 'NOQUEUE: ')) {
    const r = action(s, 9, null, env, info, 'postscreen-reject');
    if (r.type === 'event') (r.event.attrs as Record<string, AttrValue>).violation = 'reject';
    return r;
  }
  if (c0 >= 65 && c0 <= 90) {
    // An upper-case test result in front of `[address]:port`.
    const lb = s.indexOf('[');
    if (lb > 0 && lb < 48) {
      const violation = violationName(s, lb);
      if (violation !== null) {
        const r = addrEvent(s, lb, 'postscreen-reject', null, env, info);
        if (r.type !== 'event') return r;
        const a = r.event.attrs as Record<string, AttrValue>;
        a.violation = violation;
        if (violation === 'dnsbl') a.rank = num(s, 11, lb - 5);
        if (at(s, aEnd, ' after ')) {
          let k = aEnd + 7;
          while (k < s.length && s.charCodeAt(k) !== 58 && s.charCodeAt(k) !== 32) k++;
          a.stage = s.slice(aEnd + 7, k);
        }
        return r;
      }
    }
  }
  if (at(s, 0, 'cache ')) return SKIP_POSTSCREEN_CACHE;
  if (at(s, 0, 'warning: ') || at(s, 0, 'fatal: ') || at(s, 0, 'error: ') || at(s, 0, 'panic: ')) return SKIP_DIAGNOSTIC;
  if (at(s, 0, 'statistics: ')) return SKIP_STATISTICS;
  return unparsed(info.unrecognised);
}

const violationNames = new Map<string, string | null>();

/**
 * `PREGREET 14 after 0.08 from [` → pregreet, `COMMAND TIME LIMIT from [` → command-time-limit,
 * `BARE NEWLINE from [` → bare-newline, `DNSBL rank 3 for [` → dnsbl, `DENYLISTED [` → denylisted.
 * The upper-case words before the first lower-case word or number make the name.
 */
function violationName(s: string, lb: number): string | null {
  let k = 0;
  while (k < lb) {
    const c = s.charCodeAt(k);
    if ((c >= 65 && c <= 90) || c === 45 || (c === 32 && s.charCodeAt(k + 1) >= 65 && s.charCodeAt(k + 1) <= 90)) k++;
    else break;
  }
  if (k === 0 || (s.charCodeAt(k) !== 32 && k !== lb)) return null;
  const words = s.slice(0, k);
  let v = violationNames.get(words);
  if (v === undefined) {
    v = words.length >= 4 ? words.toLowerCase().replace(/ /g, '-') : null;
    if (v === 'blacklisted') v = 'denylisted';
    if (violationNames.size < 256) violationNames.set(words, v);
  }
  return v;
}

function addrEvent(s: string, at: number, kind: string, session: string | null, env: Envelope, info: ProgramInfo): ParseResult {
  if (at < 0 || !readAddr(s, at)) return unparsed(info.unrecognised);
  const e = mk(env, info, kind, session);
  e.rip = aIp;
  e.rport = aPort;
  return ok(e);
}

function tlsproxy(s: string, env: Envelope, info: ProgramInfo): ParseResult {
  // `CONNECT from [192.0.2.7]:51637` / `DISCONNECT [192.0.2.7]:51637`
  if (at(s, 0, 'CONNECT from ')) return addrEvent(s, 13, 'tlsproxy-connect', null, env, info);
  if (at(s, 0, 'DISCONNECT ')) return addrEvent(s, 11, 'tlsproxy-disconnect', null, env, info);
  return noQueue(s, 0, env, info);
}

function dnsblog(s: string, env: Envelope, info: ProgramInfo): ParseResult {
  // `addr 192.0.2.7 listed by domain zen.example.org as 127.0.0.2`
  if (at(s, 0, 'addr ')) {
    const sp = s.indexOf(' listed by domain ', 5);
    if (sp > 5) {
      const e = mk(env, info, 'dnsbl', null);
      e.rip = normalizeIp(s.slice(5, sp));
      const a = e.attrs as Record<string, AttrValue>;
      const as = s.indexOf(' as ', sp + 18);
      a.list = s.slice(sp + 18, as > 0 ? as : s.length);
      if (as > 0) a.result = s.slice(as + 4);
      return ok(e);
    }
  }
  if (at(s, 0, 'warning: ') || at(s, 0, 'fatal: ')) return SKIP_DIAGNOSTIC;
  return unparsed(info.unrecognised);
}

// ---------------------------------------------------------------------------------------------

function parseMessage(env: Envelope, _ctx: ParseContext): ParseResult {
  if (env.program === null) return unparsed('postfix line without a program tag');
  const info = programInfo(env.program);
  const s = env.msg;
  switch (info.kind) {
    case Daemon.Postscreen: return postscreen(s, env, info);
    case Daemon.Housekeeping: return skip(info.housekeeping);
    case Daemon.Tlsproxy: return tlsproxy(s, env, info);
    case Daemon.Dnsblog: return dnsblog(s, env, info);
  }
  const c = s.charCodeAt(0);
  if (isDigit(c) || (c >= 65 && c <= 90)) {
    const q = queueIdLength(s);
    if (q > 0) return withQueueId(s, q, env, info);
  }
  // postsuper's `Deleted: 3 messages`
  if (info.daemon === 'postsuper') return SKIP_POSTSUPER_SUMMARY;
  if (s.length === 0) return unparsed('postfix line with an empty message');
  return noQueue(s, 0, env, info);
}

export const postfix: SourceParser = {
  source: 'postfix',
  matchesProgram,
  parseMessage,
};

export const parseLine = lineParser(postfix);
