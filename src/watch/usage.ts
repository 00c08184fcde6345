/**
 * `watch` rolls up usage as hours close (rollup.ts), and with `--quota 50GB/month` raises one
 * quota alert per account and period when an account's bytes in + out in the current period
 * cross the quota, through the alert sinks (stderr, --alert-log, --exec, the alerts table). The
 * alerts sent are remembered in the database (usage_quota_alerts), so a restart does not repeat them.
 * Past periods are not alerted on: `bytetrail usage --over` lists them.
 */
import { DateTime } from 'luxon';
import { formatBytes } from '../output.js';
import type { Store } from '../store/index.js';
import { UsageStore } from '../store/usage.js';
import { catchUp, closedUntil, HOUR_MS } from '../usage/rollup.js';
import type { Quota } from '../usage/report.js';
import type { SinkAlert } from './sinks.js';

/** The JSON of a quota alert (`--alert-log`, `--exec` stdin, the `alerts` table). */
export interface QuotaAlert extends SinkAlert {
  schema: 'bytetrail.quota/1';
  type: 'quota';
  /** `quota-2026-12-jan@example.com`: one per account, period and quota. */
  incident: string;
  /** The end of the newest rolled-up hour counted. */
  at: string;
  emittedAt: string;
  host: string;
  account: string;
  period: { kind: Quota['per']; label: string; from: string; to: string };
  quota: { bytes: number; text: string };
  usage: { bytesIn: number; bytesOut: number; bytes: number };
  summary: string;
}

export interface UsageWatchOptions {
  quota: Quota | null;
  tz: string;
  host: string;
  vpnPorts?: number[];
  /** Where quota alerts go (AlertSinks.emit). */
  emit(alert: QuotaAlert): void;
  notice(message: string): void;
}

export class UsageWatch {
  /** Passes run one after the other: watch's timer and retention's both come here. */
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly store: Store, private readonly o: UsageWatchOptions) {}

  /** For retention: every hour below `cutoff` is rolled up (false when stopped first). */
  async rollUpBefore(cutoff: number, signal?: AbortSignal): Promise<boolean> {
    // Hours below the cutoff are long closed: the clock only needs to be past them.
    await this.tick(cutoff + 2 * HOUR_MS, signal, cutoff);
    return !signal?.aborted;
  }

  /** Once the pass running (if any) has ended. */
  async idle(): Promise<void> {
    await this.chain;
  }

  /** Roll-ups and quota marks older than `before`. */
  prune(before: number): number {
    return new UsageStore(this.store).prune(before);
  }

  /**
   * Roll up the hours closed at `now` (the wall clock, or the newest data time for a replay),
   * then judge the quota over the period of the newest closed hour. Returns the hours rolled up.
   */
  tick(now: number, signal?: AbortSignal, until?: number): Promise<number> {
    const run = this.chain.then(() => this.pass(now, signal, until));
    this.chain = run.catch(() => undefined);
    return run;
  }

  private async pass(now: number, signal?: AbortSignal, until?: number): Promise<number> {
    const r = await catchUp(this.store, {
      now, until, vpnPorts: this.o.vpnPorts, signal,
      // About twenty lines for a long catch-up (a first start on months of data), none for an hour.
      onProgress: (done, total) => { if (total >= 24 && done % Math.max(24, Math.ceil(total / 20)) === 0) this.o.notice(`rolling up hourly usage: ${done} of ${total} hours`); },
    });
    if (this.o.quota && !signal?.aborted && until === undefined) this.judgeQuota(closedUntil(now), Date.now());
    return r.computed;
  }

  private judgeQuota(until: number, now: number): void {
    const q = this.o.quota!;
    const start = DateTime.fromMillis(until - HOUR_MS, { zone: this.o.tz }).startOf(q.per);
    const from = start.toMillis(), to = start.plus({ [`${q.per}s`]: 1 }).toMillis();
    const us = new UsageStore(this.store);
    const by = new Map<string, { bytesIn: number; bytesOut: number }>();
    for (const r of us.periodRows([[from, to]])) {
      if (r.account === '') continue;
      const a = by.get(r.account) ?? { bytesIn: 0, bytesOut: 0 };
      a.bytesIn += r.bytesIn; a.bytesOut += r.bytesOut;
      by.set(r.account, a);
    }
    const label = start.toFormat(q.per === 'month' ? 'yyyy-MM' : q.per === 'day' ? 'yyyy-MM-dd' : "yyyy-MM-dd'T'HH:mm");
    for (const [account, u] of [...by.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
      const bytes = u.bytesIn + u.bytesOut;
      if (bytes <= q.bytes || !us.claimQuotaAlert(from, account, q.bytes, bytes, now)) continue;
      const through = Math.min(until, to);
      this.o.emit({
        schema: 'bytetrail.quota/1', type: 'quota', incident: `quota-${label}-${account}`,
        at: new Date(through).toISOString(), emittedAt: new Date(now).toISOString(), host: this.o.host, account,
        period: { kind: q.per, label, from: new Date(from).toISOString(), to: new Date(to).toISOString() },
        quota: { bytes: q.bytes, text: q.text }, usage: { ...u, bytes },
        summary: `QUOTA ${account}: ${formatBytes(bytes)} in + out in ${label} (quota ${q.text}), counted through ${new Date(through).toISOString().slice(0, 16).replace('T', ' ')} UTC`,
      });
    }
  }
}
