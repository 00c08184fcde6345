/**
 * Retention (`--keep 30d`): raw events, per-minute aggregates and flows older than the limit
 * are deleted, after each hour of them has been rolled up into hourly traffic and event
 * counts, which are kept a year. An hour is rolled up and marked in one transaction, and raw
 * rows go only below the mark, so a run killed at any point and started again neither loses
 * an hour nor counts one twice. Deletes run in small batches with a pause between them, so
 * the reader (the same process) and other writers are never held up long.
 *
 * Rows that arrive for an hour already rolled up (an `ingest` of old logs) are pruned at the
 * next pass without being added to that hour's roll-up.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { HOUR_MS, type WatchStore } from '../store/watch.js';
import { ROLLED_KEY } from './traffic.js';

export const YEAR_MS = 365 * 24 * HOUR_MS;
const BATCH = 5000;
const MINUTES_PER_DELETE = 10 * 60_000;

export interface RetentionResult { hoursRolledUp: number; eventsDeleted: number; minuteRowsDeleted: number; otherRowsDeleted: number; cutoff: string }

/**
 * The usage roll-ups (src/watch/usage.ts): every closed hour below the cutoff is rolled up before
 * its raw rows go (false: not done, nothing is pruned this pass), and the roll-ups are pruned with
 * the other hourly ones.
 */
export interface RetentionUsage { rollUpBefore(cutoff: number): Promise<boolean>; prune(before: number): number }

export async function runRetention(ws: WatchStore, o: { keepMs: number; hourlyKeepMs?: number; now: number; signal?: AbortSignal; usage?: RetentionUsage }): Promise<RetentionResult> {
  const cutoff = Math.floor((o.now - o.keepMs) / HOUR_MS) * HOUR_MS;
  const res: RetentionResult = { hoursRolledUp: 0, eventsDeleted: 0, minuteRowsDeleted: 0, otherRowsDeleted: 0, cutoff: new Date(cutoff).toISOString() };
  const stopped = () => o.signal?.aborted === true;
  if (o.usage && !(await o.usage.rollUpBefore(cutoff))) return res;
  const oldest = ws.oldestRawTime();
  const mark = Number(ws.state(ROLLED_KEY) ?? 'NaN');
  if (oldest !== null) {
    let h = Math.floor(oldest / HOUR_MS) * HOUR_MS;
    if (Number.isFinite(mark)) h = Math.max(h, mark);
    for (; h < cutoff && !stopped(); h += HOUR_MS) {
      ws.rollUpHour(h, ROLLED_KEY);
      res.hoursRolledUp++;
      if (res.hoursRolledUp % 24 === 0) await yieldToLoop();
    }
  }
  const rolled = Math.min(cutoff, Number(ws.state(ROLLED_KEY) ?? '0'));
  for (;;) {
    if (stopped()) return res;
    const n = ws.deleteEventsBefore(rolled, BATCH);
    res.eventsDeleted += n;
    if (n < BATCH) break;
    await yieldToLoop();
  }
  for (let m = ws.oldestMinute(); m !== null && m < rolled && !stopped(); m = ws.oldestMinute()) {
    res.minuteRowsDeleted += ws.deleteMinutes(m, Math.min(rolled, m + MINUTES_PER_DELETE));
    await yieldToLoop();
  }
  if (!stopped()) res.otherRowsDeleted = ws.pruneSmall(rolled, o.now - (o.hourlyKeepMs ?? YEAR_MS)) + (o.usage?.prune(o.now - (o.hourlyKeepMs ?? YEAR_MS)) ?? 0);
  return res;
}
