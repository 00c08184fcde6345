/**
 * Exactly once in effect: `ship` cut short by kill -9, by a ClickHouse crash and restart, and by
 * a connection broken mid-batch; after a re-run the central rows equal the local ones, row for
 * row. One local database is built once and copied for each case; each case ships to its own
 * central database on one server started by this file.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCIDENTS } from '../../src/demo/incidents.js';
import { flowHandlers } from '../../src/flows/handlers.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { Central } from '../../src/store/clickhouse/central.js';
import { rollupRows, tsvLines } from '../../src/store/clickhouse/ship.js';
import { parseClickHouseUrl } from '../../src/store/clickhouse/url.js';
import { openStore } from '../../src/store/index.js';
import { Outbox } from '../../src/store/outbox.js';
import { BIN, ROOT, spawnCli, tempDir } from '../helpers/cli.js';
import { centralRollups, centralRows, ClickHouseServer, CuttingProxy, haveClickHouse, localRollups, localRows, NO_CLICKHOUSE } from '../helpers/clickhouse.js';

const OPTS = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0, handlers: flowHandlers() };
/** Small batches: many acknowledgements, so many moments to be cut at. */
const BATCH = ['--batch-rows', '250'];

let ch: ClickHouseServer;
let source: string;
let tmp: { dir: string; cleanup: () => void };

/** A fresh copy of the local database for one case. */
function copyDb(name: string): string {
  const p = join(tmp.dir, `${name}.db`);
  copyFileSync(source, p);
  return p;
}

/** Deterministic pseudo-random delays (mulberry32): the kill moments differ, the test does not. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Runs `ship` as a child (never spawnSync: the proxy lives in this process), with a line on
 * stderr per acknowledged batch; `onBatch` sees their count and may kill it. Resolves once it is gone.
 */
function shipChild(db: string, url: string, onBatch: (n: number, kill: () => void) => void = () => {}): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'ship', '--db', db, '--to', url, '--server', 'crashy', ...BATCH],
      { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, BYTETRAIL_DEBUG: '1' } });
    let stderr = '';
    let batches = 0;
    child.stderr.on('data', (d) => {
      stderr += d;
      const n = (stderr.match(/^bytetrail: shipped /gm) ?? []).length;
      if (n !== batches) { batches = n; onBatch(n, () => child.kill('SIGKILL')); }
    });
    child.once('exit', (code, signal) => resolve({ code, signal, stderr }));
  });
}

async function centralCount(database: string): Promise<number> {
  const [r] = await ch.json<{ n: string }>(`SELECT (SELECT count() FROM ${database}.events) + (SELECT count() FROM ${database}.flows) AS n`).catch(() => [{ n: '0' }]);
  return Number(r.n);
}

