/**
 * The syslog envelope: timestamp, host, program and pid in front of a message.
 * Parsed once per line, then handed to the per-program parser (as VRL's
 * parse_linux_authorization builds on parse_syslog). Pure: the zone and the reference
 * instant come in through the context.
 */
import type { ParseContext } from '../events.js';
import type { StampReader } from '../sources/types.js';
import { monthNumber, monthNumberAt, parseOffset, yearFor, zonedToUtc } from '../time.js';

export interface Envelope {
  /** UTC ms. */
  ts: number;
  host: string | null;
  /** Program tag without pid, e.g. `postfix/submission/smtpd`, `dovecot`, `kernel`; null for program-native log files. */
  program: string | null;
  pid: number | null;
  /** The message after `prog[pid]: `, or the whole rest for program-native formats. */
  msg: string;
  /**
   * How the stamp was written: `bsd`, `rfc3339`, `rfc5424`, `journal-json`, `native` (a program's
   * own log file: OpenVPN, BIND, rspamd, Dovecot log_path), `kernel` (bare dmesg).
   */
  form: 'bsd' | 'rfc3339' | 'rfc5424' | 'journal-json' | 'native' | 'kernel';
  /**
   * What stood between the program name and the `:` or `[pid]` of the tag, e.g. `(jan)<4711><AbCd>`
   * in Dovecot's `imap(jan)<4711><AbCd>: ...` or `(pam_unix)` in `sshd(pam_unix)[12]:`; else null.
   */
  tagArgs: string | null;
}

export type EnvelopeResult = Envelope | { error: string };

/**
 * The sources' own stamp readers, in registration order. The source registry
 * (src/sources/index.ts) adds them as it registers each source; the dispatcher imports the
 * registry, so every line it parses sees them. (The registry is not imported here: the
 * parsers build on this module, and the registry on the parsers.)
 */
const stampReaders: StampReader[] = [];

export function registerStampReader(r: StampReader): void {
  stampReaders.push(r);
}

const isDigit = (c: number) => c >= 48 && c <= 57;
const d2 = (s: string, i: number) => (s.charCodeAt(i) - 48) * 10 + (s.charCodeAt(i + 1) - 48);
const d4 = (s: string, i: number) => d2(s, i) * 100 + d2(s, i + 2);

/** `HH:MM:SS` at i? */
function isHms(s: string, i: number): boolean {
  return isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 1)) && s.charCodeAt(i + 2) === 58 &&
    isDigit(s.charCodeAt(i + 3)) && isDigit(s.charCodeAt(i + 4)) && s.charCodeAt(i + 5) === 58 &&
    isDigit(s.charCodeAt(i + 6)) && isDigit(s.charCodeAt(i + 7));
}

/** `YYYY-MM-DD` at i? */
function isYmd(s: string, i: number): boolean {
  return isDigit(s.charCodeAt(i)) && isDigit(s.charCodeAt(i + 1)) && isDigit(s.charCodeAt(i + 2)) && isDigit(s.charCodeAt(i + 3)) &&
    s.charCodeAt(i + 4) === 45 && isDigit(s.charCodeAt(i + 5)) && isDigit(s.charCodeAt(i + 6)) && s.charCodeAt(i + 7) === 45 &&
    isDigit(s.charCodeAt(i + 8)) && isDigit(s.charCodeAt(i + 9));
}

// Index after the fraction that frac() read.
let fracEnd = 0;

/** Fractional seconds at i (after a '.' or ','), as ms; fracEnd is set to the index after them. */
function frac(s: string, i: number): number {
  fracEnd = i;
  const c = s.charCodeAt(i);
  if (c !== 46 && c !== 44) return 0;
  let j = i + 1, ms = 0, digits = 0;
  while (isDigit(s.charCodeAt(j))) {
    if (digits < 3) ms = ms * 10 + (s.charCodeAt(j) - 48);
    digits++; j++;
  }
  if (digits === 0) return 0;
  while (digits < 3) { ms *= 10; digits++; }
  fracEnd = j;
  return ms;
}

function validDate(mo: number, d: number, h: number, mi: number, s: number): boolean {
  // 60 allowed for a leap second (RFC 5424 permits it; it is read as :59).
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60;
}

