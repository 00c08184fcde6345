/**
 * Hourly roll-ups: each closed hour's bytes per account and service, from investigate's own
 * attribution of [hour, hour + 1h) (there is no second attribution), stored so that `usage`
 * answers over months without the raw rows. An hour is replaced, never added to: a late line or a
 * re-read file marks the hours it touches (src/store/usage.ts), and the next pass computes them again.
 */
import { investigate } from '../correlate/investigate.js';
import type { Investigation } from '../correlate/types.js';
import type { Store } from '../store/index.js';
import { type UsageHour, type UsageRow, UsageStore } from '../store/usage.js';
import { SqliteReadStore } from '../store/sqlite-read.js';

export const HOUR_MS = 3_600_000;
/** An hour is closed this long after its end: investigate reads 5 minutes past a window for late logouts. */
export const SETTLE_MS = 5 * 60_000;

/** The unattributed reason of a cause that investigate shows as a suspect without an account. */
function anonymousReason(finding: string): string {
  return finding === 'dns-amplification' ? 'dns' : finding;
}

/** One hour's roll-up rows from its investigation: accounts per service, and the rest by reason. */
export function rollupOf(inv: Investigation): Pick<UsageHour, 'rows' | 'ifaces' | 'flowSource' | 'bytesIn' | 'bytesOut'> {
  const rows: UsageRow[] = [];
  const zero = { exact: 0, sharedIp: 0, ipOnly: 0, logCounters: 0, estimated: 0 };
  for (const s of inv.suspects) {
    const log = s.logCounters.bytesIn + s.logCounters.bytesOut;
    const est = s.estimated.bytesIn + s.estimated.bytesOut;
    const measured = Math.max(0, s.bytesIn + s.bytesOut - log - est);
    if (s.account === null) {
      rows.push({ account: '', service: '', reason: anonymousReason(s.finding), bytesIn: s.bytesIn, bytesOut: s.bytesOut, ...zero, logCounters: log, estimated: est });
      continue;
    }
    // Measured bytes carry the suspect's confidence; a split on a shared address is shared-ip.
    const label = s.split || s.confidence === 'shared-ip' ? 'sharedIp' : s.confidence === 'ip-only' ? 'ipOnly' : 'exact';
    rows.push({ account: s.account, service: s.service, reason: '', bytesIn: s.bytesIn, bytesOut: s.bytesOut, ...zero, [label]: measured, logCounters: log, estimated: est });
  }
  for (const u of inv.unattributed) {
    const r = rows.find((x) => x.account === '' && x.reason === u.reason);
    if (r) { r.bytesIn += u.bytesIn; r.bytesOut += u.bytesOut; continue; }
    rows.push({ account: '', service: '', reason: u.reason, bytesIn: u.bytesIn, bytesOut: u.bytesOut, ...zero });
  }
  return {
    rows: rows.filter((r) => r.bytesIn + r.bytesOut > 0),
    ifaces: inv.interfaceTotals ?? [],
    flowSource: inv.flowSource,
    bytesIn: inv.totals.bytesIn, bytesOut: inv.totals.bytesOut,
  };
}

export interface CatchUpOptions {
  /** Hours that end `SETTLE_MS` before this are closed (the wall clock, or the data's for a replay). */
  now: number;
  /** Only hours at or after this one (default: all the data). */
  from?: number;
  /** Only hours before this one (default: the last closed hour). */
  until?: number;
  vpnPorts?: number[];
  /** Told after each hour, for a progress line on stderr. */
  onProgress?: (done: number, total: number) => void;
  signal?: AbortSignal;
}

export interface CatchUpResult { computed: number; firstHour: number | null; lastHour: number | null }

/** The first hour that is not closed at `now`. */
export function closedUntil(now: number): number {
  const t = now - SETTLE_MS - HOUR_MS;
  return t - (t % HOUR_MS) + HOUR_MS;
}

/**
 * Roll up the closed hours that are missing or whose inputs changed. Each hour is investigated
 * alone, exactly as `investigate --since H --until H+1h` would, and replaces what was stored.
 */
export async function catchUp(store: Store, o: CatchUpOptions): Promise<CatchUpResult> {
  const us = new UsageStore(store);
  const reader = new SqliteReadStore(store);
  const gen = us.beginPass();
  // Whole hours: an hour that begins before `until` is in.
  const until = Math.min(o.until === undefined ? Infinity : Math.ceil(o.until / HOUR_MS) * HOUR_MS, closedUntil(o.now));
  const hours = us.hoursToRoll(o.from ?? -Infinity, until, gen);
  let computed = 0;
  for (const hour of hours) {
    if (o.signal?.aborted) break;
    // Read before the investigation: anything stored meanwhile marks the hour in this generation, so it is computed again.
    const fingerprint = us.fingerprint(hour);
    const inv = await investigate(reader, { from: hour, to: hour + HOUR_MS, vpnPorts: o.vpnPorts });
    us.putHour({ hour, fingerprint, ...rollupOf(inv) }, gen, Date.now());
    computed++;
    o.onProgress?.(computed, hours.length);
    // Let timers (watch's reading, alerts) run between hours.
    await new Promise<void>((r) => setImmediate(r));
  }
  if (!o.signal?.aborted) us.endPass();
  return { computed, firstHour: hours[0] ?? null, lastHour: hours.length ? hours[hours.length - 1] : null };
}
