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

function parseInstant(s: string, flag: string): number {
  const t = Date.parse(s);
  if (Number.isNaN(t)) throw new UserError(`--${flag} is neither a duration (2h, 30m, 1d) nor a date: ${s}`, { hint: 'use e.g. --since 2h or --since 2026-11-20T08:00:00Z' });
  return t;
}

/** The window [from, to): durations count back from `until`, which defaults to `now`. */
export function resolveWindow(since: string | undefined, until: string | undefined, now: number, defaultSince = '2h'): { from: number; to: number } {
  const to = until ? parseInstant(until, 'until') : now;
  const s = since ?? defaultSince;
  const d = parseDuration(s);
  const from = d !== null ? to - d : parseInstant(s, 'since');
  if (from >= to) throw new UserError(`the window is empty: --since ${s} is not before --until`);
  return { from, to };
}
