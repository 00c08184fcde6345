/**
 * Retention (`--keep`): raw rows older than the limit go, after their hours are rolled up into
 * hourly traffic and event counts; running it again changes nothing. In-process against a real
 * SQLite file, and once through `watch --keep` as a child process.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { FlowRecord } from '../../src/flows/types.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { WatchStore } from '../../src/store/watch.js';
import { runRetention } from '../../src/watch/retention.js';
import { TrafficMeter } from '../../src/watch/traffic.js';
import { BIN, tempDir } from '../helpers/cli.js';

const MIN = 60_000, HOUR = 3_600_000, DAY = 24 * HOUR;
const stamp = (t: number) => new Date(t).toISOString().replace('Z', '000+00:00');
const logout = (t: number, i: number, out: number) =>
  `${stamp(t)} mx1 dovecot: imap(user${i % 5}@example.com)<${3000 + i}><sess${String(i).padStart(12, '0')}>: Logged out in=10 out=${out} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0`;
const drop = (t: number, i: number) =>
  `${stamp(t)} mx1 kernel: [ ${1000 + i}.000000] DROP-IN: IN=eth0 OUT= MAC=02:00:5e:00:53:01:02:00:5e:00:53:02:08:00 SRC=203.0.113.13 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00 TTL=49 ID=${i} DF PROTO=TCP SPT=${40000 + i} DPT=${1000 + i} WINDOW=64240 RES=0x00 SYN URGP=0`;

function flow(minute: number, bytesOut: number): FlowRecord {
  return { minute, iface: 'eth0', proto: 6, lip: '192.0.2.10', lport: 993, rip: '198.51.100.9', rport: 51000, service: 'imaps' as FlowRecord['service'], bytesIn: 100, bytesOut, packetsIn: 2, packetsOut: 20 };
}

describe('retention', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-retention-'));
    store = openStore({ path: join(dir, 'bt.db') });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  const NOW = Date.UTC(2026, 10, 21, 12);
  const OLD = Date.UTC(2026, 9, 10); // 42 days before NOW
  const RECENT = Date.UTC(2026, 10, 20, 10);
  const q = <T>(sql: string) => store.db.prepare(sql).get() as T;

  it('rolls old hours up, then prunes them in batches; a second pass changes nothing', async () => {
    const lines: string[] = [];
    for (let h = 0; h < 48; h++) { lines.push(logout(OLD + h * HOUR + 5 * MIN, h, 1000 * (h + 1))); lines.push(drop(OLD + h * HOUR + 7 * MIN, h)); }
    for (let h = 0; h < 10; h++) lines.push(logout(RECENT + h * HOUR, 100 + h, 777));
    const f = join(dir, 'mail.log');
    writeFileSync(f, lines.join('\n') + '\n');
    const s = await ingestPaths(store, [f], { tz: 'UTC', now: NOW, settleMs: 0 });
    expect(s.lines).toBe(106);
    store.addFlows('capture', [flow(OLD + 3 * MIN, 5000), flow(OLD + HOUR + 3 * MIN, 7000), flow(RECENT, 9000), flow(RECENT + MIN, 9000)]);
    expect(store.counts()).toMatchObject({ events: 58, aggregated: 48, flows: 4 });

    const ws = new WatchStore(store);
    const meter = new TrafficMeter(store, ws);
    const before = meter.hour('log-counters', OLD + 5 * HOUR);
    expect(before).toEqual([{ iface: 'logs', bytesIn: 10, bytesOut: 6000, n: 1 }]);

    const r = await runRetention(ws, { keepMs: 30 * DAY, now: NOW });
    const cutoff = NOW - 30 * DAY;
    expect(r).toEqual({ hoursRolledUp: (cutoff - OLD) / HOUR, eventsDeleted: 48, minuteRowsDeleted: 48 + 2, otherRowsDeleted: 0, cutoff: new Date(cutoff).toISOString() });
    expect(store.counts()).toMatchObject({ events: 10, aggregated: 0, flows: 2 });
    expect(q<{ n: number }>("SELECT sum(count) AS n FROM events_hourly WHERE source = 'dovecot'").n).toBe(48);
    expect(q<{ n: number }>("SELECT sum(count) AS n FROM events_hourly WHERE source = 'netfilter'").n).toBe(48);
    expect(q<{ b: number; n: number }>("SELECT sum(bytes_out) AS b, count(*) AS n FROM traffic_hourly WHERE source = 'log-counters'")).toEqual({ b: 1000 * 48 * 49 / 2, n: 48 });
    expect(q<{ b: number }>("SELECT sum(bytes_out) AS b FROM traffic_hourly WHERE source = 'capture'").b).toBe(12_000);
    // The baseline reads pruned hours from the roll-ups: the same figures as from the raw rows.
    expect(new TrafficMeter(store, ws).hour('log-counters', OLD + 5 * HOUR)).toEqual(before);
    expect(new TrafficMeter(store, ws).hour('capture', OLD + HOUR)).toEqual([{ iface: 'eth0', bytesIn: 100, bytesOut: 7000, n: 1 }]);

    const hourly = store.db.prepare('SELECT * FROM traffic_hourly ORDER BY hour, source, iface').all();
    const again = await runRetention(ws, { keepMs: 30 * DAY, now: NOW });
    expect(again).toMatchObject({ hoursRolledUp: 0, eventsDeleted: 0, minuteRowsDeleted: 0 });
    expect(store.db.prepare('SELECT * FROM traffic_hourly ORDER BY hour, source, iface').all()).toEqual(hourly);
    expect(store.counts()).toMatchObject({ events: 10, aggregated: 0, flows: 2 });

    // Roll-ups older than a year go too.
    const later = await runRetention(ws, { keepMs: 30 * DAY, now: OLD + 366 * DAY });
    expect(later.otherRowsDeleted).toBeGreaterThan(0);
    expect(q<{ n: number }>('SELECT count(*) AS n FROM traffic_hourly WHERE hour < ' + (OLD + DAY)).n).toBe(0);
  });

  it('watch --keep 30d prunes what is older on its first pass', async () => {
    store.close();
    const now = Date.now();
    const old = Math.floor((now - 40 * DAY) / HOUR) * HOUR;
    const lines = [...Array.from({ length: 30 }, (_, i) => logout(old + i * MIN, i, 500)), ...Array.from({ length: 12 }, (_, i) => logout(now - 2 * HOUR + i * MIN, 50 + i, 600))];
    const f = join(dir, 'mail.log');
    writeFileSync(f, lines.join('\n') + '\n');
    const db = join(dir, 'keep.db');
    const child = spawn(process.execPath, [BIN, 'watch', '--db', db, f, '--keep', '30d', '--poll-ms', '100', '--sweep-ms', '300'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
    const exited = new Promise((r) => child.once('exit', r));
    const read = () => {
      try {
        const d = new Database(db, { readonly: true, fileMustExist: true });
        try {
          return d.prepare("SELECT (SELECT count(*) FROM events) AS events, (SELECT coalesce(sum(count), 0) FROM events_hourly) AS rolled FROM sqlite_master WHERE name = 'events_hourly'").get() as { events: number; rolled: number } | undefined;
        } finally { d.close(); }
      } catch { return undefined; }
    };
    const t0 = Date.now();
    while (!(read()?.rolled === 30 && read()?.events === 12)) {
      // Generous: a loaded host can take tens of seconds to start watch; the loop ends as soon as it is done.
      if (Date.now() - t0 > 90_000) throw new Error(`timed out: ${JSON.stringify(read())}\n${err}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(err).toMatch(/pruned 30 events/);
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
