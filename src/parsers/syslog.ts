/**
 * The syslog envelope: timestamp, host, program and pid in front of a message.
 * Parsed once per line, then handed to the per-program parser (as VRL's
 * parse_linux_authorization builds on parse_syslog). Pure: the zone and the reference
 * instant come in through the context.
 */
import type { ParseContext } from '../events.js';
import { monthNumber, parseOffset, yearFor, zonedToUtc } from '../time.js';

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
}

export type EnvelopeResult = Envelope | { error: string };

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

/** Fractional seconds at i (after a '.' or ','), returned as ms and the index after them. */
function frac(s: string, i: number): [number, number] {
  if (s.charCodeAt(i) !== 46 && s.charCodeAt(i) !== 44) return [0, i];
  let j = i + 1, ms = 0, digits = 0;
  while (isDigit(s.charCodeAt(j))) {
    if (digits < 3) ms = ms * 10 + (s.charCodeAt(j) - 48);
    digits++; j++;
  }
  if (digits === 0) return [0, i];
  while (digits < 3) { ms *= 10; digits++; }
  return [ms, j];
}

function validDate(mo: number, d: number, h: number, mi: number, s: number): boolean {
  // 60 allowed for a leap second (RFC 5424 permits it; it is read as :59).
  return mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && s <= 60;
}

/**
 * Split `host prog[pid]: msg` (or `prog[pid]: msg` without a host) starting at i.
 * Returns null when the text does not look like a tag.
 */
function splitTag(line: string, i: number): { host: string | null; program: string | null; pid: number | null; msg: string } {
  while (line.charCodeAt(i) === 32) i++;
  // Optional `<facility.priority>` written by some syslog daemons before the host.
  if (line.charCodeAt(i) === 60) {
    const end = line.indexOf('>', i);
    if (end > i && end - i < 24) { i = end + 1; while (line.charCodeAt(i) === 32) i++; }
  }
  const sp1 = line.indexOf(' ', i);
  if (sp1 < 0) return { host: null, program: null, pid: null, msg: line.slice(i) };
  const first = line.slice(i, sp1);
  // `prog[pid]:` or `prog:` directly after the date (no hostname, e.g. Dovecot's own log_path).
  const asTag = tagOf(first);
  // `Nov 20 09:50:09 unbound[2121:0] info: ...` (unbound with log-time-ascii): a pid:thread tag, no host.
  if (asTag && (first.charCodeAt(first.length - 1) === 58 || /\[\d+:[0-9a-f]+\]$/.test(first))) {
    return { host: null, program: asTag.program, pid: asTag.pid, msg: line.slice(sp1 + 1) };
  }
  let j = sp1 + 1;
  while (line.charCodeAt(j) === 32) j++;
  let sp2 = line.indexOf(' ', j);
  if (sp2 < 0) sp2 = line.length;
  const second = line.slice(j, sp2);
  const tag = tagOf(second);
  if (tag) return { host: first, program: tag.program, pid: tag.pid, msg: line.slice(Math.min(sp2 + 1, line.length)) };
  return { host: first, program: null, pid: null, msg: line.slice(j) };
}

/** `prog[pid]:`, `prog:`, `prog[pid]`, `[prog]`, `prog(pam_unix)[pid]` → program and pid. */
function tagOf(tok: string): { program: string; pid: number | null } | null {
  let t = tok;
  if (t.charCodeAt(t.length - 1) === 58) t = t.slice(0, -1);
  else if (t.charCodeAt(t.length - 1) !== 93) return null;
  if (t === '') return null;
  let pid: number | null = null;
  const lb = t.lastIndexOf('[');
  if (lb > 0 && t.charCodeAt(t.length - 1) === 93) {
    const p = t.slice(lb + 1, -1);
    // `unbound[1234:0]` carries pid:thread
    // unbound prints the thread id in hex: `unbound[2121:a]`
    const pm = /^(\d+)(?::[0-9a-f]+)?$/.exec(p);
    if (pm) pid = +pm[1];
    t = t.slice(0, lb);
  } else if (lb === 0) {
    // `[test-demo]` (fail2ban sample)
    t = t.slice(1, t.indexOf(']') > 0 ? t.indexOf(']') : undefined);
  }
  const paren = t.indexOf('(');
  if (paren > 0) t = t.slice(0, paren);
  if (t === '' || t.length > 64) return null;
  return { program: t, pid };
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
    program: ident, pid, msg: text, form: 'journal-json',
  };
}

const DAYS = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) /;

/**
 * Parse the envelope of one log line. Recognised, in order:
 * - `{"__REALTIME_TIMESTAMP": ...}`: journalctl -o json
 * - `<34>1 2003-10-11T22:14:15.003Z host app procid msgid [sd] msg`: RFC 5424
 * - `2026-11-20T09:20:02.123456+01:00 host prog[pid]: msg`: rsyslog RFC 3339, journalctl -o short-iso
 * - `Apr 18 23:11:08 host prog[pid]: msg`, optionally `<13>` or `[..]` around the date: BSD syslog
 * - `2026-11-20 09:20:02 msg`: OpenVPN's and rspamd's own log files (native)
 * - `Fri Nov 20 09:20:02 2026 msg`: older OpenVPN (native)
 * - `20-Nov-2026 09:30:01.123 msg`: BIND's own channel (native)
 * - `[123456.789] msg`: bare kernel ring buffer, needs ctx.bootTime
 */
