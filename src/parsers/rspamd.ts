/**
 * rspamd: the per-message result line that `rspamd_task_write_log` writes with the default
 * `log_format` (conf/logging.inc), from rspamd's own log file or from syslog:
 *
 *   2026-11-20 09:15:02 #1234(normal) <a1b2c3>; task; rspamd_task_write_log: id: <msgid@example.com>, qid: <3F0A51C2B>, ip: 192.0.2.7, user: jan@example.com, from: <jan@example.com>, (default: F (no action): [1.20/15.00] [SYM(0.50){opt;},...]), len: 4567, time: 87.10ms, dns req: 12, digest: <...>, rcpts: <a@example.net,b@example.net>, mime_rcpts: <...>
 *   Nov 20 09:15:02 mx rspamd[1234]: <a1b2c3>; task; rspamd_task_write_log: id: <...>, ...
 *
 * Older releases log `[SYM1,SYM2]` without scores and `time: 5002.99ms real, 434.27ms virtual`;
 * `log_severity` puts `[info] ` in front of `#pid(type)`; under systemd the stamp and pid are left
 * out (`(normal) <a1b2c3>; task; ...`). Every other rspamd line is skipped with a reason.
 * The session is the MTA queue id, which joins the scan to Postfix's lines for the message.
 */
import type { AttrValue, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { counterAt, normalizeIp } from './common.js';
import { lineParser } from './line.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';

const isDigit = (c: number) => c >= 48 && c <= 57;

/**
 * rspamd's own file after the stamp: `#1234(normal) <...>` or, with log_severity,
 * `[info] #1234(normal) <...>`. Checked on the first few characters only.
 */
function sniffNative(msg: string): boolean {
  let i = 0;
  if (msg.charCodeAt(0) === 91 /* [ */) {
    const close = msg.indexOf('] #', 1);
    if (close < 0 || close > 10) return false;
    i = close + 2;
  }
  if (msg.charCodeAt(i) !== 35 /* # */ || !isDigit(msg.charCodeAt(i + 1))) return false;
  let j = i + 2;
  while (j < i + 12 && isDigit(msg.charCodeAt(j))) j++;
  return msg.charCodeAt(j) === 40 /* ( */;
}

// Prefix fields of the line being parsed.
let pWorker: string | null = null;
let pModule = '';
let pFunction = '';

/**
 * Read `[sev] #pid(type) <tag>; module; function: ` (every part optional but the module) and
 * return the index of the text after it, or -1.
 */
function readPrefix(s: string): number {
  let i = 0;
  pWorker = null;
  if (s.charCodeAt(i) === 91) {
    const close = s.indexOf('] ', i);
    if (close < 0 || close > 10) return -1;
    i = close + 2;
  }
  if (s.charCodeAt(i) === 35) {
    i++;
    while (isDigit(s.charCodeAt(i))) i++;
  }
  if (s.charCodeAt(i) === 40) {
    const close = s.indexOf(')', i);
    if (close < 0 || close - i > 32) return -1;
    pWorker = s.slice(i + 1, close);
    i = close + 1;
    while (s.charCodeAt(i) === 32) i++;
  }
  if (s.charCodeAt(i) === 60 /* < */) {
    const close = s.indexOf('>; ', i);
    if (close < 0 || close - i > 24) return -1;
    i = close + 3;
  }
  const semi = s.indexOf('; ', i);
  const colon0 = s.indexOf(': ', i);
  if ((semi < 0 || (colon0 >= 0 && colon0 < semi)) && colon0 > i && colon0 - i <= 64 && s.indexOf(' ', i) >= colon0) {
    // Releases before the module field (rspamd 1.0): `#1234(normal) <a1b2c3>; rspamd_task_write_log: id: <...>`.
    pModule = '';
    pFunction = s.slice(i, colon0);
    return colon0 + 2;
  }
  if (semi < 0 || semi - i > 32) return -1;
  pModule = s.slice(i, semi);
  i = semi + 2;
  const colon = s.indexOf(': ', i);
  // Lua modules log `spf.lua:186: ...`; C code logs the function name.
  if (colon < 0 || colon - i > 64) return -1;
  pFunction = s.slice(i, colon);
  return colon + 2;
}

const skipReasons = new Map<string, ParseResult>();

function notAScan(module: string): ParseResult {
  let r = skipReasons.get(module);
  if (!r) {
    r = skip(`rspamd ${module.slice(0, 24)} line, not a scan result`);
    if (skipReasons.size < 128) skipReasons.set(module, r);
  }
  return r;
}

const undef = (v: string) => v === '' || v === 'undef' || v === 'unknown' || v === '<unknown>';

/** Number at s[i, end) (`1.20`, `-0.50`, `nan`), or null. */
function num(s: string, i: number, end: number): number | null {
  if (i >= end) return null;
  const v = Number(s.slice(i, end));
  return Number.isFinite(v) ? v : null;
}

/** The value after `key: ` up to the next `, ` (or `<...>`), searching from i. */
function field(s: string, key: string, i: number, end: number): string | null {
  const k = s.indexOf(key, i);
  if (k < 0 || k >= end) return null;
  let v = k + key.length;
  if (s.charCodeAt(v) === 60) {
    const gt = s.indexOf('>', v + 1);
    return gt < 0 ? s.slice(v + 1, end) : s.slice(v + 1, gt);
  }
  let e = s.indexOf(',', v);
  if (e < 0 || e > end) e = end;
  while (s.charCodeAt(v) === 32) v++;
  return s.slice(v, e);
}

/** The number right after `key` (searching from i), or null. */
function numberAfter(s: string, key: string, i: number): number | null {
  const k = s.indexOf(key, i);
  if (k < 0) return null;
  let j = k + key.length;
  const start = j;
  if (s.charCodeAt(j) === 45) j++;
  while (j < s.length && (isDigit(s.charCodeAt(j)) || s.charCodeAt(j) === 46)) j++;
  return num(s, start, j);
}

/** The counter after `key`: null when the key is absent, NaN when its value is no counter. */
function counterAfter(s: string, key: string, i: number): number | null {
  const k = s.indexOf(key, i);
  if (k < 0) return null;
  const start = k + key.length;
  let j = start;
  for (let c = s.charCodeAt(j); j < s.length && c !== 44 && c !== 32 && c !== 41; c = s.charCodeAt(++j));
  return counterAt(s, start, j);
}

function scan(s: string, at: number, env: Envelope): ParseResult {
  const n = s.length;
  const e = baseEvent('rspamd', env.ts, env.host, env.program, 'scan');
  const a: Record<string, AttrValue> = {};
  e.attrs = a;
  // `id: <msgid>,` then the optional ` qid: <...>, ip: ..., user: ..., from: <...>,` until ` (`
  const mid = field(s, 'id: ', at, n);
  a.msgid = mid === null || undef(mid) ? null : mid;
  let i = mid === null ? at : s.indexOf('>,', at + 4) + 2;
  const open = s.indexOf(' (', i);
  if (i < 2 || open < 0) return unparsed('rspamd scan line without the (metric: ...) result');
  const head = open;
  const qid = field(s, ' qid: ', i, head);
  e.session = qid === null || undef(qid) ? null : qid;
  const ip = field(s, ' ip: ', i, head);
  e.rip = ip === null ? null : normalizeIp(ip);
  const user = field(s, ' user: ', i, head);
  e.account = user === null || undef(user) ? null : user;
  const from = field(s, ' from: ', i, head);
  a.from = from;
  // `(default: F (no action): [1.20/15.00] [...]`
  i = open + 2;
  const colon = s.indexOf(': ', i);
  if (colon < 0 || s.charCodeAt(colon + 3) !== 32 || s.charCodeAt(colon + 4) !== 40) {
    return unparsed('rspamd scan result not in the (metric: T (action): [score/required] ...) form');
  }
  const verdict = s.charCodeAt(colon + 2);
  const actEnd = s.indexOf('): [', colon + 5);
  if (actEnd < 0) return unparsed('rspamd scan result without an action');
  a.action = s.slice(colon + 5, actEnd);
  a.isSpam = verdict === 84 /* T */ ? true : verdict === 70 /* F */ ? false : null;
  if (verdict === 83 /* S */) a.skipped = true;
  const sc = actEnd + 4;
  const slash = s.indexOf('/', sc);
  const close = s.indexOf(']', sc);
  if (slash < 0 || close < 0 || slash > close) return unparsed('rspamd scan result without [score/required]');
  a.score = num(s, sc, slash);
  a.required = num(s, slash + 1, close);
  // After the symbol list (whose options may hold anything), the fixed fields follow.
  let tail = s.indexOf('), len: ', close);
  if (tail < 0) tail = s.lastIndexOf('len: ');
  if (tail >= 0) {
    a.len = counterAfter(s, 'len: ', tail);
    // `time: 87.10ms` (newer) or `time: 5002.99ms real, 434.27ms virtual` (older)
    a.timeMs = numberAfter(s, 'time: ', tail);
    a.dnsReq = numberAfter(s, 'dns req: ', tail);
    const rc = s.indexOf(' rcpts: <', tail);
    if (rc >= 0 && s.charCodeAt(rc - 1) !== 95 /* not mime_rcpts */) {
      const gt = s.indexOf('>', rc + 9);
      let count = 1;
      for (let k = rc + 9; k < (gt < 0 ? n : gt); k++) if (s.charCodeAt(k) === 44) count++;
      // rspamd stops listing after log_task_max_elts and writes `,...`: the count is then a minimum.
      const truncated = gt > 3 && s.startsWith('...', gt - 3);
      a.rcpts = truncated ? count - 1 : count;
      if (truncated) a.rcptsTruncated = true;
    } else a.rcpts = null;
  }
  a.module = pModule === '' ? null : pModule;
  if (pWorker !== null) a.worker = pWorker;
  return ok(e);
}

function parseMessage(env: Envelope, _ctx: ParseContext): ParseResult {
  const s = env.msg;
  const at = readPrefix(s);
  if (at >= 0 && s.startsWith('id: <', at)) return scan(s, at, env);
  // `#1234(normal) rspamd_log_reset_repeated: Last message repeated 3 times`
  if (s.indexOf('Last message repeated ') >= 0) return skip('rspamd repeated-message notice');
  if (at < 0) return unparsed('rspamd line without the <tag>; module; function: prefix');
  if (pFunction === 'rspamd_task_write_log') return unparsed('rspamd task log line in a custom log_format');
  return notAScan(pModule === '' ? pFunction : pModule);
}

export const rspamd: SourceParser = {
  source: 'rspamd',
  matchesProgram: (program: string) => program === 'rspamd',
  sniffNative,
  parseMessage,
};

export const parseLine = lineParser(rspamd);
