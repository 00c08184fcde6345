/**
 * Alerts: a replayed incident through `watch --clock data` as a child process (static
 * threshold, alert log, --exec hook, restart without re-alerting, a failing hook reported
 * once), and the baseline judged in-process against a real SQLite file.
 */
import Database from 'better-sqlite3';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { INCIDENTS } from '../../src/demo/incidents.js';
import type { FlowRecord } from '../../src/flows/types.js';
import { openStore, type Store } from '../../src/store/index.js';
import { WatchStore } from '../../src/store/watch.js';
import { type Alert, AlertEngine } from '../../src/watch/alerts.js';
import { AlertSinks } from '../../src/watch/sinks.js';
import { BIN, spawnCli, tempDir } from '../helpers/cli.js';

const FAST = ['--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '300', '--check-ms', '200'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Running { child: ChildProcess; stderr: () => string; exited: Promise<number | null> }

function startWatch(db: string, args: string[]): Running {
  const child = spawn(process.execPath, [BIN, 'watch', '--db', db, ...FAST, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  child.stdout!.resume();
  return { child, stderr: () => err, exited: new Promise((r) => child.once('exit', (code) => r(code))) };
}

/** Generous by default: a loaded host can take tens of seconds to replay; the wait ends as soon as `ok` holds. */
async function waitFor(what: string, ok: () => boolean, timeoutMs = 120_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** The complete lines of a JSON-lines file; a last line still being written is left for later. */
function readJsonl(p: string): Alert[] {
  if (!existsSync(p)) return [];
  const text = readFileSync(p, 'utf8');
  return text.slice(0, text.lastIndexOf('\n') + 1).split('\n').filter(Boolean).map((l) => JSON.parse(l) as Alert);
}
/** Test timeout for a whole replay: bounds are generous, waits end when their condition holds. */
const REPLAY_MS = 300_000;

function dbCounts(db: string) {
  const d = new Database(db, { readonly: true });
  try {
    return d.prepare(`SELECT (SELECT count(*) FROM events) AS events, (SELECT coalesce(sum(count), 0) FROM event_agg) AS aggregated,
      (SELECT count(*) FROM flows) AS flows, (SELECT coalesce(sum(bytes_out), 0) FROM flows) AS bytesOut`).get();
  } finally {
    d.close();
  }
}

/** Whether watch's own view of its paths shows a read of each since `t`. */
function readAllSince(db: string, t: number): boolean {
  const d = new Database(db, { readonly: true });
  try {
    const rows = d.prepare('SELECT last_read_at AS at FROM watch_paths').all() as Array<{ at: number | null }>;
    return rows.length > 0 && rows.every((r) => r.at !== null && r.at >= t);
  } finally {
    d.close();
  }
}

function alertRows(db: string): number {
  const d = new Database(db, { readonly: true });
  try { return (d.prepare('SELECT count(*) AS n FROM alerts').get() as { n: number }).n; } finally { d.close(); }
}

describe('watch: alerts on a replayed incident', () => {
  let dir: string;
  let cleanup: () => void;
  let logs: string;
  const running: Running[] = [];
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-alerts-'));
    logs = join(dir, 'logs');
    INCIDENTS.imapResync().writer.write(logs);
  });
  afterEach(async () => {
    for (const w of running.splice(0)) if (w.child.exitCode === null && w.child.signalCode === null) { w.child.kill('SIGKILL'); await w.exited; }
    cleanup();
  });

  it('alerts once naming the account, reminds every 30 min, resolves, and runs the hook; a restart does not alert again', async () => {
    const db = join(dir, 'bt.db'), alertLog = join(dir, 'alerts.jsonl'), hook = join(dir, 'hook.jsonl');
    const args = [logs, '--clock', 'data', '--alert-above', '1mbit', '--alert-log', alertLog, '--exec', `cat >> '${hook}'`];
    const w = startWatch(db, args);
    running.push(w);
    await waitFor('the resolved alert', () => readJsonl(alertLog).some((a) => a.type === 'resolved'));
    await waitFor('the hook', () => readJsonl(hook).length === readJsonl(alertLog).length);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);

    // Exactly what one ingest of the same files stores.
    const ref = join(dir, 'ref.db');
    expect(spawnCli(['ingest', '--db', ref, logs]).status).toBe(0);
    expect(dbCounts(db)).toEqual(dbCounts(ref));

    const alerts = readJsonl(alertLog);
    expect(alerts.map((a) => a.type)).toEqual(['alert', 'reminder', 'reminder', 'reminder', 'resolved']);
    expect(new Set(alerts.map((a) => a.incident)).size).toBe(1);
    const first = alerts[0];
    expect(first.schema).toBe('bytetrail.alert/1');
    expect(first.suspect).toMatchObject({ account: 'jan@example.com', service: 'imap', ips: ['198.51.100.23'], finding: 'imap-resync', direction: 'out' });
    expect(first.finding?.kind).toBe('imap-resync');
    expect(first.trigger).toMatchObject({ source: 'pcap', direction: 'out', threshold: { kind: 'static', bps: 1e6 } });
    expect(first.trigger!.bps).toBeGreaterThan(1e6);
    expect(first.window.seconds).toBe(300);
    expect(Date.parse(alerts[1].at) - Date.parse(first.at)).toBe(30 * 60_000);
    expect(alerts[4].trigger!.bps).toBeLessThanOrEqual(1e6);
    expect(alerts[4].incidentSummary.alerts).toBe(5);
    expect(readJsonl(hook)).toEqual(alerts);
    expect(w.stderr().match(/bytetrail: ALERT .*jan@example\.com.*imap-resync/g)).toHaveLength(1);
    expect(alertRows(db)).toBe(5);

    const st = JSON.parse(spawnCli(['status', '--db', db, '--json']).stdout);
    expect(st.lastAlert.type).toBe('resolved');
    expect(st.alerts).toBe(5);

    // Restarted on the same data: the windows already judged are not judged again.
    const restartedAt = Date.now();
    const w2 = startWatch(db, args);
    running.push(w2);
    await waitFor('a quiet restart', () => /watching/.test(w2.stderr()));
    // Until the restarted watch has looked at every file again (its own view, written every
    // 2 s), not a fixed time that a loaded host may spend before it reads anything; then a few
    // more checks of the alert engine (--check-ms 200).
    await waitFor('the restarted watch to read every file', () => readAllSince(db, restartedAt));
    await sleep(2000);
    w2.child.kill('SIGTERM');
    expect(await w2.exited).toBe(0);
    expect(readJsonl(alertLog)).toHaveLength(5);
    expect(dbCounts(db)).toEqual(dbCounts(ref));
  }, REPLAY_MS);

  it('a failing hook is reported once per incident and never stops watch', async () => {
    const db = join(dir, 'bt.db'), alertLog = join(dir, 'alerts.jsonl');
    const w = startWatch(db, [logs, '--clock', 'data', '--alert-above', '1mbit', '--alert-log', alertLog, '--exec', 'echo hook broke >&2; exit 3']);
    running.push(w);
    await waitFor('the resolved alert', () => readJsonl(alertLog).some((a) => a.type === 'resolved'));
    await waitFor('the hook failure', () => /--exec hook failed/.test(w.stderr()));
    await sleep(500);
    expect(w.child.exitCode).toBeNull();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(readJsonl(alertLog)).toHaveLength(5);
    expect(w.stderr().match(/--exec hook failed for incident [^:]+: exit status 3: hook broke/g)).toHaveLength(1);
  }, REPLAY_MS);

  it('a hook that hangs is killed after --exec-timeout', async () => {
    const db = join(dir, 'bt.db'), alertLog = join(dir, 'alerts.jsonl');
    // The hook would run for 10 minutes: a stop that waited for it could not end within the bound below.
    const w = startWatch(db, [logs, '--clock', 'data', '--alert-above', '1mbit', '--repeat', '1d', '--alert-log', alertLog, '--exec', 'sleep 600', '--exec-timeout', '500ms']);
    running.push(w);
    await waitFor('the resolved alert', () => readJsonl(alertLog).some((a) => a.type === 'resolved'));
    await waitFor('the timeout', () => /timed out/.test(w.stderr()));
    const t0 = Date.now();
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(120_000);
    expect(readJsonl(alertLog).map((a) => a.type)).toEqual(['alert', 'resolved']);
    expect(w.stderr().match(/--exec hook failed .*timed out after/g)).toHaveLength(1);
  }, REPLAY_MS);
});

describe('alerts: baseline by hour of the week', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-baseline-'));
    store = openStore({ path: join(dir, 'bt.db') });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  const MIN = 60_000, HOUR = 3_600_000, WEEK = 7 * 24 * HOUR;
  // Saturday 2026-11-21, 14:00-15:00 UTC; the window judged ends at 14:30.
  const NOW = Date.UTC(2026, 10, 21, 14, 30, 20);
  const END = Date.UTC(2026, 10, 21, 14, 30);

  /** `bytesOut` sent from the server to one client per minute, on eth0, for minutes in [from, to). */
  function flows(from: number, to: number, bytesOut: number): FlowRecord[] {
    const out: FlowRecord[] = [];
    for (let m = from; m < to; m += MIN) {
      out.push({ minute: m, iface: 'eth0', proto: 6, lip: '192.0.2.10', lport: 443, rip: '198.51.100.7', rport: 50000, service: 'https' as FlowRecord['service'], bytesIn: 1000, bytesOut, packetsIn: 10, packetsOut: 100 });
    }
    return out;
  }

  function engine(alertLog: string): AlertEngine {
    const ws = new WatchStore(store);
    const sinks = new AlertSinks(ws, { alertLog, execTimeoutMs: 1000, notice: () => undefined, write: () => undefined });
    return new AlertEngine(store, ws, sinks, {
      windowMs: 5 * MIN, alertAboveBps: null, multiple: 3, minBps: 100_000, repeatMs: 30 * MIN, clock: 'wall', settleMs: 20_000, host: 'mx1',
    });
  }

  it('alerts at more than 3× the median of the same hour in earlier weeks, not at 2×', async () => {
    // Four earlier Saturdays, 14:00-15:00: 7.5 MB a minute = 1 Mbit/s.
    for (let w = 1; w <= 4; w++) store.addFlows('capture', flows(Date.UTC(2026, 10, 21, 14) - w * WEEK, Date.UTC(2026, 10, 21, 15) - w * WEEK, 7_500_000));
    // Today: 2× for a while (no alert), then 5× (alert).
    store.addFlows('capture', flows(END - 20 * MIN, END - 5 * MIN, 15_000_000));
    const log1 = join(dir, 'a1.jsonl');
    expect(await engine(log1).tick(END - 5 * MIN + 20_000, false)).toBe(1);
    expect(readJsonl(log1)).toEqual([]);
    store.addFlows('capture', flows(END - 5 * MIN, END, 37_500_000));
    const log2 = join(dir, 'a2.jsonl');
    expect(await engine(log2).tick(NOW, false)).toBe(1);
    const [a] = readJsonl(log2);
    expect(a.type).toBe('alert');
    expect(a.trigger).toMatchObject({ source: 'capture', iface: 'eth0', direction: 'out', bps: 5e6, threshold: { kind: 'baseline', basis: 'hour-of-week', baselineBps: 1e6, multiple: 3, bps: 3e6 } });
    expect(a.incident).toBe('20261121T1430Z-out-eth0');
  });

  it('falls back to the same hour on earlier days, and stays quiet without history', async () => {
    const quiet = join(dir, 'q.jsonl');
    store.addFlows('capture', flows(END - 5 * MIN, END, 37_500_000));
    expect(await engine(quiet).tick(NOW, false)).toBe(1);
    expect(readJsonl(quiet)).toEqual([]);
    for (let d = 1; d <= 3; d++) store.addFlows('capture', flows(Date.UTC(2026, 10, 21, 14) - d * 24 * HOUR, Date.UTC(2026, 10, 21, 15) - d * 24 * HOUR, 7_500_000));
    // A minute later (the last window was judged already): still 4 of 5 minutes at 5 Mbit/s.
    const log = join(dir, 'd.jsonl');
    expect(await engine(log).tick(NOW + MIN, false)).toBe(1);
    expect(readJsonl(log)[0].trigger!.threshold).toMatchObject({ kind: 'baseline', basis: 'hour-of-day', baselineBps: 1e6 });
  });
});
