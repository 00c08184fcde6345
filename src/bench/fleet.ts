/**
 * `npm run bench -- fleet` (issue 11): N servers (BENCH_FLEET_SERVERS, default 50), each one busy
 * day of the benchmark generator (BENCH_FLEET_LINES lines, default 1,000,000) under its own host
 * name and seed, so that the 2,000 mailboxes overlap in part from server to server. Each is
 * ingested into its own database, then shipped to one central ClickHouse (BENCH_CLICKHOUSE, or a
 * server started on loopback for the run).
 *
 * Figures: ship in rows/s and MB/s against the floor (the same rows, exported as JSONEachRow,
 * inserted with plain curl, one request per table and server), their ratio, ship's peak RSS,
 * and the ReadStore queries investigate makes for a 2-hour window, across the fleet and for one
 * server. The MB are the JSONEachRow bytes of those rows.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { flowHandlers } from '../flows/handlers.js';
import { ingestPaths } from '../ingest/index.js';
import { Central } from '../store/clickhouse/central.js';
import { CENTRAL_TABLES } from '../store/clickhouse/migrations.js';
import { openClickHouseReadStore } from '../store/clickhouse/read.js';
import { quoteString } from '../store/clickhouse/sql.js';
import { parseClickHouseUrl } from '../store/clickhouse/url.js';
import { openStore } from '../store/index.js';
import type { ReadStore } from '../store/read.js';
import { ClickHouseServer, haveClickHouse } from './clickhouse-server.js';
import { generateLogs, GENERATOR_VERSION } from './generate.js';
import { fmt, have, removeDb, timeShell } from './measure.js';

const HOUR = 3_600_000;

/** One server's database: generated and ingested once, reused while the generator and size are the same. */
async function serverDb(dir: string, k: number, lines: number): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const db = join(dir, 'bt.db');
  const manifest = join(dir, 'manifest.json');
  const want = JSON.stringify({ lines, seed: 100 + k, generator: GENERATOR_VERSION });
  if (existsSync(db) && existsSync(manifest) && readFileSync(manifest, 'utf8') === want) return db;
  process.stderr.write(`bench fleet: server mx${k}: generating and ingesting ${fmt(lines)} lines\n`);
  const gen = await generateLogs({ dir, lines, seed: 100 + k, host: `mx${k}`, mix: 'busy' });
  removeDb(db);
  const store = openStore({ path: db });
  try {
    await ingestPaths(store, Object.values(gen.files), { tz: 'UTC', now: Date.UTC(2026, 10, 22), settleMs: 0, handlers: flowHandlers() });
  } finally {
    store.close();
  }
  writeFileSync(manifest, want);
  return db;
}

interface ShipFigures { rows: number; wall: number; cpu: number; peakRssMb: number }

