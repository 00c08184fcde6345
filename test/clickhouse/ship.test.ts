/**
 * `ship` and `store` against a real ClickHouse (Debian's 18.16 in CI) started by this file:
 * the end-to-end incident databases shipped and compared row for row, rows updated in place
 * after a ship, hostile account names, the server name and target records, and retention.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCIDENTS, type Incident } from '../../src/demo/incidents.js';
import { flowHandlers } from '../../src/flows/handlers.js';
import { ingestPaths } from '../../src/ingest/index.js';
import type { ShipResult } from '../../src/store/clickhouse/ship.js';
import { CLICKHOUSE_MIGRATIONS, migrationsTable } from '../../src/store/clickhouse/migrations.js';
import { featuresOf, quoteString } from '../../src/store/clickhouse/sql.js';
import { openStore } from '../../src/store/index.js';
import { WatchStore } from '../../src/store/watch.js';
import { BIN, ROOT, runCli, spawnCli, tempDir } from '../helpers/cli.js';
import { validate } from '../render/json-schema.js';
import { centralRows, ClickHouseServer, haveClickHouse, localRows, NO_CLICKHOUSE, SHIPPER_PASSWORD } from '../helpers/clickhouse.js';

const OPTS = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0, handlers: flowHandlers() };
const DB = 'fleet';
const SHIP_SCHEMA = JSON.parse(readFileSync(join(ROOT, 'schemas/ship.json'), 'utf8'));

let ch: ClickHouseServer;
const cleanups: Array<() => void> = [];

/** A local database holding one incident (logs and capture, or conntrack listings) as ingest reads it. */
async function incidentDb(inc: Incident, extra: string[] = []): Promise<string> {
  const { dir, cleanup } = tempDir('bytetrail-ship-');
  cleanups.push(cleanup);
  const { files } = inc.writer.write(join(dir, 'logs'), { capture: !inc.listings, listings: inc.listings });
  const db = join(dir, 'bt.db');
  const store = openStore({ path: db });
  try {
    const s = await ingestPaths(store, [...files, ...extra], OPTS);
    expect(s.errors).toEqual([]);
  } finally {
    store.close();
  }
  return db;
}

async function shipCli(db: string, server: string, ...more: string[]): Promise<ShipResult> {
  const r = await runCli<ShipResult>(['ship', '--db', db, '--to', ch.url(DB), '--server', server, ...more]);
  expect(r.error?.message).toBeUndefined();
  return r.result!;
}

afterAll(async () => {
  await ch?.destroy();
  for (const c of cleanups) c();
});

