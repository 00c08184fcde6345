import { DateTime } from 'luxon';
import { UserError } from '../errors.js';

/** `2h`, `90m`, `1d12h`, `30s`, `1w` → ms, or null if it is not a duration. */
export function parseDuration(s: string): number | null {
  const units: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
  const re = /(\d+(?:\.\d+)?)\s*([smhdw])/gy;
  let total = 0, m: RegExpExecArray | null, matched = 0;
  const t = s.trim().toLowerCase();
  while ((m = re.exec(t))) { total += parseFloat(m[1]) * units[m[2]]; matched = re.lastIndex; }
  return matched === t.length && matched > 0 ? Math.round(total) : null;
}

const FORMS = 'a duration back from --until (2h, 30m, 1d12h), a date (2026-11-20, 2026-11-20 09:00, 2026-11-20T09:00:00Z), or a date without a year (Nov 20, Nov 20 09:00, 09:00)';

/**
 * Dates without a year, as a syslog line or a colleague writes them ("Nov 20 09:14:02",
 * "20 Nov", "09:00"). They are read as the most recent such time, never as luxon's current year.
 */
const YEARLESS = ['LLL d', 'd LLL', 'LLLL d', 'd LLLL'].flatMap((day) => [day, `${day} H:mm`, `${day} H:mm:ss`]);
const TIME_ONLY = ['H:mm', 'H:mm:ss'];

/**
 * An instant from the command line. A date with an offset (`Z`, `+01:00`) is that instant;
 * one without is a wall-clock time in `tz`, as the logs' own times are read. A date without
 * a year is the most recent one at or before `ref` (--until, or now).
 */
export function parseInstant(raw: string, flag: string, tz: string, ref: number): number {
  const s = raw.trim().replace(/\s+/g, ' ');
  if (/^\d+(\.\d+)?$/.test(s)) {
    // `--since 1` meant one something; Date.parse read it as the year 2001.
    throw new UserError(`--${flag} ${s} is a bare number: give a unit or a whole date`, { hint: `did you mean ${s}h? (or ${s}m, ${s}d); ${FORMS}` });
  }
  const refLocal = DateTime.fromMillis(ref, { zone: tz });
  // Before ISO, which would read a bare time as today's even when that is still to come.
  for (const fmt of TIME_ONLY) {
    const d = DateTime.fromFormat(s, fmt, { zone: tz });
    if (!d.isValid) continue;
    const today = refLocal.set({ hour: d.hour, minute: d.minute, second: d.second, millisecond: 0 });
    return (today.toMillis() <= ref ? today : today.minus({ days: 1 })).toMillis();
  }
  // ISO 8601, also with a space between date and time as people type it ("2026-11-20 09:00").
  const iso = DateTime.fromISO(s.replace(/^(\d{4}-\d\d-\d\d) (?=\d)/, '$1T'), { zone: tz });
  if (iso.isValid) return iso.toMillis();
  for (const fmt of YEARLESS) {
    // Parsed in a leap year so that Feb 29 is a date; the real year is chosen below.
    const d = DateTime.fromFormat(`${s} 2024`, `${fmt} yyyy`, { zone: tz, locale: 'en-US' });
    if (!d.isValid) continue;
    // Feb 29 exists only in some years, so look back until the date exists and is not after ref.
    for (let y = refLocal.year; y >= refLocal.year - 8; y--) {
      const t = DateTime.fromObject({ year: y, month: d.month, day: d.day, hour: d.hour, minute: d.minute, second: d.second }, { zone: tz });
      if (t.isValid && t.month === d.month && t.day === d.day && t.toMillis() <= ref) return t.toMillis();
    }
  }
  throw new UserError(`--${flag} is neither a duration nor a date: ${raw}`, { hint: `use ${FORMS}` });
}

/**
 * The window [from, to): durations count back from `until`, which defaults to `now`. Local
 * times are read in `tz` (resolveZone: --tz, else $TZ, else the system zone).
 */
export function resolveWindow(since: string | undefined, until: string | undefined, now: number, defaultSince = '2h', tz = 'UTC'): { from: number; to: number } {
  const to = until ? parseInstant(until, 'until', tz, now) : now;
  const s = since ?? defaultSince;
  const d = parseDuration(s);
  const from = d !== null ? to - d : parseInstant(s, 'since', tz, to);
  if (from >= to) throw new UserError(`the window is empty: --since ${s} is not before --until`, { hint: `the window runs from ${new Date(from).toISOString()} to ${new Date(to).toISOString()}` });
  return { from, to };
}
