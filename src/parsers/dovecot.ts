/**
 * Dovecot 2.2, 2.3 and 2.4 (and the 1.x forms still seen in old logs): logins, logouts with
 * byte counters, failed and aborted logins, auth-process failures and LMTP/LDA deliveries.
 *
 * Every Dovecot line is `<process prefix>: [<Level>: ]<text>`. The prefix arrives in one of
 * three envelopes:
 *
 *   Nov 20 09:20:02 mail dovecot: imap(jan)<4711><AbCd/Ef+12>: Logged out in=12 out=3456   (syslog)
 *   Nov 20 09:20:02 mail imap-login: Login: user=<jan>, method=PLAIN, rip=...               (split tag)
 *   Nov 20 09:20:02 imap-login: Info: Login: user=<jan>, method=PLAIN, rip=...              (log_path)
 *
 * With syslog the level is the syslog priority, so `Info: ` only shows up in log_path files and
 * in some journald setups; it may stand before or after the prefix and is stripped either way.
 *
 * Processes and what they say:
 * - login processes (`imap-login`, `pop3-login`, `submission-login`, `managesieve-login`) end
 *   every connection with one line `<text>: <elements>`, where the elements come from
 *   login_log_format_elements (`user=<jan>, method=PLAIN, rip=192.0.2.1, lip=..., mpid=4711,
 *   TLS, session=<AbCd/Ef+12>`). `Login` means success; anything else is a failed or aborted
 *   login whose reason is in the text: `Disconnected (auth failed, 2 attempts in 8 secs)`,
 *   2.4's `Login aborted: Connection closed (no auth attempts in 0 secs) (no_auth_attempts)`.
 * - mail processes (`imap`, `pop3`, `submission`, `managesieve`) end a session with
 *   `<reason> <logout stats>`, where the stats come from imap_logout_format (`in=.. out=..`)
 *   or pop3_logout_format (`top=0/0, retr=2/34567, del=0/2, size=34567`).
 * - `lmtp`/`lda` log one `msgid=<..>: saved mail to INBOX` per delivered copy.
 * - `auth`/`auth-worker` log `<passdb>(<user>,<ip>[,<session>]): <why it failed>`.
 *
 * Session keys. The login line names the mail process (`mpid=`) and the login session id
 * (`session=<...>`); 2.3 and 2.4 repeat both in the mail process's prefix, 2.2 has neither
 * there. The key is `<pid><session>` when both are known, the pid alone when only the pid is:
 *
 *   login  2.3  imap-login: Login: user=<jan>, ..., mpid=4711, TLS, session=<AbCd/Ef+12>  → 4711<AbCd/Ef+12>
 *   logout 2.3  imap(jan)<4711><AbCd/Ef+12>: Logged out in=12 out=3456                   → 4711<AbCd/Ef+12>
 *   logout 2.2  imap(jan)[4711]: Logged out in=12 out=3456 (split tag, pid of imap itself) → 4711
 *
 * A 2.2 key is therefore the part of its login's key before `<`, and attrs.pid carries the pid
 * on both sides. The pid of a `dovecot[241]:` syslog tag is NOT used: every Dovecot process
 * except master logs through the `log` process, so that pid is the log process's and would
 * give every session on the host the same key. Lines that only know the login session id (failed
 * logins, auth failures, proxied logins) get `<sid>`, so an auth-process failure and the login
 * process's `Disconnected (auth failed ...)` for the same attempt share a key.
 *
 * The hot lines (logins, logouts, failed logins during a brute-force run) are parsed with
 * indexOf/charCodeAt into reused scratch records. The one regular expression on a hot path reads
 * the default login element list; it is sticky and `$`-anchored, with negated classes between
 * literal delimiters, so it runs in linear time. The others only run on rare branches.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { counterAt, normalizeIp, portAt, uintAt } from './common.js';
import { lineParser } from './line.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';

export type DovecotService = 'imap' | 'pop3' | 'lmtp' | 'lda' | 'submission' | 'managesieve' | 'auth';

type Role = 'login' | 'mail' | 'deliver' | 'auth' | 'internal';

interface ProcessInfo { role: Role; service: DovecotService | null }

/** Dovecot process names (the prefix before `(`/`:`) and what they are. */
const PROCESSES = new Map<string, ProcessInfo>([
  ['imap-login', { role: 'login', service: 'imap' }],
  ['pop3-login', { role: 'login', service: 'pop3' }],
  ['submission-login', { role: 'login', service: 'submission' }],
  ['managesieve-login', { role: 'login', service: 'managesieve' }],
  ['imap', { role: 'mail', service: 'imap' }],
  ['pop3', { role: 'mail', service: 'pop3' }],
  ['submission', { role: 'mail', service: 'submission' }],
  ['managesieve', { role: 'mail', service: 'managesieve' }],
  ['lmtp', { role: 'deliver', service: 'lmtp' }],
  ['lda', { role: 'deliver', service: 'lda' }],
  ['auth', { role: 'auth', service: 'auth' }],
  ['auth-worker', { role: 'auth', service: 'auth' }],
  ['dovecot-auth', { role: 'auth', service: 'auth' }],
  ...[
    'master', 'config', 'log', 'anvil', 'stats', 'old-stats', 'dict', 'dict-async', 'dict-expire',
    'indexer', 'indexer-worker', 'doveadm', 'doveadm-server', 'replicator', 'aggregator', 'director',
    'ssl-params', 'ssl-build-param', 'quota-status', 'quota-warning', 'imap-hibernate', 'imap-urlauth',
    'imap-urlauth-login', 'imap-urlauth-worker', 'ipc', 'dns-client', 'tcpwrap', 'health-check',
    'pop3c', 'imapc', 'lmtp-proxy', 'auth-policy', 'checkpassword-reply', 'script', 'script-login',
    'welcome', 'expire', 'fts', 'pop3-migration', 'imap-postlogin', 'pop3-postlogin', 'sieve',
  ].map((name): [string, ProcessInfo] => [name, { role: 'internal', service: null }]),
]);

/**
 * Syslog program tags that are Dovecot: its own ident, and the per-process tags of split-tag
 * setups and of Dovecot's log_path file (where the envelope reads `imap-login:` as the tag).
 * Names that other software also uses (`master`, `config`, `log`, `stats`, `dict`) are left out.
 */