describe.skipIf(!haveClickHouse)('ship to a real ClickHouse', () => {
  beforeAll(async () => {
    ch ??= await ClickHouseServer.start();
  });

  it('ships the incident databases, each as its own server; the central rows equal the local ones', async () => {
    const cases: Array<[string, Incident, string[]]> = [
      ['mx1', INCIDENTS.imapResync(), [join(ROOT, 'fixtures/vnstat/v2-2.10.json')]],
      ['vpn1', INCIDENTS.vpnHeavy(), [join(ROOT, 'fixtures/openvpn-status/v2.status')]],
      ['ns1', INCIDENTS.dnsAmplification(), []],
      ['vpn2', INCIDENTS.vpnHeavyConntrack(), []],
      ['mx2', INCIDENTS.spamRelay(), []],
    ];
    const totals: Record<string, number> = {};
    for (const [server, inc, extra] of cases) {
      const db = await incidentDb(inc, extra);
      if (server === 'mx1') {
        // Alerts as watch raises them.
        const store = openStore({ path: db });
        const w = new WatchStore(store);
        w.recordAlert({ ts: inc.from, incident: 'i1', type: 'alert', summary: 'jan@example.com caused 80%', json: '{"type":"alert"}' });
        w.recordAlert({ ts: inc.from + 60_000, incident: 'i1', type: 'resolved', summary: 'over', json: '{"type":"resolved"}' });
        store.close();
      }
      const r = await shipCli(db, server);
      expect(r.server).toBe(server);
      expect(validate(SHIP_SCHEMA, r)).toEqual([]);
      expect(r.tables.every((t) => t.pending === 0)).toBe(true);
      const local = localRows(db);
      expect(await centralRows(ch, DB, server)).toEqual(local);
      for (const [t, rows] of Object.entries(local)) totals[t] = (totals[t] ?? 0) + rows.length;
    }
    // Every table was exercised by some incident.
    for (const t of ['events', 'event_agg', 'flows', 'vpn_leases', 'iface_totals', 'alerts', 'files', 'file_stats']) expect(totals[t], t).toBeGreaterThan(0);
    const [{ n }] = await ch.json<{ n: string }>(`SELECT uniqExact(server) AS n FROM ${DB}.events`);
    expect(Number(n)).toBe(cases.length);
  });

  it('a second run sends nothing; rows updated in place after a ship ship their new totals, and the roll-ups follow', async () => {
    const inc = INCIDENTS.imapResync(21);
    const db = await incidentDb(inc);
    const first = await shipCli(db, 'mx3');
    expect(first.rows).toBeGreaterThan(0);
    expect((await shipCli(db, 'mx3')).rows).toBe(0);
    // Another capture of the same minutes: ingest adds to the flows rows already shipped.
    const again = INCIDENTS.imapResync(22);
    const { dir, cleanup } = tempDir('bytetrail-ship-more-');
    cleanups.push(cleanup);
    const { files } = again.writer.write(join(dir, 'logs'), { capture: true });
    const store = openStore({ path: db });
    await ingestPaths(store, files, OPTS);
    const updated = store.db.prepare('SELECT count(*) AS n FROM ship_log_flows').get() as { n: number };
    store.close();
    expect(updated.n).toBeGreaterThan(0);
    const second = await shipCli(db, 'mx3');
    expect(second.tables.find((t) => t.table === 'flows')!.rows).toBeGreaterThan(0);
    expect(await centralRows(ch, DB, 'mx3')).toEqual(localRows(db));
    // The per-minute roll-ups sum what each shipped version added: equal to the local totals.
    const local = localRows(db);
    const sum = (rows: Array<Record<string, unknown>>, c: string) => rows.reduce((a, r) => a + Number(r[c]), 0);
    const [t] = await ch.json<{ i: string; o: string }>(`SELECT sum(bytes_in) AS i, sum(bytes_out) AS o FROM ${DB}.traffic_by_minute FINAL WHERE server = 'mx3'`);
    expect([Number(t.i), Number(t.o)]).toEqual([sum(local.flows, 'bytes_in'), sum(local.flows, 'bytes_out')]);
    const [e] = await ch.json<{ n: string }>(`SELECT sum(events) AS n FROM ${DB}.events_by_minute FINAL WHERE server = 'mx3'`);
    expect(Number(e.n)).toBe(local.events.length + sum(local.event_agg, 'count'));
  });

  it('hostile account names round-trip byte for byte, through rows and through quoted literals', async () => {
    const hostile = ["o'brien", 'back\\slash\\', 'nul\u0000byte', 'new\nline\r\n', 'tab\there', '"dq"', "'; DROP TABLE events; --",
      'ünïcødé', '😀 astral', 'ctrl\u0001\u001f\u007f', 'bs\b ff\f vt\v', '\\x41\\0', 'a`b', '${x}',
      // What TabSeparated gives a meaning to: its NULL, its escapes, separators at either end, and nothing at all.
      '\\N', '', '\\', '\t', '\n', '\r', '\\t\\n', 'end\\', '\tlead', 'trail\t', 'a\\\tb\\\nc'];
    const { dir, cleanup } = tempDir('bytetrail-ship-hostile-');
    cleanups.push(cleanup);
    const db = join(dir, 'bt.db');
    const store = openStore({ path: db });
    const f = store.createFile({ path: '/var/log/mail.log', dev: null, ino: null, fpHash: 'x', fpLen: 1, kind: 'log', size: null, mtime: null });
    store.commitBatch({
      fileId: f.id, expectOffset: 0, newOffset: 1, newLines: 1, tailHash: null, aggs: [], stats: [], unparsed: [],
      events: hostile.map((account, k) => ({
        ev: { ts: Date.UTC(2026, 10, 20, 8, k), source: 'dovecot', host: 'mx', program: 'dovecot', kind: 'login', account, rip: '192.0.2.7', rport: 40000 + k, lip: '192.0.2.1', lport: 993, session: `s${k}`, bytesIn: null, bytesOut: null, attrs: { user: account } },
        line: k + 1, raw: `login user=<${account}>`,
      })),
      leases: hostile.map((account, k) => ({ account, realIp: '198.51.100.9', realPort: 1000 + k, vip: '10.8.0.2', firstTs: Date.UTC(2026, 10, 20, 9, k), lastTs: Date.UTC(2026, 10, 20, 10, k), source: 'openvpn' })),
    });
    store.close();
    await shipCli(db, "srv'\\hostile");
    const central = await centralRows(ch, DB, "srv'\\hostile");
    expect(central).toEqual(localRows(db));
    expect([...central.events].sort((a, b) => Number(a.id) - Number(b.id)).map((e) => e.account)).toEqual(hostile);
    expect(central.vpn_leases.map((e) => Buffer.from(String(e.account)).toString('hex')).sort())
      .toEqual(hostile.map((a) => Buffer.from(a).toString('hex')).sort());
    // Quoted as a literal, each name selects its own row and reads back unchanged.
    for (const a of hostile) {
      const rows = await ch.json<{ account: string }>(`SELECT account FROM ${DB}.events FINAL WHERE server = ${quoteString("srv'\\hostile")} AND account = ${quoteString(a)}`);
      expect(rows).toEqual([{ account: a }]);
      expect(await ch.json<{ s: string }>(`SELECT ${quoteString(a)} AS s`)).toEqual([{ s: a }]);
    }
  });

  it('records the server name and the target on first use, and refuses to change them', async () => {
    const db = await incidentDb(INCIDENTS.scanAndBruteforce());
    await shipCli(db, 'edge1');
    const other = await runCli(['ship', '--db', db, '--to', ch.url(DB), '--server', 'edge2']);
    expect(other.error?.message ?? '').toBe('');
    const r = spawnCli(['ship', '--db', db, '--to', ch.url(DB), '--server', 'edge2']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('this database ships as server "edge1", not "edge2"');
    // Without --server, the recorded name.
    const again = spawnCli(['ship', '--db', db, '--to', ch.url(DB), '--json']);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ server: 'edge1', rows: 0 });
    const elsewhere = spawnCli(['ship', '--db', db, '--to', ch.url('other')]);
    expect(elsewhere.status).toBe(2);
    expect(elsewhere.stderr).toContain(`this database ships to ${ch.url(DB)}`);
  });

  it('takes the password from the environment, and warns when it is on the command line', async () => {
    const db = await incidentDb(INCIDENTS.sharedIp());
    const bad = spawnCli(['ship', '--db', db, '--to', ch.url(DB, 'shipper'), '--server', 'pw1'], { env: { BYTETRAIL_CLICKHOUSE_PASSWORD: 'wrong' } });
    expect(bad.status).toBe(3);
    expect(bad.stderr).toMatch(/bytetrail: error: ClickHouse .* failed: .*(password|Authentication)/i);
    const ok = spawnCli(['ship', '--db', db, '--to', ch.url(DB, 'shipper'), '--server', 'pw1', '--json'], { env: { BYTETRAIL_CLICKHOUSE_PASSWORD: SHIPPER_PASSWORD } });
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    const inUrl = spawnCli(['store', 'migrate', '--store', `clickhouse://shipper:${encodeURIComponent(SHIPPER_PASSWORD)}@127.0.0.1:${ch.httpPort}/${DB}`]);
    expect(inUrl.status).toBe(0);
    expect(inUrl.stderr).toContain('bytetrail: warning: a password in --store shows in ps');
    expect(inUrl.stdout).toContain(`Schema of clickhouse://shipper@127.0.0.1:${ch.httpPort}/${DB} is current (step 4, ClickHouse `);
  });

  it('migrations are recorded centrally and run once', async () => {
    const first = await runCli<{ applied: number[] }>(['store', 'migrate', '--store', ch.url('fresh')]);
    expect(first.result?.applied).toEqual([1, 2, 3, 4]);
    const again = await runCli<{ applied: number[] }>(['store', 'migrate', '--store', ch.url('fresh')]);
    expect(again.result?.applied).toEqual([]);
    expect(await ch.json('SELECT version, name FROM fresh.bytetrail_migrations FINAL ORDER BY version')).toEqual([
      { version: 1, name: 'raw tables: events, aggregates, flows, leases, interface totals, alerts' },
      { version: 2, name: 'per-minute roll-ups of traffic and events, fed by materialized views' },
      { version: 3, name: 'what reading needs: files, per-file counts, unparsed samples, losses, open conntrack entries' },
      { version: 4, name: 'per-minute roll-ups written by ship per batch, so that a batch sent twice counts once' },
    ]);
  });

  it("a store at step 2 keeps its roll-ups: step 4 copies them and stops step 2's views", async () => {
    const db = '`old2`';
    const v = { major: 18, minor: 16, text: '18.16' };
    await ch.query('CREATE DATABASE old2');
    await ch.query(migrationsTable(db));
    for (const step of CLICKHOUSE_MIGRATIONS.slice(0, 2)) {
      for (const sql of step.statements(db, featuresOf(v))) await ch.query(sql);
      await ch.query(`INSERT INTO old2.bytetrail_migrations VALUES (${step.version}, '', '', now())`);
    }
    // Shipped by a bytetrail of step 2: the views fill its roll-ups.
    await ch.query(`INSERT INTO old2.flows (server, source, minute, iface, proto, lip, lport, rip, rport, service, bytes_in, bytes_out, packets_in, packets_out,
      add_bytes_in, add_bytes_out, add_packets_in, add_packets_out, ver) VALUES ('s', 'pcap', 60000, 'eth0', 6, '192.0.2.1', 993, '198.51.100.1', 5000, 'imap', 10, 20, 1, 2, 10, 20, 1, 2, 1)`);
    const r = await runCli<{ applied: number[] }>(['store', 'migrate', '--store', ch.url('old2')]);
    expect(r.result?.applied).toEqual([3, 4]);
    expect(await ch.json('SELECT minute, server, feed, batch, bytes_in, bytes_out FROM old2.traffic_by_minute FINAL'))
      .toEqual([{ minute: '60000', server: 's', feed: 'step2', batch: '0', bytes_in: '10', bytes_out: '20' }]);
    expect(await ch.json("SELECT name FROM system.tables WHERE database = 'old2' AND name LIKE '%_mv'")).toEqual([]);
  });

  it('store prune drops daily partitions older than --keep and keeps the roll-ups longer', async () => {
    const db = await incidentDb(INCIDENTS.imapResync(31));
    const r = await runCli<ShipResult>(['ship', '--db', db, '--to', ch.url('retention'), '--server', 'mx9']);
    expect(r.error?.message).toBeUndefined();
    const count = async (t: string) => Number((await ch.json<{ n: string }>(`SELECT count() AS n FROM retention.${t}`))[0].n);
    const before = { events: await count('events'), flows: await count('flows'), traffic: await count('traffic_by_minute') };
    expect(before.events).toBeGreaterThan(0);
    // The incident is on 2026-11-20: kept with 30 days from 2026-12-06 …
    const keep = await runCli<{ dropped: unknown[] }>(['store', 'prune', '--store', ch.url('retention'), '--keep', '30d', '--now', '2026-12-06T12:00:00Z']);
    expect(keep.result?.dropped).toEqual([]);
    // … dropped with 10, while the per-minute roll-ups (monthly partitions, 400 days) stay.
    const drop = await runCli<{ dropped: Array<{ table: string; partition: string }> }>(['store', 'prune', '--store', ch.url('retention'), '--keep', '10d', '--now', '2026-12-06T12:00:00Z']);
    expect(drop.result?.dropped.map((d) => `${d.table}/${d.partition}`)).toEqual(expect.arrayContaining(['events/20261120', 'flows/20261120']));
    expect(drop.result?.dropped.some((d) => d.table.endsWith('_minute'))).toBe(false);
    expect([await count('events'), await count('flows'), await count('traffic_by_minute')]).toEqual([0, 0, before.traffic]);
    // The small tables the readers need (files, per-file counts) are not by day: kept.
    expect(await count('files')).toBeGreaterThan(0);
    // A month and a half later, with the default roll-up keep (400 days): the roll-ups still stay …
    const later = await runCli<{ dropped: Array<{ table: string; partition: string }> }>(['store', 'prune', '--store', ch.url('retention'), '--keep', '10d', '--now', '2027-01-15T00:00:00Z']);
    expect(later.result?.dropped).toEqual([]);
    // … and a roll-up month goes once it is wholly older than --keep-rollups.
    const rollups = await runCli<{ dropped: Array<{ table: string; partition: string }> }>(['store', 'prune', '--store', ch.url('retention'), '--keep', '10d', '--keep-rollups', '40d', '--now', '2027-01-15T00:00:00Z']);
    expect(rollups.result?.dropped.map((d) => `${d.table}/${d.partition}`).sort()).toEqual(['events_by_minute/202611', 'traffic_by_minute/202611']);
    expect([await count('traffic_by_minute'), await count('events_by_minute')]).toEqual([0, 0]);
  });
});