describe.skipIf(!haveClickHouse)('ship, interrupted, then run again', () => {
  beforeAll(async () => {
    ch = await ClickHouseServer.start();
    tmp = tempDir('bytetrail-crash-');
    source = join(tmp.dir, 'source.db');
    const store = openStore({ path: source });
    for (const [k, inc] of [['a', INCIDENTS.imapResync()], ['b', INCIDENTS.dnsAmplification()], ['c', INCIDENTS.vpnHeavy()]] as const) {
      const { files } = inc.writer.write(join(tmp.dir, k), { capture: true });
      await ingestPaths(store, k === 'c' ? [...files, join(ROOT, 'fixtures/openvpn-status/v2.status')] : files, OPTS);
    }
    store.close();
  });
  afterAll(async () => {
    await ch?.destroy();
    tmp?.cleanup();
  });

  it('kill -9 at random moments, again and again: a last run makes the central rows equal the local ones exactly', async () => {
    const db = copyDb('kill');
    const url = ch.url('killed');
    const rand = prng(20261206);
    let cutMidway = 0;
    for (let round = 0; round < 12; round++) {
      // After the k-th acknowledged batch, and a few ms into the next one (or into the ack).
      const k = 1 + Math.floor(rand() * 6);
      const delay = Math.floor(rand() * 40);
      const r = await shipChild(db, url, (n, kill) => { if (n === k) setTimeout(kill, delay); });
      if (r.signal === 'SIGKILL') cutMidway++;
      if (r.code === 0) break;
    }
    const last = spawnCli(['ship', '--db', db, '--to', url, '--server', 'crashy', ...BATCH]);
    expect(last.stderr).toBe('');
    expect(last.status).toBe(0);
    // The kills landed while rows were flowing.
    expect(cutMidway).toBeGreaterThanOrEqual(3);
    expect(await centralRows(ch, 'killed', 'crashy')).toEqual(localRows(db));
    // The per-minute roll-ups too: batches sent again after a kill count once.
    expect(await centralRollups(ch, 'killed', 'crashy')).toEqual(localRollups(db));
  });

  it('ClickHouse killed and restarted mid-ship: the run fails, a re-run equals', async () => {
    const db = copyDb('restart');
    const url = ch.url('restarted');
    let stopped = false;
    const r = await shipChild(db, url, (n) => {
      if (n !== 3) return;
      stopped = true;
      void ch.kill();
    });
    expect(stopped).toBe(true);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/bytetrail: error: ClickHouse (insert into \w+|statement|query) at clickhouse:\/\/127\.0\.0\.1:\d+\/restarted failed/);
    expect(r.stderr).toContain('Nothing was lost');
    await ch.start();
    expect(await centralCount('restarted')).toBeLessThan(localRows(db).events.length + localRows(db).flows.length);
    const again = spawnCli(['ship', '--db', db, '--to', url, '--server', 'crashy', ...BATCH]);
    expect(again.status).toBe(0);
    expect(await centralRows(ch, 'restarted', 'crashy')).toEqual(localRows(db));
    expect(await centralRollups(ch, 'restarted', 'crashy')).toEqual(localRollups(db));
  });

  it('a connection cut mid-batch, at several points: each run fails, a re-run equals', async () => {
    const db = copyDb('cut');
    const proxy = await CuttingProxy.start(ch.httpPort);
    try {
      const url = `clickhouse://127.0.0.1:${proxy.port}/cut`;
      for (const at of [20_000, 12_000, 6_000]) {
        proxy.cutIn(at);
        const r = await shipChild(db, url);
        expect(r.code, `cut at ${at}, cuts=${proxy.cuts}: ${r.stderr.split("\n").filter((l) => !l.includes("shipped")).join(" ")}`).toBe(3);
        expect(r.stderr).toMatch(/ClickHouse .* failed/);
      }
      expect(proxy.cuts).toBe(3);
      const again = await shipChild(db, url);
      expect(again.code).toBe(0);
      expect(await centralRows(ch, 'cut', 'crashy')).toEqual(localRows(db));
      expect(await centralRollups(ch, 'cut', 'crashy')).toEqual(localRollups(db));
    } finally {
      await proxy.stop();
    }
  });
});

describe.skipIf(!haveClickHouse)('a batch sent, then the run dies before the acknowledgement', () => {
  // Its own server: the one above is destroyed by its afterAll.
  beforeAll(async () => {
    ch = await ClickHouseServer.start();
  });
  afterAll(async () => {
    await ch?.destroy();
  });

  it('while more rows are written locally: the next run sends that batch again as it was, and the roll-ups count it once', async () => {
    const { dir, cleanup } = tempDir('bytetrail-inflight-');
    try {
      const log = (name: string, from: number, n: number) => {
        const p = join(dir, name);
        writeFileSync(p, Array.from({ length: n }, (_, k) => `Nov 21 10:0${Math.floor((from + k) / 60)}:${String((from + k) % 60).padStart(2, '0')} mx1 postfix/smtpd[${10000 + from + k}]: connect from unknown[192.0.2.${from + k + 1}]\n`).join(''));
        return p;
      };
      const db = join(dir, 'bt.db');
      const store = openStore({ path: db });
      await ingestPaths(store, [log('a.log', 0, 10)], OPTS);
      // What a run does up to the insert: the schema, the batch's extent recorded, raw rows and roll-ups sent.
      const target = parseClickHouseUrl(ch.url('inflight'));
      const central = new Central(target);
      await central.migrate();
      const ob = new Outbox(store);
      ob.serverName('crashy', 'crashy');
      ob.claimTarget(target.display);
      ob.track(0);
      const b = ob.batch('events', 1000);
      expect(b.rows.length).toBe(10);
      ob.sending(b);
      await central.insertLines('events', tsvLines(b, 'crashy'));
      for (const [name, rows] of rollupRows(b, 'crashy')) await central.insertRollup(name, rows);
      await central.close();
      // … and it dies there. watch goes on reading: 5 more events, in the same minutes.
      await ingestPaths(store, [log('b.log', 10, 5)], OPTS);
      store.close();
      const again = spawnCli(['ship', '--db', db, '--to', ch.url('inflight'), '--server', 'crashy', '--json']);
      expect(again.status).toBe(0);
      // The batch went again as it was (10 rows), then the 5 new ones.
      expect(JSON.parse(again.stdout).tables.find((t: { table: string }) => t.table === 'events')).toMatchObject({ rows: 15, batches: 2 });
      expect(await centralRows(ch, 'inflight', 'crashy')).toEqual(localRows(db));
      expect(await centralRollups(ch, 'inflight', 'crashy')).toEqual(localRollups(db));
    } finally {
      cleanup();
    }
  });
});

describe.skipIf(haveClickHouse)('ship, interrupted, then run again', () => {
  it.skip(NO_CLICKHOUSE, () => {});
});