// What splitTag found; read right after the call (one line at a time, no allocation).
let tHost: string | null = null;
let tProgram: string | null = null;
let tPid: number | null = null;
let tMsg = '';
let tArgs: string | null = null;

/**
 * Split `host prog[pid]: msg` (or `prog[pid]: msg` without a host) starting at i, into
 * tHost, tProgram, tPid and tMsg. Without a tag, the host is the first word and the message
 * the rest.
 */
function splitTag(line: string, i: number): void {
  const n = line.length;
  while (line.charCodeAt(i) === 32) i++;
  // Optional `<facility.priority>` written by some syslog daemons before the host.
  if (line.charCodeAt(i) === 60) {
    const end = line.indexOf('>', i);
    if (end > i && end - i < 24) { i = end + 1; while (line.charCodeAt(i) === 32) i++; }
  }
  const sp1 = line.indexOf(' ', i);
  if (sp1 < 0) { tHost = null; tProgram = null; tPid = null; tArgs = null; tMsg = line.slice(i); return; }
  // `prog[pid]:` or `prog:` directly after the date (no hostname, e.g. Dovecot's own log_path).
  // `Nov 20 09:50:09 unbound[2121:0] info: ...` (unbound with log-time-ascii): a pid:thread tag, no host.
  if (tagAt(line, i, sp1) && (line.charCodeAt(sp1 - 1) === 58 || pidThreadAtEnd(line, i, sp1))) {
    tHost = null; tProgram = tagProgram; tPid = tagPid; tArgs = tagArgsV; tMsg = line.slice(sp1 + 1);
    return;
  }
  let j = sp1 + 1;
  while (line.charCodeAt(j) === 32) j++;
  let sp2 = line.indexOf(' ', j);
  if (sp2 < 0) sp2 = n;
  tHost = line.slice(i, sp1);
  if (tagAt(line, j, sp2)) { tProgram = tagProgram; tPid = tagPid; tArgs = tagArgsV; tMsg = sp2 + 1 < n ? line.slice(sp2 + 1) : ''; return; }
  tProgram = null; tPid = null; tArgs = null; tMsg = line.slice(j);
}

/** Does line[a, b) end in `[digits:hex]` (unbound's pid:thread)? */
function pidThreadAtEnd(line: string, a: number, b: number): boolean {
  if (line.charCodeAt(b - 1) !== 93) return false;
  const lb = line.lastIndexOf('[', b - 1);
  if (lb < a) return false;
  let k = lb + 1;
  while (k < b - 1 && isDigit(line.charCodeAt(k))) k++;
  if (k === lb + 1 || line.charCodeAt(k) !== 58) return false;
  const h0 = ++k;
  while (k < b - 1 && isLowerHex(line.charCodeAt(k))) k++;
  return k > h0 && k === b - 1;
}

const isLowerHex = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102);

// What tagAt found.
let tagProgram = '';
let tagPid: number | null = null;
let tagArgsV: string | null = null;

/**
 * Is line[a, b) a program tag: `prog[pid]:`, `prog:`, `prog[pid]`, `[prog]`, `prog(pam_unix)[pid]`?
 * Sets tagProgram and tagPid. (`unbound[1234:0]` carries pid:thread, the thread in hex.)
 */
function tagAt(line: string, a: number, b: number): boolean {
  if (b <= a) return false;
  let e = b;
  const last = line.charCodeAt(e - 1);
  if (last === 58) e--;
  else if (last !== 93) return false;
  if (e <= a) return false;
  let pid: number | null = null;
  let s = a;
  const lb = line.lastIndexOf('[', e - 1);
  if (lb > a && lb < e && line.charCodeAt(e - 1) === 93) {
    // `[digits]` or `[digits:hex]` is a pid; anything else in brackets is dropped with them.
    let k = lb + 1;
    while (k < e - 1 && isDigit(line.charCodeAt(k))) k++;
    const digitsEnd = k;
    if (digitsEnd > lb + 1) {
      let okPid = k === e - 1;
      if (!okPid && line.charCodeAt(k) === 58) {
        k++;
        const h0 = k;
        while (k < e - 1 && isLowerHex(line.charCodeAt(k))) k++;
        okPid = k > h0 && k === e - 1;
      }
      if (okPid) pid = digitsEnd - lb - 1 <= 15 ? uint(line, lb + 1, digitsEnd) : +line.slice(lb + 1, digitsEnd);
    }
    e = lb;
  } else if (lb === a) {
    // `[test-demo]` (fail2ban sample)
    const close = line.indexOf(']', a);
    s = a + 1;
    // Without a `]` inside, everything after the `[` is the name.
    if (close > a && close < e) e = close;
  }
  let paren = -1;
  for (let k = s; k < e; k++) if (line.charCodeAt(k) === 40) { paren = k; break; }
  const args = paren > s ? line.slice(paren, e) : null;
  if (paren > s) e = paren;
  if (e <= s || e - s > 64) return false;
  tagProgram = line.slice(s, e);
  tagPid = pid;
  tagArgsV = args;
  return true;
}