describe.skipIf(!haveClickHouse)('watch --ship', () => {
  beforeAll(async () => {
    ch ??= await ClickHouseServer.start();
  });

  it('ships what watch reads as it reads it; a line appended later arrives too, and the rows equal', async () => {
    const { dir, cleanup } = tempDir('bytetrail-watch-ship-');
    cleanups.push(cleanup);
    const log = join(dir, 'mail.log');
    const line = (i: number) => `Nov 21 10:00:${String(i).padStart(2, '0')} mx1 postfix/smtpd[${10000 + i}]: connect from unknown[192.0.2.${i + 1}]\n`;
    writeFileSync(log, [0, 1, 2].map(line).join(''));
    const db = join(dir, 'bt.db');
    const child = spawn(process.execPath, [BIN, 'watch', '--db', db, log, '--ship', ch.url('watched'), '--server', 'w1', '--ship-interval', '300ms',
      '--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '600', '--check-ms', '200'],
    { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    let gone = false;
    const exited = new Promise((r) => child.once('exit', (code) => { gone = true; r(code); }));
    const central = async () => Number((await ch.json<{ n: string }>("SELECT count() AS n FROM watched.events FINAL WHERE server = 'w1'").catch(() => [{ n: '0' }]))[0].n);
    const until = async (n: number) => {
      for (let i = 0; i < 300 && !gone && (await central()) < n; i++) await new Promise((r) => setTimeout(r, 100));
    };
    try {
      await until(3);
      expect(await central(), stderr).toBe(3);
      appendFileSync(log, line(3));
      await until(4);
      expect(await central(), stderr).toBe(4);
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
    expect(await centralRows(ch, 'watched', 'w1')).toEqual(localRows(db));
  });
});

describe.skipIf(haveClickHouse)('ship to a real ClickHouse', () => {
  it.skip(NO_CLICKHOUSE, () => {});
});
