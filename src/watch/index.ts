/**
 * The service behind `bytetrail watch`: follow files into the store, optionally capture, judge
 * traffic every minute and alert, prune old rows, and keep a small record of all this for
 * `bytetrail status`. Runs until its signal is aborted (SIGTERM, SIGINT), then finishes the
 * batch being read, stores the capture's open minute, waits for running hooks, and closes the
 * database. `kill -9` needs nothing: every batch was committed with its offset.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { hostname } from 'node:os';
import { STANDARD_LOGS } from '../correlate/run.js';
import { InputError } from '../errors.js';
import { flowHandlers } from '../flows/handlers.js';
import { info } from '../output.js';
import { shipContinuously } from '../store/clickhouse/ship.js';
import type { ClickHouseTarget } from '../store/clickhouse/url.js';
import { openStore } from '../store/index.js';
import { WatchStore } from '../store/watch.js';
import { AlertEngine, type AlertOptions } from './alerts.js';
import { type LiveCapture, startCapture } from './capture.js';
import { Follower, isRotatedName } from './follow.js';
import { type Listen, WatchMetrics } from './metrics.js';
import { type RetentionResult, runRetention } from './retention.js';
import { AlertSinks } from './sinks.js';
import { UsageWatch } from './usage.js';
import type { Quota } from '../usage/report.js';
import { startWgDumps, type WgDumper, wgDumpsUnavailable } from './wireguard.js';

/** The standard log locations `investigate` reads, without rotated names, plus OpenVPN's status directories. */
export const STANDARD_FOLLOW = [
  ...STANDARD_LOGS.filter((p) => !isRotatedName(p)),
  '/run/openvpn-server', '/run/openvpn', '/var/lib/bytetrail/conntrack',
];

/** The alert settings (window, thresholds, clock) are AlertOptions'; the host is found here. */
export interface WatchOptions extends Omit<AlertOptions, 'host'> {
  db?: string;
  paths: string[];
  tz: string;
  pollMs: number;
  readIntervalMs: number;
  drainMs: number;
  sweepMs: number;
  /** How often alerts are judged (windows move by whole minutes). */
  checkMs: number;
  alertLog?: string;
  exec?: string;
  execTimeoutMs: number;
  keepMs: number | null;
  capture?: string;
  captureFilter?: string;
  captureWith?: 'auto' | 'cap' | 'tcpdump';
  localIps?: string[];
  batchLines?: number;
  /** Take a `wg show all dump` this often when root and `wg` exist (0: never). */
  wgIntervalMs?: number;
  /** --ship: send to a central ClickHouse every `intervalMs` (see store/clickhouse/ship.ts). */
  ship?: { target: ClickHouseTarget; server?: string; intervalMs: number };
  /** --metrics: serve Prometheus / OpenMetrics text on this address (see metrics.ts). */
  metrics?: { listen: Listen; top: number };
  /** --quota: alert once per account and period above it (usage roll-ups run as hours close regardless). */
  quota?: Quota;
  /** How often closed hours are rolled up (default a minute). */
  usageMs?: number;
}

export interface WatchSummary {
  db: string;
  startedAt: string;
  stoppedAt: string;
  followed: number;
  reads: number;
  lines: number;
  events: number;
  records: number;
  alerts: number;
  retention: RetentionResult | null;
}

const STATE_MS = 2000;