function shipOnce(db: string, url: string, server: string): ShipFigures {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, 'fleet-ship.js'), db, url, server], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`bench fleet: ship of ${server} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as ShipFigures;
}

/** ms of the fastest of two runs of `f`. */
async function timed(f: () => Promise<unknown>): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < 2; i++) {
    const t0 = process.hrtime.bigint();
    await f();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return best;
}

/** The ReadStore calls investigate makes for [from, to), each timed, in ms. */
async function investigateQueries(rs: ReadStore, from: number, to: number): Promise<Array<[string, number]>> {
  const out: Array<[string, number]> = [];
  out.push(['longSessionEvents (7 d back)', await timed(() => rs.longSessionEvents(from - 168 * HOUR, from - 24 * HOUR))]);
  out.push(['identityEvents (24 h back)', await timed(() => rs.identityEvents(from - 24 * HOUR, from))]);
  out.push(['eventsInRange', await timed(() => rs.eventsInRange(from, to + 300_000))]);
  out.push(['dataExtent', await timed(() => rs.dataExtent())]);
  out.push(['leasesInRange (7 d)', await timed(() => rs.leasesInRange(from - 168 * HOUR, to))]);
  out.push(['aggregatesInRange', await timed(() => rs.aggregatesInRange(from, to))]);
  out.push(['flowSources', await timed(() => rs.flowSources(from, to))]);
  for (const s of await rs.flowSources(from, to)) {
    out.push([`iterateFlows ${s.source}`, await timed(async () => { for await (const _ of rs.iterateFlows(s.source, from, to)) void _; })]);
    out.push([`vpnFlowsInRange ${s.source}`, await timed(() => rs.vpnFlowsInRange(s.source, from, to, [1194], []))]);
  }
  out.push(['interfaceTotals', await timed(() => rs.interfaceTotals('hour', from, to))]);
  out.push(['openConnections', await timed(() => rs.openConnections(from, to))]);
  return out;
}

export async function benchFleet(dir: string): Promise<void> {
  const n = Number(process.env.BENCH_FLEET_SERVERS) || 50;
  const lines = Number(process.env.BENCH_FLEET_LINES) || 1_000_000;
  console.log(`\n## Fleet: ${n} servers × ${fmt(lines)} lines (busy mix), shipped to one ClickHouse`);
  if (!process.env.BENCH_CLICKHOUSE && !haveClickHouse) { console.log('ClickHouse is not installed and BENCH_CLICKHOUSE is not set: skipped.'); return; }
  if (!have('curl')) { console.log('curl is not installed (the floor): skipped.'); return; }
  const dbs: string[] = [];
  for (let k = 0; k < n; k++) dbs.push(await serverDb(join(dir, `s${k}`), k, lines));

  const local = process.env.BENCH_CLICKHOUSE ? null : await ClickHouseServer.start();
  const base = process.env.BENCH_CLICKHOUSE ?? local!.url('bench_fleet');
  const target = parseClickHouseUrl(base);
  const http = `${target.url}/?user=${encodeURIComponent(target.username)}&password=${encodeURIComponent(target.password)}`;
  const sql = (q: string) => spawnSync('curl', ['-sS', '--fail-with-body', '--data-binary', '@-', http], { input: q, encoding: 'utf8', maxBuffer: 64 << 20 });
  const db = target.database;
  const floorDb = `${db}_floor`;
  try {
    for (const d of [db, floorDb]) sql(`DROP DATABASE IF EXISTS \`${d}\``);
    // Ship, one sender after another, each from a fresh copy (a new outbox).
    let rows = 0, wall = 0, cpu = 0, rss = 0;
    const server0 = local?.cpuSeconds() ?? null;
    for (let k = 0; k < n; k++) {
      const copy = join(dir, `s${k}`, 'ship.db');
      removeDb(copy);
      copyFileSync(dbs[k], copy);
      const f = shipOnce(copy, base, `mx${k}`);
      rows += f.rows; wall += f.wall; cpu += f.cpu; rss = Math.max(rss, f.peakRssMb);
    }
    const shipServerCpu = server0 === null ? null : local!.cpuSeconds()! - server0;
    // The floor: the same raw rows, exported as JSONEachRow and inserted with curl into an empty copy of the schema.
    const central = new Central(parseClickHouseUrl(base.replace(/\/[^/]+$/, `/${floorDb}`)));
    await central.migrate();
    await central.close();
    const exp = join(dir, 'floor');
    mkdirSync(exp, { recursive: true });
    let bytes = 0, floorRows = 0;
    const inserts: string[] = [];
    for (let k = 0; k < n; k++) {
      for (const t of Object.values(CENTRAL_TABLES)) {
        const file = join(exp, `mx${k}.${t.name}.json`);
        const cols = t.columns.map((c) => c.name).join(', ');
        const r = spawnSync('sh', ['-c', `curl -sS --fail-with-body --data-binary @- '${http}&output_format_json_quote_64bit_integers=0' > '${file}'`],
          { input: `SELECT ${cols} FROM \`${db}\`.${t.name} FINAL WHERE server = ${quoteString(`mx${k}`)} FORMAT JSONEachRow` });
        if (r.status !== 0) throw new Error(`bench fleet: export of ${t.name} failed`);
        const size = statSync(file).size;
        if (size === 0) continue;
        bytes += size;
        floorRows += readFileSync(file, 'utf8').split('\n').length - 1;
        inserts.push(`curl -sS --fail-with-body --data-binary @'${file}' '${http}&query=${encodeURIComponent(`INSERT INTO \`${floorDb}\`.${t.name} FORMAT JSONEachRow`)}'`);
      }
    }
    writeFileSync(join(exp, 'insert.sh'), inserts.join('\n') + '\n');
    const floor1 = local?.cpuSeconds() ?? null;
    const floor = timeShell(`sh '${join(exp, 'insert.sh')}'`, 1);
    const floorServerCpu = floor1 === null ? null : local!.cpuSeconds()! - floor1;
    const mb = bytes / 1e6;
    console.log(`ship: ${fmt(rows)} rows (${mb.toFixed(0)} MB as JSONEachRow) in ${wall.toFixed(1)} s: ${fmt(rows / wall)} rows/s, ${(mb / wall).toFixed(1)} MB/s; CPU ${cpu.toFixed(1)} s; peak RSS ${rss} MB`);
    if (floor) {
      console.log(`floor (curl, JSONEachRow, one insert per table and server): ${fmt(floorRows)} rows in ${floor.wall.toFixed(1)} s: ${fmt(floorRows / floor.wall)} rows/s, ${(mb / floor.wall).toFixed(1)} MB/s`);
      console.log(`ship / floor by wall time: ${((100 * (rows / wall)) / (floorRows / floor.wall)).toFixed(0)}% (aim ≥ 50%); peak RSS ${rss} MB (aim ≤ 256 MB)`);
      if (shipServerCpu !== null && floorServerCpu !== null) {
        // On a loaded machine wall time measures the neighbours; CPU time (sender + ClickHouse, or curl + ClickHouse) does not.
        const shipCpu = cpu + shipServerCpu, floorCpu = floor.cpu + floorServerCpu;
        console.log(`CPU: ship ${cpu.toFixed(1)} s sender + ${shipServerCpu.toFixed(1)} s ClickHouse (roll-ups and merges included); floor ${floor.cpu.toFixed(1)} s curl + ${floorServerCpu.toFixed(1)} s ClickHouse`);
        console.log(`ship / floor by CPU on two idle cores (max of busiest side and half of all): ${((100 * Math.max(floor.cpu, floorServerCpu, floorCpu / 2)) / Math.max(cpu, shipServerCpu, shipCpu / 2)).toFixed(0)}%`);
      }
    }
    // Reading: the last two hours of data, the whole fleet and one server.
    for (const [label, servers] of [['fleet', []], ['one server', ['mx0']]] as Array<[string, string[]]>) {
      const rs = await openClickHouseReadStore(base, { servers, password: target.password });
      try {
        const ext = await rs.dataExtent();
        if (ext.last === null) continue;
        const to = ext.last, from = to - 2 * HOUR;
        const qs = await investigateQueries(rs, from, to);
        const total = qs.reduce((a, [, ms]) => a + ms, 0);
        console.log(`read, ${label} (${servers.length ? servers.join(', ') : `${n} servers`}), investigate's queries for 2 h: ${(total / 1000).toFixed(2)} s (aim: fleet ≤ 5 s, one server ≤ 2 s)`);
        for (const [q, ms] of qs) console.log(`  ${q}: ${fmt(ms)} ms`);
      } finally {
        await rs.close();
      }
    }
    console.log('(Wall times on a shared machine: other processes slow every figure; the ratio is measured in the same run.)');
  } finally {
    await local?.destroy();
  }
}