const PROGRAMS = new Set<string>([
  'dovecot', 'dovecot-auth', 'dovecot-lda',
  'imap-login', 'pop3-login', 'submission-login', 'managesieve-login',
  'imap', 'pop3', 'submission', 'managesieve', 'lmtp', 'lda', 'auth', 'auth-worker',
  'doveadm', 'indexer-worker', 'imap-hibernate', 'imap-urlauth', 'imap-urlauth-login', 'imap-urlauth-worker',
  'anvil', 'replicator', 'aggregator', 'director', 'quota-status', 'quota-warning',
]);

/** Processes whose name is distinctive enough to claim a tag-less line of Dovecot's own log. */
const SNIFF_NAMES = new Set<string>([
  'imap-login', 'pop3-login', 'submission-login', 'managesieve-login',
  'imap', 'pop3', 'submission', 'managesieve', 'lmtp', 'lda', 'auth', 'auth-worker',
  'indexer-worker', 'imap-hibernate', 'doveadm', 'imap-urlauth', 'imap-urlauth-login', 'imap-urlauth-worker',
]);

const enum Level { None, Info, Warning, Error, Fatal, Panic, Debug }

const C_SPACE = 32, C_COMMA = 44, C_COLON = 58, C_LT = 60, C_GT = 62, C_LPAREN = 40, C_RPAREN = 41, C_EQ = 61;

const MAX_REASON = 200;

/** Read position shared by readLevel's callers (one line is parsed at a time). */
const cur = { i: 0 };

/** The `Info: `-style level at s[i], or None. Returns the level and moves `at.i` past it. */
function readLevel(s: string, at: { i: number }): Level {
  const i = at.i;
  let lv = Level.None, len = 0;
  switch (s.charCodeAt(i)) {
    case 73: if (s.startsWith('Info: ', i)) { lv = Level.Info; len = 6; } break;
    case 87: if (s.startsWith('Warning: ', i)) { lv = Level.Warning; len = 9; } break;
    case 69: if (s.startsWith('Error: ', i)) { lv = Level.Error; len = 7; } break;
    case 70: if (s.startsWith('Fatal: ', i)) { lv = Level.Fatal; len = 7; } break;
    case 80: if (s.startsWith('Panic: ', i)) { lv = Level.Panic; len = 7; } break;
    case 68: if (s.startsWith('Debug: ', i)) { lv = Level.Debug; len = 7; } break;
  }
  at.i = i + len;
  return lv;
}

const isNameChar = (c: number) =>
  (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95;

/** A base64 session id as Dovecot writes it (`AbCd/Ef+12`), possibly empty. */
function isSessionId(s: string, from: number, to: number): boolean {
  if (to - from > 64) return false;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 43 || c === 47 || c === 61 || c === 45 || c === 95)) return false;
  }
  return true;
}


/** The busiest process names as constants, so the hot lines need no slice or fresh hash for the name. */
function internName(s: string, i: number, j: number): string {
  const c = s.charCodeAt(i);
  switch (j - i) {
    case 4:
      if (c === 105 && s.startsWith('imap', i)) return 'imap';
      if (c === 112 && s.startsWith('pop3', i)) return 'pop3';
      if (c === 108 && s.startsWith('lmtp', i)) return 'lmtp';
      if (c === 97 && s.startsWith('auth', i)) return 'auth';
      break;
    case 10:
      if (c === 105 && s.startsWith('imap-login', i)) return 'imap-login';
      if (c === 112 && s.startsWith('pop3-login', i)) return 'pop3-login';
      if (c === 115 && s.startsWith('submission', i)) return 'submission';
      break;
    case 11:
      if (c === 97 && s.startsWith('auth-worker', i)) return 'auth-worker';
      if (c === 109 && s.startsWith('managesieve', i)) return 'managesieve';
      break;
    case 16:
      if (c === 115 && s.startsWith('submission-login', i)) return 'submission-login';
      break;
    case 17:
      if (c === 109 && s.startsWith('managesieve-login', i)) return 'managesieve-login';
      break;
  }
  return s.slice(i, j);
}

/** No `<` in s[from, to): `imap(jan)<12<x>:` is not a `<pid><session>` pair. */
function noLtBetween(s: string, from: number, to: number): boolean {
  const lt = s.indexOf('<', from);
  return lt < 0 || lt >= to;
}

/** A process prefix: `imap(jan)<4711><AbCd>: `, `auth-worker(123): `, `imap-login: `. Reused. */
interface Prefix {
  name: string;
  /** What stood in the parentheses: a user, `pid, user` (2.2 LMTP), a pid, `user,ip,...` (2.4 auth). */
  args: string | null;
  pid: number | null;
  sid: string | null;
  /** Index of the text after `: `. */
  rest: number;
}

const prefix: Prefix = { name: '', args: null, pid: null, sid: null, rest: 0 };

/** Read a process prefix at s[i] into `p`. False when s[i] does not start with one. */
function readPrefix(s: string, i: number, p: Prefix): boolean {
  const n = s.length;
  let j = i;
  while (j < n && isNameChar(s.charCodeAt(j))) j++;
  if (j === i || j - i > 40) return false;
  let c = s.charCodeAt(j);
  if (c !== C_LPAREN && c !== C_LT && c !== C_COLON) return false;
  p.name = internName(s, i, j);
  p.args = null; p.pid = null; p.sid = null;
  if (c === C_LPAREN) {
    // The user name may itself hold `)`: the prefix's `)` is the one followed by `:` or `<`.
    let k = j + 1;
    for (;;) {
      k = s.indexOf(')', k);
      if (k < 0) return false;
      const d = s.charCodeAt(k + 1);
      if (d === C_COLON || d === C_LT) break;
      k++;
    }
    p.args = s.slice(j + 1, k);
    j = k + 1;
    c = s.charCodeAt(j);
  }
  // `<4711><AbCd>` (2.3+ mail processes) or `<AbCd>` alone (2.4 auth requests).
  if (c === C_LT) {
    const e1 = s.indexOf('>', j + 1);
    if (e1 < 0) return false;
    const pid = uintAt(s, j + 1, e1);
    if (pid !== null) {
      p.pid = pid;
      j = e1 + 1;
      if (s.charCodeAt(j) === C_LT) {
        const e2 = s.indexOf('>', j + 1);
        if (e2 < 0 || e2 - j > 65 || !noLtBetween(s, j + 1, e2)) return false;
        if (e2 > j + 1) p.sid = s.slice(j + 1, e2);
        j = e2 + 1;
      }
    } else {
      if (e1 - j > 65 || !noLtBetween(s, j + 1, e1)) return false;
      if (e1 > j + 1) p.sid = s.slice(j + 1, e1);
      j = e1 + 1;
    }
    c = s.charCodeAt(j);
  }
  if (c !== C_COLON) return false;
  j++;
  if (s.charCodeAt(j) === C_SPACE) j++;
  p.rest = j;
  return true;
}