function uint(s: string, a: number, b: number): number {
  let v = 0;
  for (let k = a; k < b; k++) v = v * 10 + (s.charCodeAt(k) - 48);
  return v;
}

/** Parse a journalctl `-o json` record. */
function journalJson(line: string): EnvelopeResult {
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line) as Record<string, unknown>;
  } catch {
    return { error: 'journal JSON line is not valid JSON' };
  }
  const rt = rec.__REALTIME_TIMESTAMP;
  if (typeof rt !== 'string' || !/^\d+$/.test(rt)) return { error: 'journal JSON record without __REALTIME_TIMESTAMP' };
  const msg = rec.MESSAGE;
  let text: string;
  if (typeof msg === 'string') text = msg;
  else if (Array.isArray(msg)) text = Buffer.from(msg as number[]).toString('utf8');
  else return { error: 'journal JSON record without a text MESSAGE' };
  const ident = typeof rec.SYSLOG_IDENTIFIER === 'string' ? rec.SYSLOG_IDENTIFIER
    : rec._TRANSPORT === 'kernel' ? 'kernel' : typeof rec._COMM === 'string' ? rec._COMM : null;
  const pid = typeof rec._PID === 'string' && /^\d+$/.test(rec._PID) ? +rec._PID
    : typeof rec.SYSLOG_PID === 'string' && /^\d+$/.test(rec.SYSLOG_PID) ? +rec.SYSLOG_PID : null;
  return {
    ts: Math.floor(Number(rt) / 1000),
    host: typeof rec._HOSTNAME === 'string' ? rec._HOSTNAME : null,
    program: ident, pid, msg: text, form: 'journal-json', tagArgs: null,
  };
}

/** `Mon ` ... `Sun ` at i? */
function isDayName(s: string, i: number): boolean {
  if (s.charCodeAt(i + 3) !== 32) return false;
  const a = s.charCodeAt(i), b = s.charCodeAt(i + 1), c = s.charCodeAt(i + 2);
  switch (a) {
    case 77: return b === 111 && c === 110; // Mon
    case 84: return (b === 117 && c === 101) || (b === 104 && c === 117); // Tue Thu
    case 87: return b === 101 && c === 100; // Wed
    case 70: return b === 114 && c === 105; // Fri
    case 83: return b === 97 ? c === 116 : b === 117 && c === 110; // Sat Sun
  }
  return false;
}

/*
 * Lines come in runs that share a stamp down to the second, so the last stamp of each common
 * form is kept with its UTC time (without the fraction): a line that starts with the same
 * characters gets the same time without reading the date again. Valid for one zone and
 * reference time; the fraction, if any, is read from each line.
 */
let cacheTz = '';
let cacheRef = NaN;
/** `Nov 20 09:20:02` (BSD, from the start of the line to the end of the seconds). */
let bsdKey = '';
let bsdTs = 0;
/** `2026-11-20 09:20:02` (a program's own file, no offset). */
let isoKey = '';
let isoTs = 0;

function envelope(ts: number, host: string | null, program: string | null, pid: number | null, msg: string, form: Envelope['form'], tagArgs: string | null = null): Envelope {
  return { ts, host, program, pid, msg, form, tagArgs };
}

/** The rest of a BSD line after its stamp (which ends at k): the fraction, then the tag. */
function bsdRest(line: string, k: number, ts0: number): Envelope {
  const ms = frac(line, k);
  let rest = fracEnd;
  if (line.charCodeAt(rest) === 93) rest++; // `[Jun 21 16:56:03]` handled by the recursion in parseEnvelope
  splitTag(line, rest);
  return envelope(ts0 + ms, tHost, tProgram, tPid, tMsg, 'bsd', tArgs);
}