export async function runWatch(o: WatchOptions, signal: AbortSignal): Promise<WatchSummary> {
  const paths = o.paths.length ? [...o.paths] : STANDARD_FOLLOW.filter((p) => existsSync(p));
  const wgWhyNot = o.wgIntervalMs ? wgDumpsUnavailable(process.getuid?.() ?? null) : 'off';
  if (!paths.length && wgWhyNot !== null) throw new InputError('none of the standard log locations exists here', { hint: `name the files or directories to follow: bytetrail watch /var/log/mail.log ... (standard: ${STANDARD_FOLLOW.join(', ')})` });
  const startedAt = Date.now();
  const store = openStore({ path: o.db });
  const ws = new WatchStore(store);
  const notice = (m: string) => info(m);
  const timers: NodeJS.Timeout[] = [];
  let capture: LiveCapture | null = null;
  let retention: RetentionResult | null = null;
  let follower: Follower | null = null;
  let wg: WgDumper | null = null;
  const metrics = o.metrics ? new WatchMetrics(store, ws, { ...o.metrics, clock: o.clock, settleMs: o.settleMs, vpnPorts: o.vpnPorts, notice }) : null;
  const sinks = new AlertSinks(ws, { alertLog: o.alertLog, exec: o.exec, execTimeoutMs: o.execTimeoutMs, notice, report: metrics?.alertReport });
  let usage: UsageWatch | null = null;
  const failures = new Set<string>();
  const stopShipping = new AbortController();
  let shipping: Promise<void> | null = null;
  // The alert check in progress: the investigation it runs answers asynchronously.
  let ticking: Promise<void> | null = null;
  const guard = (what: string, fn: () => void) => {
    try { fn(); } catch (err) {
      const m = `${what}: ${(err as Error).message}`;
      if (!failures.has(m)) { failures.add(m); notice(m); }
    }
  };
  try {
    ws.putStates([
      ['watch:pid', String(process.pid)], ['watch:started-at', String(startedAt)], ['watch:heartbeat', String(startedAt)],
      ['watch:options', JSON.stringify({ paths, window: o.windowMs, alertAboveBps: o.alertAboveBps, multiple: o.multiple, minBps: o.minBps, keepMs: o.keepMs, clock: o.clock, capture: o.capture ?? null, alertLog: o.alertLog ?? null, exec: Boolean(o.exec) })],
    ]);
    ws.deleteState('watch:stopped-at');
    const engine = new AlertEngine(store, ws, sinks, {
      windowMs: o.windowMs, alertAboveBps: o.alertAboveBps, multiple: o.multiple, minBps: o.minBps, repeatMs: o.repeatMs,
      clock: o.clock, settleMs: o.settleMs, host: hostname(), vpnPorts: o.vpnPorts,
    });
    const f = new Follower(store, ws, {
      ingest: { tz: o.tz, handlers: flowHandlers(), localIps: o.localIps, batchLines: o.batchLines },
      pollMs: o.pollMs, readIntervalMs: o.readIntervalMs, drainMs: o.drainMs, sweepMs: o.sweepMs, signal, notice,
      onRead: metrics ? (s) => metrics.countRead(s) : undefined,
    });
    follower = f;
    if (wgWhyNot === null) {
      // Beside the database: private to the user that runs watch, like the database itself.
      wg = startWgDumps(join(dirname(store.path), 'wireguard'), o.wgIntervalMs!, notice);
      await wg.once();
      paths.push(wg.path);
      // The peers' names: only the names are kept from a configuration, never its keys.
      if (!o.paths.length && existsSync('/etc/wireguard') && !paths.includes('/etc/wireguard')) paths.push('/etc/wireguard');
    }
    notice(`watching ${paths.join(', ')} into ${store.path}${engine.enabled ? '' : ' (no alerts: give --alert-above or keep --baseline-multiple above 0)'}`);
    if (metrics) {
      const a = await metrics.listen();
      notice(`metrics on http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}/metrics`);
      timers.push(setInterval(() => { metrics.tick(Date.now(), f.busy).catch((err: Error) => guard('metrics', () => { throw err; })); }, o.checkMs));
    }
    await f.start(paths);
    if (o.ship) shipping = shipContinuously(store, o.ship.target, { server: o.ship.server, defaultServer: hostname(), intervalMs: o.ship.intervalMs, notice }, stopShipping.signal);
    if (o.capture && !signal.aborted) capture = await startCapture(store, { iface: o.capture, filter: o.captureFilter, localIps: o.localIps, using: o.captureWith, notice });

    let lastRows = '';
    const flushState = () => guard('cannot record the watch state', () => {
      const now = Date.now();
      const rows = f.rows(now);
      // Rewritten only when something changed: a directory of many files stays cheap.
      const key = JSON.stringify(rows.map((r) => ({ ...r, updatedAt: 0 })));
      if (key !== lastRows) { ws.replacePaths(rows); lastRows = key; }
      ws.putState('watch:heartbeat', String(now), now);
    });
    flushState();
    timers.push(setInterval(flushState, STATE_MS));
    timers.push(setInterval(() => {
      if (ticking) return;
      ticking = engine.tick(Date.now(), f.busy).then(() => undefined, (err: Error) => guard('alerts', () => { throw err; })).finally(() => { ticking = null; });
    }, o.checkMs));
    // Hourly usage roll-ups as hours close (on the data's clock for a replay, once reading is idle), and quotas.
    const u = new UsageWatch(store, { quota: o.quota ?? null, tz: o.tz, host: hostname(), vpnPorts: o.vpnPorts, emit: (a) => sinks.emit(a), notice });
    timers.push(setInterval(() => {
      const now = o.clock === 'data' ? (f.busy ? null : ws.newestDataTime()) : Date.now();
      if (now !== null) u.tick(now, signal).catch((err: Error) => guard('usage roll-ups', () => { throw err; }));
    }, o.usageMs ?? 60_000));
    usage = u;
    if (o.keepMs !== null) {
      const keepMs = o.keepMs;
      let running = false;
      const prune = () => {
        if (running || signal.aborted) return;
        running = true;
        runRetention(ws, { keepMs, now: Date.now(), signal, usage: { rollUpBefore: (cutoff) => u.rollUpBefore(cutoff, signal), prune: (before) => u.prune(before) } })
          .then((r) => { retention = r; if (r.eventsDeleted + r.minuteRowsDeleted > 0) notice(`pruned ${r.eventsDeleted} events and ${r.minuteRowsDeleted} per-minute rows older than ${r.cutoff}`); })
          .catch((err: Error) => guard('retention', () => { throw err; }))
          .finally(() => { running = false; });
      };
      // The first pass soon after the files' first reads, then hourly.
      const first = setTimeout(prune, 1000);
      timers.push(first, setInterval(prune, 3_600_000));
    }
    await new Promise<void>((resolve) => {
      if (signal.aborted) return resolve();
      signal.addEventListener('abort', () => resolve(), { once: true });
    });
    notice('stopping: finishing the current batch');
  } finally {
    for (const t of timers) clearInterval(t);
    await ticking;
    wg?.stop();
    await follower?.close();
    await capture?.stop();
    // A roll-up pass stops between hours once the signal is aborted.
    await usage?.idle();
    await sinks.drain();
    await metrics?.close();
    stopShipping.abort();
    await shipping;
    if (store.isOpen) {
      guard('cannot record the watch state', () => {
        const now = Date.now();
        if (follower) ws.replacePaths(follower.rows(now));
        ws.putStates([['watch:stopped-at', String(now)], ['watch:heartbeat', String(now)]], now);
        ws.deleteState('watch:pid');
      });
    }
    store.close();
  }
  const t = follower!.totals;
  return {
    db: store.path, startedAt: new Date(startedAt).toISOString(), stoppedAt: new Date().toISOString(), followed: follower!.size,
    reads: t.reads, lines: t.lines, events: t.events, records: t.records, alerts: sinks.emitted, retention,
  };
}