/** The login_log_format_elements of a login-process line. Reused. */
interface Elements {
  user: string | null;
  method: string | null;
  rip: string | null;
  lip: string | null;
  rport: number | null;
  lport: number | null;
  mpid: number | null;
  sid: string | null;
  /** `TLS`, `TLS handshaking`, `TLS: <error>` seen. */
  tls: boolean;
  /** What followed `TLS` (`handshaking`, `handshaking: SSL_accept() failed: ...`, `Disconnected`). */
  tlsError: string | null;
  /** Plain-text connection that Dovecot trusts (localhost, login_trusted_networks). */
  secured: boolean;
}

const el: Elements = {
  user: null, method: null, rip: null, lip: null, rport: null, lport: null, mpid: null, sid: null,
  tls: false, tlsError: null, secured: false,
};

/**
 * The default login_log_format_elements, in their default order, to the end of the line:
 *   user=<jan>, method=PLAIN, rip=192.0.2.7, lip=192.0.2.1, mpid=4711, TLS, session=<AbCd>
 * One anchored (sticky, `$`-ended) pass with negated classes between literal delimiters, so it
 * cannot backtrack far; about twice as fast as the general scanner on the commonest lines.
 */
const DEFAULT_ELEMENTS =
  /user=<([^>]*)>, (?:method=([^,]*), )?rip=([^,]*), lip=([^,]*), (?:mpid=(\d+), )?(?:(TLS|secured)([^,]*), )?(?:TLSv[^,]*, )?session=<([^>]*)>$/y;

function defaultElements(s: string, from: number, e: Elements): boolean {
  // With more than one `rip=` the user name holds one: leave it to the last-wins scanner.
  const r = s.indexOf(' rip=', from);
  if (r < 0 || s.indexOf(' rip=', r + 5) >= 0) return false;
  DEFAULT_ELEMENTS.lastIndex = from;
  const m = DEFAULT_ELEMENTS.exec(s);
  if (m === null) return false;
  const state = m[6], rest = m[7];
  if (state !== undefined && rest !== '' && rest.charCodeAt(0) !== C_COLON && rest.charCodeAt(0) !== C_SPACE) return false;
  e.user = m[1] || null;
  e.method = m[2] || null;
  e.rip = normalizeIp(m[3]);
  e.lip = normalizeIp(m[4]);
  e.mpid = m[5] !== undefined ? (uintAt(m[5], 0, m[5].length) || null) : null;
  e.sid = m[8] || null;
  if (state === 'TLS') {
    e.tls = true;
    let t = 0;
    while (t < rest.length && (rest.charCodeAt(t) === C_COLON || rest.charCodeAt(t) === C_SPACE)) t++;
    if (t < rest.length) e.tlsError = cap(rest.slice(t), 120);
  } else if (state === 'secured' && rest === '') e.secured = true;
  return true;
}

/**
 * Read `user=<jan>, method=PLAIN, rip=192.0.2.1, lip=..., mpid=4711, TLS, session=<...>` from
 * s[from]. Values in `<...>` may hold `, `. A later key overrides an earlier one: the user name
 * comes first and is the client's to choose, so `user=<x>, rip=6.6.6.6` typed as a user name
 * must not win over the real `rip=` that follows it.
 */
function scanElements(s: string, from: number, e: Elements): void {
  e.user = null; e.method = null; e.rip = null; e.lip = null; e.rport = null; e.lport = null;
  e.mpid = null; e.sid = null; e.tls = false; e.tlsError = null; e.secured = false;
  if (defaultElements(s, from, e)) return;
  const n = s.length;
  let i = from;
  // Elements are joined with `, `. The separators are found with indexOf (a char-by-char walk
  // costs several times more); only the short key is read a char at a time.
  while (i < n) {
    let j = i, c = 0;
    const lim = i + 9 < n ? i + 9 : n;
    while (j < lim && (c = s.charCodeAt(j)) >= 97 && c <= 122) j++;
    let sep: number;
    if (j > i && c === C_EQ) {
      let v0 = j + 1, v1: number;
      if (s.charCodeAt(v0) === C_LT) {
        v0++;
        v1 = s.indexOf('>', v0);
        if (v1 < 0) v1 = n;
        sep = s.indexOf(',', v1);
        if (sep < 0) sep = n;
      } else {
        sep = s.indexOf(',', v0);
        if (sep < 0) sep = n;
        v1 = sep;
      }
      // Keys told apart by length and first two letters, without slicing the key.
      const k0 = s.charCodeAt(i), k1 = s.charCodeAt(i + 1);
      switch (j - i) {
        case 3:
          if (k1 === 105 && s.charCodeAt(i + 2) === 112) { // rip, lip
            if (k0 === 114) e.rip = normalizeIp(s.slice(v0, v1));
            else if (k0 === 108) e.lip = normalizeIp(s.slice(v0, v1));
          }
          break;
        case 4:
          if (k0 === 117 && k1 === 115 && s.startsWith('er', i + 2)) e.user = v1 > v0 ? s.slice(v0, v1) : null;
          else if (k0 === 109 && k1 === 112 && s.startsWith('id', i + 2)) e.mpid = uintAt(s, v0, v1) || null;
          break;
        case 5:
          if (k1 === 112 && s.startsWith('ort', i + 2)) { // rport, lport
            if (k0 === 114) e.rport = portAt(s, v0, v1);
            else if (k0 === 108) e.lport = portAt(s, v0, v1);
          }
          break;
        case 6:
          if (k0 === 109 && k1 === 101 && s.startsWith('thod', i + 2)) e.method = v1 > v0 ? s.slice(v0, v1) : null;
          break;
        case 7:
          if (k0 === 115 && k1 === 101 && s.startsWith('ssion', i + 2)) e.sid = v1 > v0 ? s.slice(v0, v1) : null;
          break;
      }
    } else {
      // A bare element: `TLS`, `TLS handshaking: <ssl error>`, `secured`, `TLSv1.3 with cipher ...`.
      sep = s.indexOf(', ', i);
      if (sep < 0) sep = n;
      if (s.startsWith('TLS', i)) {
        const d = s.charCodeAt(i + 3);
        if (i + 3 === sep || d === C_COLON || d === C_SPACE) {
          e.tls = true;
          let t = i + 3;
          if (d === C_COLON) t++;
          while (s.charCodeAt(t) === C_SPACE) t++;
          if (t < sep) e.tlsError = cap(s.slice(t, sep), 120);
        }
      } else if (sep === i + 7 && s.startsWith('secured', i)) e.secured = true;
    }
    i = sep + 1;
    if (s.charCodeAt(i) === C_SPACE) i++;
  }
}