/**
 * Parse the envelope of one log line. Recognised, in order:
 * - `{"__REALTIME_TIMESTAMP": ...}`: journalctl -o json
 * - `<34>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg`: RFC 5424
 * - a program's own stamp, read by the source that declares it (src/sources/, `stampReaders`)
 * - `[123456.789] msg`: bare kernel ring buffer, needs ctx.bootTime
 * - `2026-11-20T09:20:02.123456+01:00 host prog[pid]: msg`: rsyslog RFC 3339, journalctl -o short-iso
 * - `2026-11-20 09:20:02 msg`: ISO 8601 local time, no host or tag (OpenVPN, rspamd, Exim: native)
 * - `@400000004c91b044077a9e94 prog: msg`: TAI64N, daemontools/s6 multilog (native)
 * - `Fri Nov 20 09:20:02 2026 msg`: asctime, older OpenVPN and dmesg -T (native)
 * - `Apr 18 23:11:08 host prog[pid]: msg`, optionally `<13>` or `[..]` around the date: BSD syslog
 * - a program's own stamp that could also begin a syslog line (`fallback`: the access log's)
 * The forms here are standards several programs write; a form only one program writes is read
 * by that program's source module, so a new source with a new stamp touches only its module.
 */
export function parseEnvelope(line: string, ctx: ParseContext): EnvelopeResult {
  if (ctx.tz !== cacheTz || ctx.refTime !== cacheRef) {
    cacheTz = ctx.tz; cacheRef = ctx.refTime;
    bsdKey = ''; isoKey = '';
  }
  // The stamp of the line before, again (see the cache above).
  if (bsdKey !== '' && line.startsWith(bsdKey)) return bsdRest(line, bsdKey.length, bsdTs);
  if (isoKey !== '' && line.startsWith(isoKey)) {
    const ms = frac(line, isoKey.length);
    const j = fracEnd;
    const oc = line.charCodeAt(j);
    // With an offset after it, the stamp means something else: read it in full below.
    if (oc !== 90 && oc !== 122 && oc !== 43 && oc !== 45 && !line.startsWith(' UTC ', j) && !line.startsWith(' GMT ', j)) {
      return envelope(isoTs + ms, null, null, null, line.slice(j).trimStart(), 'native');
    }
  }

  let i = 0;
  const n = line.length;
  while (i < n && (line.charCodeAt(i) === 32 || line.charCodeAt(i) === 9)) i++;
  if (i >= n) return { error: 'empty line' };
  let c = line.charCodeAt(i);

  if (c === 123 /* { */) {
    if (line.indexOf('"__REALTIME_TIMESTAMP"', i) > 0) return journalJson(line.slice(i));
    return { error: 'JSON line that is not a journal record' };
  }

  // `<PRI>`: RFC 5424 when followed by `1 `, else a BSD line with a priority prefix.
  if (c === 60) {
    const end = line.indexOf('>', i);
    if (end > i && end - i <= 4) {
      i = end + 1;
      if (line.charCodeAt(i) === 49 && line.charCodeAt(i + 1) === 32) return rfc5424(line, i + 2);
      c = line.charCodeAt(i);
    }
  }

  // Program-native stamps (BIND's, unbound's, pve-firewall's), which no syslog form reads.
  for (const r of stampReaders) {
    if (r.fallback) continue;
    const got = r.read(line, i, ctx);
    if (got !== null) return got;
  }

  if (c === 91 /* [ */) {
    // `[123456.789] msg` (dmesg) or `[Jun 21 16:56:02] host ...` or `[Fri Nov 20 09:20:02 2026] msg` (dmesg -T)
    const close = line.indexOf(']', i);
    if (close < 0) return { error: 'unclosed [ at start of line' };
    const inner = line.slice(i + 1, close).trim();
    if (/^\d+\.\d+$/.test(inner)) {
      if (ctx.bootTime == null) return { error: 'kernel uptime stamp without a wall-clock time (pass the boot time)' };
      return { ts: ctx.bootTime + Math.round(parseFloat(inner) * 1000), host: null, program: 'kernel', pid: null, msg: line.slice(close + 1).trimStart(), form: 'kernel', tagArgs: null };
    }
    const sub = parseEnvelope(inner + line.slice(close + 1), ctx);
    return sub;
  }

  if (isYmd(line, i)) {
    const y = d4(line, i), mo = d2(line, i + 5), d = d2(line, i + 8);
    const sep = line.charCodeAt(i + 10);
    if ((sep === 84 /* T */ || sep === 32) && isHms(line, i + 11)) {
      const h = d2(line, i + 11), mi = d2(line, i + 14), s = d2(line, i + 17);
      if (!validDate(mo, d, h, mi, s)) return { error: 'timestamp out of range' };
      const ms = frac(line, i + 19);
      let j = fracEnd;
      let off: number | null = null;
      const oc = line.charCodeAt(j);
      if (oc === 90 || oc === 122) { off = 0; j++; }
      else if (oc === 43 || oc === 45) {
        let k = j + 1;
        while (k < n && (isDigit(line.charCodeAt(k)) || line.charCodeAt(k) === 58)) k++;
        off = parseOffset(line.slice(j, k));
        if (off !== null) j = k;
      } else if (line.startsWith(' UTC ', j) || line.startsWith(' GMT ', j)) { off = 0; j += 4; }
      const sec = s === 60 ? 59 : s;
      if (sep === 84 || off !== null) {
        const ts = off !== null ? Date.UTC(y, mo - 1, d, h, mi, sec, ms) - off : zonedToUtc(ctx.tz, y, mo, d, h, mi, sec, ms);
        splitTag(line, j);
        return envelope(ts, tHost, tProgram, tPid, tMsg, 'rfc3339', tArgs);
      }
      // `2026-11-20 09:20:02 msg`: a program's own file (OpenVPN, rspamd). No host or tag.
      const ts0 = zonedToUtc(ctx.tz, y, mo, d, h, mi, sec, 0);
      if (i === 0) { isoKey = line.slice(0, 19); isoTs = ts0; }
      return envelope(ts0 + ms, null, null, null, line.slice(j).trimStart(), 'native');
    }
    return { error: 'date without a time' };
  }

  // `@400000004c91b044077a9e94 imap-login: ...` (TAI64N, daemontools/s6 multilog)
  if (c === 64 /* @ */ && line.charCodeAt(i + 25) === 32 && /^@4[0-9a-f]{23}$/.test(line.slice(i, i + 25))) {
    // daemontools writes 2^62 + 10 + Unix seconds (TAI was 10 s ahead of UTC in 1970); leap
    // seconds since then are not applied, as tai64nlocal does not either.
    const secs = Number(BigInt('0x' + line.slice(i + 1, i + 17)) - (1n << 62n) - 10n);
    const nanos = parseInt(line.slice(i + 17, i + 25), 16);
    splitTag(line, i + 26);
    return envelope(secs * 1000 + Math.floor(nanos / 1e6), tHost, tProgram, tPid, tMsg, 'native', tArgs);
  }

  // `Fri Nov 20 09:20:02 2026 msg` (older OpenVPN, dmesg -T)
  if (isDayName(line, i)) {
    const m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})/.exec(line.slice(i, i + 32));
    if (m) {
      const mo = monthNumber(m[1]), d = +m[2], h = +m[3], mi = +m[4], s = +m[5], y = +m[6];
      if (!mo || !validDate(mo, d, h, mi, s)) return { error: 'timestamp out of range' };
      const ts = zonedToUtc(ctx.tz, y, mo, d, h, mi, s === 60 ? 59 : s);
      return { ts, host: null, program: null, pid: null, msg: line.slice(i + m[0].length).trimStart(), form: 'native', tagArgs: null };
    }
  }

  // BSD: `Apr 18 23:11:08` or `Apr  8 23:11:08`, month possibly French (`août 19 11:08:37`).
  const sp = line.indexOf(' ', i);
  if (sp > i && sp - i <= 6) {
    const mo = monthNumberAt(line, i, sp);
    if (mo) {
      let j = sp;
      while (line.charCodeAt(j) === 32) j++;
      let d = 0, dig = 0;
      while (isDigit(line.charCodeAt(j)) && dig < 2) { d = d * 10 + line.charCodeAt(j) - 48; j++; dig++; }
      if (dig === 0 || line.charCodeAt(j) !== 32) return { error: 'month name without a day' };
      j++;
      // `Apr 18 2026 23:11:08` (some daemons write the year)
      let year: number | null = null;
      if (isDigit(line.charCodeAt(j)) && isDigit(line.charCodeAt(j + 3)) && line.charCodeAt(j + 4) === 32) {
        year = d4(line, j); j += 5;
      }
      if (!isHms(line, j)) return { error: 'month and day without a time' };
      const h = d2(line, j), mi = d2(line, j + 3), s = d2(line, j + 6);
      if (!validDate(mo, d, h, mi, s)) return { error: 'timestamp out of range' };
      const sec = s === 60 ? 59 : s;
      const y = year ?? yearFor(ctx.tz, ctx.refTime, mo, d, h, mi, sec);
      const ts0 = zonedToUtc(ctx.tz, y, mo, d, h, mi, sec, 0);
      if (i === 0) { bsdKey = line.slice(0, j + 8); bsdTs = ts0; }
      return bsdRest(line, j + 8, ts0);
    }
  }
  // A stamp a syslog line could also begin with, read only when no syslog form did.
  for (const r of stampReaders) {
    if (!r.fallback) continue;
    const got = r.read(line, i, ctx);
    if (got !== null) return got;
  }
  return { error: 'no timestamp recognised' };
}

