/**
 * Exactly once in effect: `ship` cut short by kill -9, by a ClickHouse crash and restart, and by
 * a connection broken mid-batch; after a re-run the central rows equal the local ones, row for
 * row. One local database is built once and copied for each case; each case ships to its own
 * central database on one server started by this file.
 */
import { spawn } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCIDENTS } from '../../src/demo/incidents.js';
import { flowHandlers } from '../../src/flows/handlers.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { openStore } from '../../src/store/index.js';
import { BIN, ROOT, spawnCli, tempDir } from '../helpers/cli.js';
import { centralRows, ClickHouseServer, CuttingProxy, haveClickHouse, localRows, NO_CLICKHOUSE } from '../helpers/clickhouse.js';

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
    } finally {
      await proxy.stop();
    }
  });
});

describe.skipIf(haveClickHouse)('ship, interrupted, then run again', () => {
  it.skip(NO_CLICKHOUSE, () => {});
});
