/**
 * The one check every parsed event passes before it leaves the parsers (see parseAny and
 * lineParser): a value that no log line can mean is that line's failure, with a reason, and
 * never a stored row. A damaged line must not become a NaN timestamp (which fails the store's
 * NOT NULL and with it the whole batch), a 1e23 byte counter, a port of 4294967296 or a date
 * in 1926 or 8426.
 *
 * Parsers mark a field that is present but unreadable (`out=99999999999999999999999`,
 * `DPT=4294967296`) as NaN, and leave a field that is absent as null: the check turns the
 * first into the line's failure and keeps the second.
 */
import type { LogEvent, ParseContext, ParseResult } from '../events.js';
import { unparsed } from '../events.js';
import { normalizeIp } from './common.js';

const DAY_MS = 86_400_000;

/**
 * How far before the file's reference time (its mtime) a line may be dated: thirty years.
 * A rotated archive keeps its mtime (the time of its last line), so its lines lie just before
 * it even when it is read months later; what this bound serves is an archive copied without
 * its mtime (`cp` without `-p`, a download), whose reference is the copy's time. Thirty years
 * still refuses the 1926s and 1969s that damaged or zeroed dates produce, and keeps old
 * archives (Exim's own test suite dates its logs 1999) readable: a tighter bound would refuse
 * real history and catch no more garbage, since a damaged year inside any window looks real.
 */
export const MAX_AGE_MS = Math.round(30 * 365.25 * DAY_MS);
/**
 * How far after the reference time a line may be dated: one day. A line is written before its
 * file's mtime, so only clock skew between the writer and the file system (and a zone set
 * wrongly, at most 26 hours between UTC−12 and UTC+14) puts it later; a year-less syslog date
 * more than a day ahead already moves to the year before (src/time.ts yearFor).
 */
export const MAX_AHEAD_MS = DAY_MS;

/** The largest counter a log can mean: JavaScript and SQLite both keep integers exactly up to here. */
export const MAX_COUNTER = Number.MAX_SAFE_INTEGER;

/** The dates a line of a file with this reference time may carry, UTC ms, inclusive. */
export function tsWindow(refTime: number): { from: number; to: number } {
  return { from: refTime - MAX_AGE_MS, to: refTime + MAX_AHEAD_MS };
}

function isoOrRaw(ts: number): string {
  return Number.isFinite(ts) && Math.abs(ts) < 8.64e15 ? new Date(ts).toISOString() : String(ts);
}

/** Why a timestamp (UTC ms) cannot be a line's of a file with this reference time, or null if it can. */
export function timestampProblem(ts: number, refTime: number): string | null {
  if (!Number.isFinite(ts)) return 'timestamp unreadable (damaged date)';
  if (ts < refTime - MAX_AGE_MS || ts > refTime + MAX_AHEAD_MS) {
    const w = tsWindow(refTime);
    return `timestamp ${isoOrRaw(ts)} outside the plausible window ${isoOrRaw(w.from).slice(0, 10)}..${isoOrRaw(w.to).slice(0, 10)} (30 years before to 1 day after the file's time)`;
  }
  return null;
}

/** Why a value cannot be a byte or packet counter, or null if it can (null: absent). */
export function counterProblem(name: string, v: number | null): string | null {
  if (v === null) return null;
  if (Number.isSafeInteger(v) && v >= 0) return null;
  // NaN is what a parser makes of a value that is there but is no number it can hold.
  return Number.isNaN(v) ? `${name} unreadable or beyond 2^53-1: not a counter` : `${name} ${v}: not a counter (an integer 0..2^53-1)`;
}

/** Why a value cannot be a port, or null if it can (null: absent). */
export function portProblem(name: string, v: number | null): string | null {
  if (v === null) return null;
  if (Number.isInteger(v) && v >= 0 && v <= 65535) return null;
  return Number.isNaN(v) ? `${name} unreadable or beyond 65535: not a port` : `${name} ${v}: not a port (0..65535)`;
}

/**
 * The line without trailing spaces, tabs and CRs: they never change what a line means (a BIND
 * line ending in a space, a Postfix `message-id=<...> ` whose space would enter the stored id),
 * so every parser reads the line without them. The stored raw text keeps them.
 */
export function trimLineEnd(line: string): string {
  let e = line.length;
  for (let c = line.charCodeAt(e - 1); c === 32 || c === 9 || c === 13; c = line.charCodeAt(--e - 1));
  return e === line.length ? line : line.slice(0, e);
}

/** Why an event cannot be stored, or null if it can. */
export function eventProblem(ev: LogEvent, ctx: ParseContext): string | null {
  const t = timestampProblem(ev.ts, ctx.refTime);
  if (t !== null) return t;
  const p = counterProblem('bytes in', ev.bytesIn) ?? counterProblem('bytes out', ev.bytesOut)
    ?? portProblem('remote port', ev.rport) ?? portProblem('local port', ev.lport);
  if (p !== null) return p;
  if (ev.rip !== null && normalizeIp(ev.rip) !== ev.rip) return `remote address not an IP: ${ev.rip.slice(0, 60)}`;
  if (ev.lip !== null && normalizeIp(ev.lip) !== ev.lip) return `local address not an IP: ${ev.lip.slice(0, 60)}`;
  if (ev.attrs !== null) {
    for (const k in ev.attrs) {
      const v = ev.attrs[k];
      if (typeof v === 'number' && !Number.isFinite(v)) return `${k} unreadable: not a finite number`;
    }
  }
  return null;
}

/**
 * The result as it may leave the parsers: an event whose values no log can mean becomes the
 * line's failure. A fractional millisecond (from a microsecond stamp) is cut to the millisecond.
 */
export function checked(r: ParseResult, ctx: ParseContext): ParseResult {
  if (r.type !== 'event') return r;
  const ev = r.event;
  const why = eventProblem(ev, ctx);
  if (why !== null) return unparsed(why);
  if (!Number.isInteger(ev.ts)) ev.ts = Math.floor(ev.ts);
  return r;
}