/** `<34>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg`, from after `1 `. */
function rfc5424(line: string, i: number): EnvelopeResult {
  const parts: string[] = [];
  let j = i;
  for (let k = 0; k < 5; k++) {
    const sp = line.indexOf(' ', j);
    if (sp < 0) { parts.push(line.slice(j)); j = line.length; break; }
    parts.push(line.slice(j, sp));
    j = sp + 1;
  }
  if (parts.length < 5) return { error: 'RFC 5424 header is incomplete' };
  const [stamp, host, app, procid] = parts;
  const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)$/.exec(stamp);
  if (!m) return { error: 'RFC 5424 timestamp not recognised' };
  const off = parseOffset(m[8]);
  const mo = +m[2], d = +m[3], h = +m[4], mi = +m[5], s = +m[6];
  if (off === null || !validDate(mo, d, h, mi, s)) return { error: 'RFC 5424 timestamp out of range' };
  const ms = m[7] ? +(m[7] + '00').slice(0, 3) : 0;
  const ts = Date.UTC(+m[1], mo - 1, d, h, mi, s === 60 ? 59 : s, ms) - off;
  // Structured data: `-` or one or more `[...]` groups (with `]` escaped as `\]`).
  let msg = line.slice(j);
  if (msg.startsWith('- ')) msg = msg.slice(2);
  else if (msg === '-') msg = '';
  else if (msg.startsWith('[')) {
    let k = 0;
    while (msg.charCodeAt(k) === 91) {
      k++;
      while (k < msg.length && !(msg.charCodeAt(k) === 93 && msg.charCodeAt(k - 1) !== 92)) k++;
      k++;
    }
    msg = msg.slice(k).trimStart();
  }
  if (msg.startsWith('\ufeff')) msg = msg.slice(1);
  else if (msg.startsWith('BOM')) msg = msg.slice(3); // logstash's spec writes the BOM as the text "BOM"
  return {
    ts,
    host: host === '-' ? null : host,
    program: app === '-' ? null : app,
    pid: /^\d+$/.test(procid) ? +procid : null,
    msg: msg.trimStart(),
    form: 'rfc5424',
    tagArgs: null,
  };
}

export function isEnvelopeError(r: EnvelopeResult): r is { error: string } {
  return (r as { error?: string }).error !== undefined;
}

/**
 * The envelope of a line whose stamp a source's reader has read: `ts`, then the host and
 * program tag from index i on, as in a syslog line (`[1732094402] unbound[1234:0] info: ...`).
 */
export function taggedEnvelope(line: string, i: number, ts: number): Envelope {
  splitTag(line, i);
  return envelope(ts, tHost, tProgram, tPid, tMsg, 'native', tArgs);
}

/** The envelope of a program's own line with no host or tag: its stamp, then the message. */
export function nativeEnvelope(ts: number, msg: string, program: string | null = null): Envelope {
  return envelope(ts, null, program, null, msg, 'native');
}

/** `.123` or `,123` at i, as ms, and the index after it (0 and i when there is none). */
export function fractionAt(line: string, i: number): [ms: number, end: number] {
  const ms = frac(line, i);
  return [ms, fracEnd];
}

export { isDigit, d2, d4, isHms, validDate };