export function parseEnvelope(line: string, ctx: ParseContext): EnvelopeResult {
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

  if (c === 91 /* [ */) {
    // `[123456.789] msg` (dmesg) or `[Jun 21 16:56:02] host ...` or `[Fri Nov 20 09:20:02 2026] msg` (dmesg -T)
    const close = line.indexOf(']', i);
    if (close < 0) return { error: 'unclosed [ at start of line' };
    const inner = line.slice(i + 1, close).trim();
    // `[1732094402] unbound[1234:0] info: ...`: unbound's own logfile stamps epoch seconds.
    if (/^\d{9,10}$/.test(inner)) {
      // The tag is `unbound[1234:0]` with no colon after it and no host before it.
      const m = /^ +([\w.-]+)\[(\d+)(?::[0-9a-f]+)?\]:? /.exec(line.slice(close + 1, close + 80));
      if (m) return { ts: +inner * 1000, host: null, program: m[1], pid: +m[2], msg: line.slice(close + 1 + m[0].length), form: 'native' };
      return { ts: +inner * 1000, ...splitTag(line, close + 1), form: 'native' };
    }
    if (/^\d+\.\d+$/.test(inner)) {
      if (ctx.bootTime == null) return { error: 'kernel uptime stamp without a wall-clock time (pass the boot time)' };
      return { ts: ctx.bootTime + Math.round(parseFloat(inner) * 1000), host: null, program: 'kernel', pid: null, msg: line.slice(close + 1).trimStart(), form: 'kernel' };
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
      let [ms, j] = frac(line, i + 19);
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
      const ts = off !== null ? Date.UTC(y, mo - 1, d, h, mi, sec, ms) - off : zonedToUtc(ctx.tz, y, mo, d, h, mi, sec, ms);
      if (sep === 84 || off !== null) {
        const tag = splitTag(line, j);
        return { ts, ...tag, form: 'rfc3339' };
      }
      // `2026-11-20 09:20:02 msg`: a program's own file (OpenVPN, rspamd). No host or tag.
      return { ts, host: null, program: null, pid: null, msg: line.slice(j).trimStart(), form: 'native' };
    }
    return { error: 'date without a time' };
  }

  // `20-Nov-2026 09:30:01.123` (BIND)
  if (isDigit(c) && isDigit(line.charCodeAt(i + 1)) && line.charCodeAt(i + 2) === 45 && line.charCodeAt(i + 6) === 45) {
    const d = d2(line, i), mo = monthNumber(line.slice(i + 3, i + 6)), y = d4(line, i + 7);
    if (mo && line.charCodeAt(i + 11) === 32 && isHms(line, i + 12)) {
      const h = d2(line, i + 12), mi = d2(line, i + 15), s = d2(line, i + 18);
      if (!validDate(mo, d, h, mi, s)) return { error: 'timestamp out of range' };
      const [ms, j] = frac(line, i + 20);
      const ts = zonedToUtc(ctx.tz, y, mo, d, h, mi, s === 60 ? 59 : s, ms);
      return { ts, host: null, program: null, pid: null, msg: line.slice(j).trimStart(), form: 'native' };
    }
  }

  // `Fri Nov 20 09:20:02 2026 msg` (older OpenVPN, dmesg -T)
  if (DAYS.test(line.slice(i, i + 4))) {
    const m = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})/.exec(line.slice(i, i + 32));
    if (m) {
      const mo = monthNumber(m[1]), d = +m[2], h = +m[3], mi = +m[4], s = +m[5], y = +m[6];
      if (!mo || !validDate(mo, d, h, mi, s)) return { error: 'timestamp out of range' };
      const ts = zonedToUtc(ctx.tz, y, mo, d, h, mi, s === 60 ? 59 : s);
      return { ts, host: null, program: null, pid: null, msg: line.slice(i + m[0].length).trimStart(), form: 'native' };
    }
  }

  // BSD: `Apr 18 23:11:08` or `Apr  8 23:11:08`, month possibly French (`août 19 11:08:37`).
  const sp = line.indexOf(' ', i);
  if (sp > i && sp - i <= 6) {
    const mo = monthNumber(line.slice(i, sp));
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
      const [ms, k] = frac(line, j + 8);
      const sec = s === 60 ? 59 : s;
      const y = year ?? yearFor(ctx.tz, ctx.refTime, mo, d, h, mi, sec);
      const ts = zonedToUtc(ctx.tz, y, mo, d, h, mi, sec, ms);
      let rest = k;
      if (line.charCodeAt(rest) === 93) rest++; // `[Jun 21 16:56:03]` handled by the recursion above
      const tag = splitTag(line, rest);
      return { ts, ...tag, form: 'bsd' };
    }
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
  };
}

export function isEnvelopeError(r: EnvelopeResult): r is { error: string } {
  return (r as { error?: string }).error !== undefined;
}
