/** Rates and durations as admins write them on the command line: `50mbit`, `5m`, `30d`. */
import { parseDuration } from '../correlate/window.js';
import { UserError } from '../errors.js';
import { RATE_UNITS } from '../rates.js';


/** `50mbit`, `500kbit`, `1gbit`, `2mbps` (bytes per second, as tc reads it) → bits per second. */
export function parseRateFlag(raw: string, flag: string): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(raw);
  const mult = m ? RATE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || mult === undefined) throw new UserError(`--${flag} is not a rate: ${raw}`, { hint: 'write a number and a unit: 50mbit, 500kbit, 1gbit, or 2mbps for bytes per second' });
  const bits = Number(m[1]) * mult;
  if (!(bits > 0)) throw new UserError(`--${flag} must be above zero: ${raw}`);
  return bits;
}

export function parseDurationFlag(raw: string, flag: string): number {
  const m = /^\s*(\d+)\s*ms\s*$/.exec(raw);
  const ms = m ? Number(m[1]) : parseDuration(raw);
  if (ms === null || ms <= 0) throw new UserError(`--${flag} is not a duration: ${raw}`, { hint: 'write e.g. 500ms, 30s, 5m, 2h, 30d' });
  return ms;
}

/** Human spelling of bits per second: 12.4 Mbit/s. */
export function formatBps(bps: number): string {
  const units: Array<[string, number]> = [['Gbit/s', 1e9], ['Mbit/s', 1e6], ['kbit/s', 1e3]];
  for (const [u, m] of units) if (bps >= m) return `${(bps / m).toFixed(bps / m >= 100 ? 0 : 1)} ${u}`;
  return `${Math.round(bps)} bit/s`;
}

/** `5m`, `1h30m`, `2d`: a short human duration. */
export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m}m`;
  const h = Math.floor(m / 60), rm = m % 60;
  if (h < 48) return rm ? `${h}h${rm}m` : `${h}h`;
  return `${Math.round(h / 24)}d`;
}