function cap(s: string, max = MAX_REASON): string {
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

/** Index just after the `: ` that opens the element list (`: user=<`, `: method=`, `: rip=`), or -1. */
function elementsStart(s: string, from: number): number {
  let k = from;
  for (;;) {
    k = s.indexOf(': ', k);
    if (k < 0) return -1;
    const j = k + 2;
    const c = s.charCodeAt(j);
    if ((c === 117 && s.startsWith('user=', j)) || (c === 114 && s.startsWith('rip=', j)) || (c === 109 && s.startsWith('method=', j))) return j;
    k = j;
  }
}

/** Session key from what is known: `4711<AbCd>`, `4711`, `<AbCd>`. */
function sessionKey(pid: number | null, sid: string | null): string | null {
  if (pid !== null) return sid !== null ? `${pid}<${sid}>` : String(pid);
  return sid !== null ? `<${sid}>` : null;
}

/** What one line is about, before the per-role parser looks at the text. */
interface Line {
  env: Envelope;
  program: string;
  service: DovecotService | null;
  level: Level;
  /** User named in the prefix (`imap(jan)`), if any. */
  user: string | null;
  /** Pid of the process that wrote the line, when known to be that process's own. */
  pid: number | null;
  sid: string | null;
  /** Raw parenthesised prefix argument (`24544`, `jan`, `12345, jan`, `jan,192.0.2.1,sasl:plain`). */
  args: string | null;
  text: string;
}

const line: Line = {
  env: null as unknown as Envelope, program: '', service: null, level: Level.None,
  user: null, pid: null, sid: null, args: null, text: '',
};

function event(l: Line, kind: string): LogEvent {
  return baseEvent('dovecot', l.env.ts, l.env.host, l.program, kind);
}

/** Login processes: `Login: <elements>`, or the reason a login did not happen. */
function parseLogin(l: Line): ParseResult {
  const s = l.text;
  const es = elementsStart(s, 0);
  if (es < 0) {
    if (l.level === Level.Debug || l.level === Level.Fatal || l.level === Level.Panic) return skip('dovecot debug/fatal/panic message');
    if (l.level === Level.Error || l.level === Level.Warning) return skip('dovecot login process error or warning');
    if (s.startsWith('proxy(')) return skip('dovecot login proxy detail');
    return unparsed('dovecot login process message without user/rip elements');
  }
  const text = s.slice(0, es - 2);
  scanElements(s, es, el);
  let kind: string;
  let proxy: string | null = null, bytesIn: number | null = null, bytesOut: number | null = null;
  let reason: string | null = null, attempts: number | null = null, code: string | null = null;
  if (text === 'Login' || text === 'Logged in') {
    kind = 'login';
  } else if (text.startsWith('proxy(')) {
    // `proxy(jan): started proxying to 192.0.2.20:143` (a login that another server serves)
    // `proxy(jan): disconnecting 192.0.2.7 (Disconnected by client: EOF(0s idle, in=371, out=1825))`
    const p = text.indexOf('): ');
    const what = p > 0 ? text.slice(p + 3) : '';
    if (what.startsWith('started proxying to ')) {
      kind = 'login';
      proxy = what.slice(20);
    } else if (what.startsWith('disconnecting ')) {
      kind = 'disconnect';
      const paren = what.indexOf(' (');
      reason = paren > 0 ? cap(what.slice(paren + 2, what.endsWith(')') ? -1 : undefined)) : 'disconnecting';
      const m = /\bin=(\d+), out=(\d+)/.exec(what);
      if (m) { bytesIn = +m[1]; bytesOut = +m[2]; }
    } else {
      return skip('dovecot login proxy detail');
    }
    if (el.user === null && p > 6) el.user = text.slice(6, p);
  } else if (text === 'Login with referral') {
    return skip('dovecot login referred to another server');
  } else {
    const failed = isAuthFailure(text);
    if (!failed && !isSessionEnd(text)) {
      if (l.level === Level.Error || l.level === Level.Warning) return skip('dovecot login process error or warning');
      if (l.level === Level.Debug) return skip('dovecot debug/fatal/panic message');
      return unparsed('dovecot login process message not recognised');
    }
    kind = failed ? 'auth-fail' : 'login-aborted';
    reason = cap(text);
    attempts = attemptsIn(text);
    code = reasonCode(text);
  }
  const ev = event(l, kind);
  ev.account = el.user;
  ev.rip = el.rip; ev.lip = el.lip; ev.rport = el.rport; ev.lport = el.lport;
  ev.session = sessionKey(el.mpid, el.sid);
  ev.bytesIn = bytesIn; ev.bytesOut = bytesOut;
  const a: Record<string, AttrValue> = {};
  if (l.service !== null) a.service = l.service;
  if (el.mpid !== null) a.pid = el.mpid;
  if (el.sid !== null) a.sid = el.sid;
  if (el.method !== null) a.method = el.method;
  if (el.tls) a.tls = true;
  else if (el.rip !== null) a.tls = false;
  if (el.secured) a.secured = true;
  if (el.tlsError !== null) a.tlsError = el.tlsError;
  if (reason !== null) a.reason = reason;
  if (attempts !== null) a.attempts = attempts;
  if (code !== null) a.code = code;
  if (proxy !== null) a.proxy = proxy;
  ev.attrs = a;
  return ok(ev);
}

/** Failed credentials: `auth failed`, 2.4's `(auth_failed)`, `proxy dest auth failed`, `user disabled`, ... */
function isAuthFailure(text: string): boolean {
  return text.includes('auth failed') || text.includes('auth_failed') ||
    text.includes('authentication failure') || text.includes('authorization failed') ||
    text.includes('user disabled') || text.includes('password expired');
}

/** The ways a login process ends a connection that did not log in. */
const SESSION_END = [
  'Disconnected', 'Aborted login', 'Login aborted', 'Login failed', 'Connection closed',
  'Remote closed connection', 'Client has quit the connection', 'Maximum number of connections',
  'Timeout while finishing login', 'Internal login failure', 'Input buffer full', 'Inactivity',
  'Too many invalid commands', 'Logged out', 'Shutting down', 'Connection queue full', 'Server shutting down',
];

function isSessionEnd(text: string): boolean {
  for (const p of SESSION_END) if (text.startsWith(p)) return true;
  return false;
}

/** `2 attempts` or 2.3's `1/3 successful auths` (the total). */
function attemptsIn(text: string): number | null {
  const a = text.indexOf(' attempts');
  if (a > 0) {
    let b = a;
    while (b > 0 && text.charCodeAt(b - 1) >= 48 && text.charCodeAt(b - 1) <= 57) b--;
    return uintAt(text, b, a);
  }
  const m = / \d+\/(\d+) successful auths/.exec(text);
  return m ? +m[1] : null;
}

/** 2.4's machine-readable reason at the end: `... (auth_failed)`, `(no_auth_attempts)`. */
function reasonCode(text: string): string | null {
  const end = text.length - 1;
  if (text.charCodeAt(end) !== C_RPAREN) return null;
  // Walked back from the end (lastIndexOf is slow on the sliced strings the envelope hands out).
  let i = end - 1;
  for (let c = text.charCodeAt(i); (c >= 97 && c <= 122) || c === 95; c = text.charCodeAt(--i));
  return i < end - 1 && text.charCodeAt(i) === C_LPAREN ? text.slice(i + 1, end) : null;
}

/** Logout statistics. Reused. */
interface Stats {
  in: number | null; out: number | null;
  topN: number | null; topB: number | null; retrN: number | null; retrB: number | null;
  del: number | null; size: number | null;
}

const st: Stats = { in: null, out: null, topN: null, topB: null, retrN: null, retrB: null, del: null, size: null };

/**
 * Where the logout statistics begin, or -1: the first `in=`, `top=`, `bytes=` or `rcvd=` that
 * starts a word. One pass over the `=` signs; the reason before the stats may hold others
 * (`state=wait-input`, `read(size=1024)`).
 */
function statsStart(s: string): number {
  let eq = s.indexOf('=');
  while (eq > 0) {
    // Keys are at most 5 letters: look back no further, so `====...` stays linear.
    let k = eq;
    const stop = eq > 6 ? eq - 6 : 0;
    while (k > stop && s.charCodeAt(k - 1) !== C_SPACE) k--;
    if (k > 0 && s.charCodeAt(k - 1) !== C_SPACE) { eq = s.indexOf('=', eq + 1); continue; }
    const len = eq - k;
    const c = s.charCodeAt(k);
    if ((len === 2 && c === 105 && s.charCodeAt(k + 1) === 110) ||
      (len === 3 && c === 116 && s.startsWith('top', k)) ||
      (len === 5 && c === 98 && s.startsWith('bytes', k)) ||
      (len === 4 && c === 114 && s.startsWith('rcvd', k))) return k === 0 ? 0 : k - 1;
    eq = s.indexOf('=', eq + 1);
  }
  return -1;
}

/**
 * Read imap_logout_format / pop3_logout_format output: `in=12 out=3456 deleted=0 ...`,
 * `top=0/0, retr=2/34567, del=0/2, size=34567`, `bytes=88/1121` (1.x, managesieve),
 * `rcvd=214, sent=3328` (Plesk). Stops at a `(` (submission's ` (state=READY)`).
 */
function scanStats(s: string, from: number, t: Stats): void {
  t.in = null; t.out = null; t.topN = null; t.topB = null; t.retrN = null; t.retrB = null; t.del = null; t.size = null;
  const n = s.length;
  let i = from;
  while (i < n) {
    let c = s.charCodeAt(i);
    while (c === C_SPACE || c === C_COMMA) c = s.charCodeAt(++i);
    if (i >= n || c === C_LPAREN) break;
    let j = i;
    while (j < n && (c = s.charCodeAt(j)) !== C_EQ && c !== C_SPACE && c !== C_COMMA) j++;
    if (c !== C_EQ) { i = j; continue; }
    let v1 = j + 1;
    while (v1 < n && (c = s.charCodeAt(v1)) !== C_SPACE && c !== C_COMMA) v1++;
    const klen = j - i, v0 = j + 1;
    let slash = v0;
    while (slash < v1 && s.charCodeAt(slash) !== 47) slash++;
    const hasPair = slash > v0 && slash < v1;
    const a = hasPair ? counterAt(s, v0, slash) : counterAt(s, v0, v1);
    const b = hasPair ? counterAt(s, slash + 1, v1) : null;
    const k0 = s.charCodeAt(i);
    if (klen === 2 && s.startsWith('in', i)) t.in = a;
    else if (klen === 3 && k0 === 111 && s.startsWith('out', i)) t.out = a;
    else if (klen === 4 && k0 === 114 && s.startsWith('rcvd', i)) t.in ??= a;
    else if (klen === 4 && k0 === 115 && s.startsWith('sent', i)) t.out ??= a;
    else if (klen === 5 && k0 === 98 && s.startsWith('bytes', i) && hasPair) { t.in ??= a; t.out ??= b; }
    else if (klen === 3 && k0 === 116 && s.startsWith('top', i)) { t.topN = a; t.topB = b; }
    else if (klen === 4 && k0 === 114 && s.startsWith('retr', i)) { t.retrN = a; t.retrB = b; }
    else if (klen === 3 && k0 === 100 && s.startsWith('del', i)) t.del = a;
    else if (klen === 4 && k0 === 115 && s.startsWith('size', i)) t.size = a;
    // IMAP's tail (deleted=, expunged=, hdr_count=, ...) holds nothing more that is kept.
    if (t.in !== null && t.out !== null && t.topN === null && t.retrN === null) break;
    i = v1;
  }
}

/**
 * A custom mail_log_prefix may write the session id as `session=<AbCd>` in the message instead
 * of the default `<pid><AbCd>` prefix (`imap(jan)<4711>: session=<AbCd>: Logged out ...`, or at
 * the end): take it as the line's session id, and the message without it, so that the logout
 * is still a logout and keeps the key its login has.
 */
function takeSessionElement(l: Line, s: string): string {
  const k = s.indexOf('session=<');
  if (k < 0 || (k > 0 && s.charCodeAt(k - 1) !== C_SPACE && s.charCodeAt(k - 1) !== C_COMMA)) return s;
  const e = s.indexOf('>', k + 9);
  if (e <= k + 9 || e - k > 74 || !noLtBetween(s, k + 9, e)) return s;
  l.sid = s.slice(k + 9, e);
  let after = e + 1;
  for (let c = s.charCodeAt(after); c === C_COLON || c === C_COMMA || c === C_SPACE; c = s.charCodeAt(++after));
  let before = k;
  for (let c = s.charCodeAt(before - 1); before > 0 && (c === C_COMMA || c === C_SPACE); c = s.charCodeAt(--before - 1));
  if (before === 0) return s.slice(after);
  return after >= s.length ? s.slice(0, before) : s.slice(0, before) + ' ' + s.slice(after);
}

/** Reasons a mail process gives when a session ends without a stats tail to recognise it by. */
const MAIL_END = ['Logged out', 'Disconnected', 'Connection closed', 'Server shutting down', 'Client has quit'];

/** Mail processes: the end of a session, with its byte counters. */
function parseMail(l: Line): ParseResult {
  let s = l.text;
  if (l.level === Level.Debug || l.level === Level.Fatal || l.level === Level.Panic) return skip('dovecot debug/fatal/panic message');
  if (l.level === Level.Error || l.level === Level.Warning) return skip('dovecot mail process error or warning');
  if (l.sid === null) s = takeSessionElement(l, s);
  let rip: string | null = null;
  // submission: `Disconnect from 192.0.2.7: Client has quit the connection in=.. out=.. (state=READY)`
  if (s.startsWith('Disconnect from ')) {
    const c = s.indexOf(': ', 16);
    if (c < 0) return unparsed('dovecot submission disconnect without a reason');
    rip = normalizeIp(s.slice(16, c));
    s = s.slice(c + 2);
  }
  let ending = false;
  for (const p of MAIL_END) if (s.startsWith(p)) { ending = true; break; }
  // mail_log plugin: `copy from INBOX: box=Trash, uid=12, msgid=<...>`, `delete: box=INBOX, ...`.
  // Ruled out before looking for stats: the msgid is the sender's to choose and may hold ` in=`.
  if (!ending && s.includes(': box=')) return skip('dovecot mail_log plugin event');
  const ss = statsStart(s);
  if (ss < 0 && !ending) return unparsed('dovecot mail process message not recognised');
  const head = ss >= 0 ? s.slice(0, ss) : s;
  const reason = head.trim();
  const logout = reason === 'Logged out' || reason === 'Disconnected: Logged out' ||
    reason === 'Client has quit the connection' || reason === 'Successful quit';
  const ev = event(l, logout ? 'logout' : 'disconnect');
  ev.account = l.user;
  ev.rip = rip;
  ev.session = sessionKey(l.pid, l.sid);
  let pop3 = false;
  if (ss >= 0) {
    scanStats(s, ss, st);
    ev.bytesIn = st.in;
    ev.bytesOut = st.out;
    pop3 = st.retrN !== null || st.topN !== null;
    // POP3 without in/out in pop3_logout_format: what was sent is the RETRieved and TOPped mail.
    if (ev.bytesOut === null && pop3 && (st.retrB !== null || st.topB !== null)) ev.bytesOut = (st.retrB ?? 0) + (st.topB ?? 0);
  }
  const a: Record<string, AttrValue> = {};
  if (l.service !== null) a.service = l.service;
  if (l.pid !== null) a.pid = l.pid;
  if (l.sid !== null) a.sid = l.sid;
  if (!logout) a.reason = cap(reason || 'Disconnected');
  if (pop3) {
    if (st.retrN !== null) a.retr = st.retrN;
    if (st.topN !== null) a.top = st.topN;
    if (st.del !== null) a.del = st.del;
    if (st.size !== null) a.size = st.size;
  }
  ev.attrs = a;
  return ok(ev);
}

/**
 * LMTP and LDA: one line per delivered copy.
 *   2.3+  lmtp(jan)<4711><Xy12>: msgid=<a@b>: saved mail to INBOX
 *   2.2   lmtp(4711, jan): Xy12: msgid=<a@b>: saved mail to INBOX
 *   sieve lmtp(jan)<4711><Xy12>: sieve: msgid=<a@b>: stored mail into mailbox 'INBOX'
 */
function parseDeliver(l: Line): ParseResult {
  if (l.level === Level.Debug || l.level === Level.Fatal || l.level === Level.Panic) return skip('dovecot debug/fatal/panic message');
  let s = l.text;
  if (s.startsWith('Connect from ') || s.startsWith('Disconnect from ')) return skip('dovecot lmtp connection');
  let sid = l.sid;
  if (!s.startsWith('msgid=') && !s.startsWith('sieve: ')) {
    // 2.2: the LMTP session id stands between the prefix and the message.
    const c = s.indexOf(': ');
    if (c > 0 && c <= 40 && isSessionId(s, 0, c)) {
      sid = s.slice(0, c);
      s = s.slice(c + 2);
    }
  }
  const sieve = s.startsWith('sieve: ');
  if (sieve) s = s.slice(7);
  if (!s.startsWith('msgid=')) {
    if (l.level === Level.Error || l.level === Level.Warning) return skip('dovecot delivery error or warning');
    if (sieve) return skip('dovecot sieve message without msgid');
    return unparsed('dovecot delivery message not recognised');
  }
  let msgid: string, after: number;
  if (s.charCodeAt(6) === C_LT) {
    const e = s.indexOf('>', 7);
    if (e < 0) return unparsed('dovecot delivery msgid without closing >');
    msgid = s.slice(7, e);
    after = e + 1;
  } else {
    let e = 6;
    while (e < s.length && s.charCodeAt(e) !== C_COMMA && s.charCodeAt(e) !== C_COLON) e++;
    msgid = s.slice(6, e);
    after = e;
  }
  // deliver_log_format may add `, from=<...>, size=1234` before the status.
  const colon = s.indexOf(': ', after);
  if (colon < 0) return unparsed('dovecot delivery without a status');
  const status = s.slice(colon + 2);
  let mailbox: string | null = null;
  if (status.startsWith('saved mail to ')) mailbox = status.slice(14);
  else if (status.startsWith('stored mail into mailbox ')) mailbox = status.slice(25).replace(/^'(.*)'$/, '$1');
  else if (status.startsWith('save failed to ') || status.startsWith('failed to store into mailbox')) return skip('dovecot delivery failed');
  else if (sieve) return skip('dovecot sieve action other than store');
  else return unparsed('dovecot delivery status not recognised');
  const sz = /\bv?size=(\d+)/.exec(s.slice(after, colon));
  const ev = event(l, 'lmtp-deliver');
  ev.account = l.user;
  ev.session = sessionKey(l.pid, sid);
  const a: Record<string, AttrValue> = {};
  if (l.service !== null) a.service = l.service;
  if (l.pid !== null) a.pid = l.pid;
  if (sid !== null) a.sid = sid;
  a.msgid = msgid;
  a.mailbox = mailbox;
  if (sieve) a.sieve = true;
  if (sz) a.size = +sz[1];
  ev.attrs = a;
  return ok(ev);
}

/** auth/auth-worker: failures name the passdb, the user and the IP. */
function parseAuth(l: Line): ParseResult {
  let s = l.text;
  if (l.level === Level.Debug) return skip('dovecot debug/fatal/panic message');
  // 2.3 auth-worker: `conn unix:auth-worker (pid=14830,uid=109): auth-worker<6>: pam(...): ...`
  if (s.startsWith('conn ')) {
    const c = s.indexOf('): ');
    if (c < 0) return unparsed('dovecot auth-worker connection prefix without a message');
    s = s.slice(c + 3);
    if (s.startsWith('auth-worker<')) {
      const e = s.indexOf('>: ');
      if (e > 0) s = s.slice(e + 3);
    }
    cur.i = 0;
    const lv = readLevel(s, cur);
    if (lv !== Level.None) { s = s.slice(cur.i); if (lv === Level.Debug) return skip('dovecot debug/fatal/panic message'); }
  }
  if (s.startsWith('pam_unix(')) return parsePamUnix(l, s);
  // `pam(jan,192.0.2.1,<AbCd>): ...`, `passwd-file(jan,192.0.2.1): ...`, or 2.4's `sql: ...`
  // with the user and IP in the process prefix `auth(jan,192.0.2.1,sasl:plain)<AbCd>:`.
  let backend: string | null = null, user: string | null = null, ip: string | null = null, sid = l.sid;
  let j = 0;
  while (j < s.length && isNameChar(s.charCodeAt(j))) j++;
  let text = s;
  if (j > 0 && s.charCodeAt(j) === C_LPAREN) {
    const close = s.indexOf('): ', j);
    if (close > 0) {
      backend = s.slice(0, j);
      const parts = s.slice(j + 1, close).split(',');
      user = parts[0];
      ip = parts.length > 1 ? parts[1] : null;
      if (parts.length > 2) {
        const third = parts[2];
        if (third.charCodeAt(0) === C_LT && third.charCodeAt(third.length - 1) === C_GT && third.length > 2) sid = third.slice(1, -1);
      }
      text = s.slice(close + 3);
    }
  } else if (j > 0 && s.charCodeAt(j) === C_COLON && s.charCodeAt(j + 1) === C_SPACE) {
    backend = s.slice(0, j);
    text = s.slice(j + 2);
  }
  if (user === null && l.args !== null && l.args.includes(',')) {
    const parts = l.args.split(',');
    user = parts[0];
    ip = parts[1];
  }
  if (!isCredentialFailure(text)) {
    if (l.level !== Level.None && l.level !== Level.Info) return skip('dovecot auth process error or warning');
    if (backend === null) return unparsed('dovecot auth process message not recognised');
    return unparsed('dovecot auth lookup message is not a known failure');
  }
  const ev = event(l, 'auth-fail');
  ev.account = user && user !== '?' ? user : null;
  ev.rip = normalizeIp(ip);
  ev.session = sessionKey(null, sid);
  const a: Record<string, AttrValue> = { service: 'auth' };
  if (sid !== null) a.sid = sid;
  if (backend !== null) a.backend = backend;
  a.reason = cap(withoutPassword(text), 120);
  ev.attrs = a;
  return ok(ev);
}

function isCredentialFailure(text: string): boolean {
  return text.includes('nknown user') || text.includes('assword mismatch') ||
    text.includes('pam_authenticate() failed') || text.includes('nvalid credentials') ||
    text.includes('uthentication failure') || text.includes('User not known');
}

/** auth_verbose_passwords puts the attempted password (or its hash) in the line: never keep it. */
function withoutPassword(text: string): string {
  if (!text.includes('given password')) return text;
  const k = text.search(/\s*\((?:SHA1 of )?given password/);
  return k >= 0 ? text.slice(0, k) : text.slice(0, text.indexOf('given password'));
}

/**
 * PAM's own failure line, logged under the `auth` tag from Dovecot's auth process:
 *   pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=jan rhost=192.0.2.1  user=jan
 * ruser and user are the name the client typed and may hold ` rhost=`: the rhost is the last
 * one before pam_unix's two-space `  user=` tail.
 */
function parsePamUnix(l: Line, s: string): ParseResult {
  if (!s.startsWith('pam_unix(dovecot') && !s.includes(' tty=dovecot')) return skip('PAM message from another service');
  if (!s.includes('authentication failure')) return skip('dovecot PAM message that is not a failure');
  const tail = s.lastIndexOf('  user=');
  const end = tail >= 0 ? tail : s.length;
  const rh = s.lastIndexOf(' rhost=', end);
  let rip: string | null = null;
  if (rh >= 0) {
    let e = s.indexOf(' ', rh + 7);
    if (e < 0 || e > end) e = end;
    rip = normalizeIp(s.slice(rh + 7, e));
  }
  let user: string | null = null;
  if (tail >= 0) user = s.slice(tail + 7).trim() || null;
  else {
    const ru = s.indexOf(' ruser=');
    if (ru >= 0) user = s.slice(ru + 7, rh > ru ? rh : undefined).trim() || null;
  }
  const ev = event(l, 'auth-fail');
  ev.account = user;
  ev.rip = rip;
  ev.attrs = { service: 'auth', backend: 'pam', reason: 'authentication failure' };
  return ok(ev);
}

/**
 * Plesk's logout format, with no process prefix:
 *   service=imap, user=jan@example.org, ip=[2001:db8::7]. Logged out rcvd=214, sent=3328
 */
function parsePleskLogout(l: Line): ParseResult {
  const s = l.text;
  const dot = s.indexOf('. ');
  const u = s.indexOf(', user=');
  const ip = dot > 0 ? s.lastIndexOf(', ip=[', dot) : -1;
  if (dot < 0 || u < 8 || ip < u || s.charCodeAt(dot - 1) !== 93 /* ] */) return unparsed('dovecot service= line not recognised');
  l.service = PROCESSES.get(s.slice(8, u))?.service ?? null;
  l.user = s.slice(u + 7, ip) || null;
  const r = parseMail({ ...l, text: s.slice(dot + 2) });
  if (r.type === 'event') r.event.rip = normalizeIp(s.slice(ip + 6, dot - 1));
  return r;
}

/**
 * Dovecot 1.x's own log file puts the level before the process (log_timestamp, then
 * `Info: IMAP(jan): Disconnected: Logged out bytes=59/566`), so the envelope takes the level
 * for a program tag. Claimed only when a Dovecot process prefix follows.
 */
const LEVEL_TAGS = new Set(['Info', 'Warning', 'Error', 'Fatal', 'Panic', 'Debug']);

function parseMessage(env: Envelope, ctx: ParseContext): ParseResult {
  if (env.program !== null && LEVEL_TAGS.has(env.program)) {
    if (!readPrefix(env.msg, 0, prefix) || !(PROCESSES.has(prefix.name) || PROCESSES.has(prefix.name.toLowerCase()))) {
      return skip(`program not read by bytetrail: ${env.program}`);
    }
    return parseMessage({ ...env, program: null, msg: `${env.program}: ${env.msg}` }, ctx);
  }
  const msg = env.msg;
  const program = env.program;
  const l = line;
  l.env = env; l.program = program ?? ''; l.service = null; l.level = Level.None;
  l.user = null; l.pid = null; l.sid = null; l.args = null;
  const at = cur;
  at.i = 0;
  // Old versions and some relays repeat the ident inside the message: `dovecot: dovecot: auth(default): ...`.
  while (msg.startsWith('dovecot: ', at.i)) at.i += 9;
  l.level = readLevel(msg, at);
  let name: string;
  let info: ProcessInfo | undefined;
  if (program === null || program === 'dovecot') {
    if (!readPrefix(msg, at.i, prefix)) {
      l.text = msg.slice(at.i);
      if (l.text.startsWith('service=')) return parsePleskLogout(l);
      if (program === null) return unparsed('not a dovecot line: no process prefix');
      if (l.level !== Level.None || l.text.startsWith('Dovecot v') || l.text.startsWith('Killed with signal')) return skip('dovecot master message');
      return unparsed('dovecot message without a process prefix');
    }
    name = prefix.name;
    info = PROCESSES.get(name) ?? PROCESSES.get(name.toLowerCase());
    if (program === null) l.program = name;
    l.args = prefix.args;
    l.pid = prefix.pid;
    l.sid = prefix.sid;
    at.i = prefix.rest;
    if (l.level === Level.None) l.level = readLevel(msg, at);
  } else {
    // Split tag: the program is the process, and the envelope keeps what stood in the tag:
    // `imap(jan)<4711><AbCd>: Logged out ...` gives tagArgs `(jan)<4711><AbCd>`.
    name = program === 'dovecot-lda' ? 'lda' : program;
    info = PROCESSES.get(name);
    l.pid = env.pid;
    if (env.tagArgs !== null && readPrefix(name + env.tagArgs + ': ', 0, prefix)) {
      l.args = prefix.args;
      l.pid = prefix.pid ?? env.pid;
      l.sid = prefix.sid;
    }
  }
  if (!info) return unparsed('unknown dovecot process prefix');
  l.service = info.service;
  l.text = msg.slice(at.i);
  switch (info.role) {
    case 'login':
      return parseLogin(l);
    case 'mail':
      l.user = l.args !== null && l.args !== '' ? l.args : null;
      return parseMail(l);
    case 'deliver': {
      const a = l.args;
      if (a !== null) {
        // `lmtp(jan)`, `lmtp(4711)` (connection level), `lmtp(4711, jan)` (2.2).
        const comma = a.indexOf(', ');
        if (comma > 0 && uintAt(a, 0, comma) !== null) { l.pid ??= uintAt(a, 0, comma); l.user = a.slice(comma + 2) || null; }
        else if (uintAt(a, 0, a.length) !== null) l.pid ??= uintAt(a, 0, a.length);
        else l.user = a || null;
      }
      return parseDeliver(l);
    }
    case 'auth':
      return parseAuth(l);
    default:
      return skip('dovecot internal process message');
  }
}

export const dovecot: SourceParser = {
  source: 'dovecot',
  matchesProgram: (program: string) => PROGRAMS.has(program) || LEVEL_TAGS.has(program),
  /**
   * Dovecot's own log file with a year-ful log_timestamp (`2026-11-20 09:20:02 imap-login: ...`)
   * reaches us without a tag: claim it when it opens with a Dovecot process prefix.
   */
  sniffNative(msg: string): boolean {
    let j = 0;
    const n = Math.min(msg.length, 24);
    while (j < n && isNameChar(msg.charCodeAt(j))) j++;
    const c = msg.charCodeAt(j);
    if (j === 0 || (c !== C_COLON && c !== C_LPAREN && c !== C_LT)) return false;
    return SNIFF_NAMES.has(msg.slice(0, j));
  },
  parseMessage,
};

export const parseLine = lineParser(dovecot);
