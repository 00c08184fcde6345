/**
 * The service behind `bytetrail usage`: roll up the closed hours that are missing or stale (the
 * catch-up, with progress on stderr when it is long), then read the report from the roll-ups.
 */
import { accessSync, constants, existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { info } from '../output.js';
import { defaultDbPath, openStore } from '../store/index.js';
import { UsageStore } from '../store/usage.js';
import { catchUp, closedUntil } from './rollup.js';
import { type UsageQuery, type UsageReport, usageReport, usageWindow } from './report.js';

export interface RunUsageOptions extends Omit<UsageQuery, 'server' | 'pending'> {
  db?: string;
  vpnPorts?: number[];
  /** Told about a long catch-up (stderr). */
  onProgress?: (message: string) => void;
}

function writable(path: string): boolean {
  try { accessSync(path, constants.W_OK); return true; } catch { return false; }
}

/** Hours rolled up between two progress lines, and the catch-up size from which they are shown. */
const PROGRESS_EVERY = 24;

export async function runUsage(o: RunUsageOptions): Promise<UsageReport> {
  const path = o.db ?? defaultDbPath();
  // A database this user may not write (root's, read by a user) is reported as it is rolled up.
  const canWrite = existsSync(path) && writable(path);
  const store = openStore({ path, readonly: !canWrite });
  try {
    let pending = 0;
    if (canWrite) {
      const say = o.onProgress ?? info;
      // The window's hours only: a first look at the last day need not roll up a year.
      const w = usageWindow(o.since, o.until, o.now, o.period, o.tz);
      await catchUp(store, {
        now: o.now, vpnPorts: o.vpnPorts, from: w.from, until: w.to,
        onProgress: (done, total) => {
          // About twenty lines for a long catch-up, none for a short one.
          const every = Math.max(PROGRESS_EVERY, Math.ceil(total / 20));
          if (total >= PROGRESS_EVERY && (done % every === 0 || done === total)) say(`rolling up hourly usage: ${done} of ${total} hours`);
        },
      });
    } else if (UsageStore.available(store)) {
      const us = new UsageStore(store);
      const w = usageWindow(o.since, o.until, o.now, o.period, o.tz);
      pending = us.hoursToRoll(w.from, Math.min(w.to, closedUntil(o.now)), Number.MAX_SAFE_INTEGER).length;
    }
    if (!UsageStore.available(store)) {
      return usageReportEmpty(o, pending);
    }
    const us = new UsageStore(store);
    return usageReport(us, { ...o, server: us.serverName() ?? hostname(), pending });
  } finally {
    store.close();
  }
}

/** A read-only database from before migration 9 has no roll-ups: an empty report that says so. */
function usageReportEmpty(o: RunUsageOptions, pending: number): UsageReport {
  const w = usageWindow(o.since, o.until, o.now, o.period, o.tz);
  return {
    window: { from: new Date(w.from).toISOString(), to: new Date(w.to).toISOString() }, tz: o.tz, by: o.by, period: o.period,
    account: o.account ?? null, over: o.over ?? null, rolledUp: { hours: 0, through: null, pending: Math.max(1, pending) }, periods: [],
  };
}
