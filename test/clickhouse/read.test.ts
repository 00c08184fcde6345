/**
 * The fleet's ReadStore against the SQLite Store, on a real ClickHouse started by this file: each
 * end-to-end incident is ingested into a real SQLite file and shipped, then every read method
 * over the incident's window (and the wider windows investigate looks back over) must answer
 * from ClickHouse exactly what the SQLite Store's method of the same meaning answers, in the
 * same order, once `server` is set aside. Sums are of integers on both sides: no rounding is
 * allowed. Then two servers in one central store: `servers: ['a']` answers with a's rows only.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INCIDENTS, type Incident } from '../../src/demo/incidents.js';
import { SERVER } from '../../src/demo/scenario.js';
import { flowHandlers } from '../../src/flows/handlers.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { openClickHouseReadStore } from '../../src/store/clickhouse/read.js';
import { openStore, type Store, type StoredEvent } from '../../src/store/index.js';
import type { ReadStore } from '../../src/store/read.js';
import type { Investigation } from '../../src/correlate/types.js';
import { ROOT, runCli, tempDir } from '../helpers/cli.js';
import { ClickHouseServer, haveClickHouse, NO_CLICKHOUSE } from '../helpers/clickhouse.js';

const OPTS = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0, handlers: flowHandlers() };
const DB = 'readfleet';
const DAY = 86_400_000;

let ch: ClickHouseServer;
const cleanups: Array<() => void> = [];

/** Lines the parsers do not understand, and one that is not UTF-8: for unparsedReport and lossTotals. */
function oddLog(dir: string): string {
  const p = join(dir, 'odd.log');
  writeFileSync(p, Buffer.concat([
    Buffer.from('Nov 20 08:00:00 mail dovecot: frobnicate(x): something odd\nNov 20 08:00:01 mail dovecot: imap(jan): Bogus stuff happened here\n'),
    Buffer.from('Nov 20 08:00:02 mail dovecot: imap-login: Login: user=<j\xffn>, method=PLAIN, rip=192.0.2.77, lip=192.0.2.10, session=<x>\n', 'latin1'),
  ]));
  return p;
}

async function incidentDb(inc: Incident, extra: string[] = [], local?: string): Promise<string> {
  const { dir, cleanup } = tempDir('bytetrail-read-');
  cleanups.push(cleanup);
  const { files } = inc.writer.write(join(dir, 'logs'), { capture: !inc.listings, listings: inc.listings });
  const db = join(dir, 'bt.db');
  const store = openStore({ path: db });
  try {
    const s = await ingestPaths(store, [...files, ...extra, oddLog(dir)], local ? { ...OPTS, localIps: [local] } : OPTS);
    expect(s.errors).toEqual([]);
  } finally {
    store.close();
  }
  return db;
}

async function ship(db: string, server: string): Promise<void> {
  const r = await runCli(['ship', '--db', db, '--to', ch.url(DB), '--server', server]);
  expect(r.error?.message).toBeUndefined();
}

/** A row without the fleet's `server` (the SQLite side has none); arrays and { rows } results element-wise. */
function strip(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(strip);
  if (v && typeof v === 'object') {
    const o = { ...(v as Record<string, unknown>) };
    delete o.server;
    if (Array.isArray(o.rows)) o.rows = o.rows.map(strip);
    if (Array.isArray(o.samples)) o.samples = o.samples.map(strip);
    return o;
  }
  return v;
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

const uniq = <T>(xs: T[]): T[] => [...new Set(xs)];

/**
 * What the SQLite store's readers receive (SqliteReadStore): lines stored by reference
 * (migration 12) read back from their files, as the central store received them from ship.
 */
async function readBack<T>(sq: Store, v: T): Promise<T> {
  if (Array.isArray(v)) { await sq.resolveEvents(v as never[]); await sq.resolveSamples(v as never[]); }
  else if (v && typeof v === 'object') await sq.resolveEvents([v as unknown as StoredEvent]);
  return v;
}

/** Every method's answer on both sides, by label; `nonEmpty` collects the labels that had something to compare. */
async function compareAll(sq: Store, fl: ReadStore, inc: Incident, nonEmpty: Set<string>): Promise<void> {
  const { from, to } = inc;
  const wide: [number, number] = [from - 7 * DAY, to + 3_600_000];
  const checks: Array<[string, unknown, () => Promise<unknown>]> = [];
  const check = (label: string, local: unknown, central: () => Promise<unknown>) => checks.push([label, local, central]);

  check('dataExtent', sq.dataExtent(), () => fl.dataExtent());
  check('counts', sq.counts(), () => fl.counts());
  const inWindow = sq.eventsInRange(from, to);
  check('eventsInRange', inWindow, () => fl.eventsInRange(from, to));
  check('eventsInRange wide', sq.eventsInRange(...wide), () => fl.eventsInRange(...wide));
  check('eventsInRange kinds', sq.eventsInRange(from, to, ['login', 'logout', 'connect']), () => fl.eventsInRange(from, to, ['login', 'logout', 'connect']));
  check('identityEvents', sq.identityEvents(...wide), () => fl.identityEvents(...wide));
  check('longSessionEvents', sq.vpnIdentityEvents(...wide), () => fl.longSessionEvents(...wide));
  const all = sq.eventsInRange(...wide);
  const ips = uniq(all.filter((e) => e.rip).map((e) => e.rip!)).slice(0, 8);
  for (const ip of ips) {
    check(`eventsForIp ${ip}`, sq.eventsForIp(ip, from, to), () => fl.eventsForIp(ip, from, to));
    for (const before of [to, Math.floor((from + to) / 2)]) {
      check(`openLoginBefore ${ip} ${before}`, sq.openMailLoginBefore(ip, before, from - DAY), () => fl.openLoginBefore(ip, before, from - DAY));
    }
  }
  for (const account of uniq(all.filter((e) => e.account).map((e) => e.account!)).slice(0, 8)) {
    check(`accountIps ${account}`, sq.accountIps(account, ...wide), () => fl.accountIps(account, ...wide));
  }
  const bySource = new Map<string, StoredEvent[]>();
  for (const e of all) if (e.session && e.account) bySource.set(e.source, [...(bySource.get(e.source) ?? []), e]);
  for (const [source, evs] of bySource) {
    const keys = { sessions: uniq(evs.map((e) => e.session!)).slice(0, 20), accounts: uniq(evs.map((e) => e.account!)), sinceMs: from - DAY };
    check(`eventsForSessions ${source}`, sq.eventsForSessions(source, keys), () => fl.eventsForSessions(source, keys));
  }
  check('aggregatesInRange', sq.aggregatesInRange(from, to), () => fl.aggregatesInRange(from, to));
  check('flowSources', sq.flowSources(from, to), () => fl.flowSources(from, to));
  const vips = uniq(sq.leasesInRange(...wide).map((l) => l.vip));
  for (const { source } of sq.flowSources(...wide)) {
    check(`flowsInRange ${source}`, sq.flowsInRange(source, from, to), () => fl.flowsInRange(source, from, to));
    check(`iterateFlows ${source}`, [...sq.iterateFlows(source, from, to)], () => collect(fl.iterateFlows(source, from, to)));
    check(`vpnFlowsInRange ${source}`, sq.vpnFlowsInRange(source, from, to, [1194, 51820], vips), () => fl.vpnFlowsInRange(source, from, to, [1194, 51820], vips));
    check(`vpnFlowsInRange ${source} no vips`, sq.vpnFlowsInRange(source, from, to, [], []), () => fl.vpnFlowsInRange(source, from, to, [], []));
    check(`flowBytesBetween ${source}`, sq.flowBytesBetween(source, from, to), () => fl.flowBytesBetween(source, from, to));
    check(`flowExtent ${source}`, sq.flowExtent(source), () => fl.flowExtent(source));
    check(`flowTotals ${source}`, sq.flowTotals(source, from, to), () => fl.flowTotals(source, from, to));
    for (const by of ['remote', 'service', 'local-port', 'minute'] as const) {
      check(`flowGroups ${source} ${by}`, sq.flowGroups(source, by, from, to, 5), () => fl.flowGroups(source, by, from, to, 5));
    }
  }
  check('flowExtent none', sq.flowExtent('no-such-source'), () => fl.flowExtent('no-such-source'));
  check('flowTotals none', sq.flowTotals('no-such-source', from, to), () => fl.flowTotals('no-such-source', from, to));
  check('leasesInRange', sq.leasesInRange(...wide), () => fl.leasesInRange(...wide));
  check('openConnections', sq.openConnections(...wide), () => fl.openConnections(...wide));
  const grans = uniq((sq.db.prepare('SELECT granularity FROM iface_totals').all() as Array<{ granularity: string }>).map((r) => r.granularity));
  for (const g of grans) check(`interfaceTotals ${g}`, sq.interfaceTotals(g, 0, 2 ** 50), () => fl.interfaceTotals(g, 0, 2 ** 50));
  check('unparsedReport', sq.unparsedReport(null, 100), () => fl.unparsedReport(null, 100));
  check('unparsedReport dovecot 1', sq.unparsedReport('dovecot', 1), () => fl.unparsedReport('dovecot', 1));
  check('lossTotals', sq.lossTotals(), () => fl.lossTotals());

  for (const [label, unresolved, central] of checks) {
    const local = await readBack(sq, unresolved);
    expect(strip(await central()), `${inc.name}: ${label}`).toEqual(local);
    const empty = local === null || (Array.isArray(local) && local.length === 0)
      || (typeof local === 'object' && ((local as { rows?: unknown[] }).rows?.length === 0 || (local as { samples?: unknown[] }).samples?.length === 0 || (local as { first?: unknown }).first === null));
    if (!empty) nonEmpty.add(label.split(' ')[0]);
  }
}

afterAll(async () => {
  await ch?.destroy();
  for (const c of cleanups) c();
});

describe.skipIf(!haveClickHouse)('the fleet ReadStore equals the SQLite Store', () => {
  beforeAll(async () => {
    ch = await ClickHouseServer.start();
  });

  it('for every end-to-end incident, every method over the incident window, field for field and in order, and the whole investigation', async () => {
    const cases: Array<[string, Incident, string[], string?]> = [
      ['imap', INCIDENTS.imapResync(), [join(ROOT, 'fixtures/vnstat/v2-2.10.json')]],
      ['spam', INCIDENTS.spamRelay(), []],
      ['vpn', INCIDENTS.vpnHeavy(), [join(ROOT, 'fixtures/openvpn-status/v2.status')]],
      ['dns', INCIDENTS.dnsAmplification(), []],
      ['scan', INCIDENTS.scanAndBruteforce(), []],
      ['nat', INCIDENTS.sharedIp(), []],
      ['imap-local', INCIDENTS.imapResync(31), [], SERVER],
      ['vpn-ct-ts', INCIDENTS.vpnHeavyConntrack(13, { timestamps: true }), []],
      ['vpn-ct', INCIDENTS.vpnHeavyConntrack(13, { timestamps: false }), []],
    ];
    const nonEmpty = new Set<string>();
    for (const [server, inc, extra, local] of cases) {
      const db = await incidentDb(inc, extra, local);
      await ship(db, server);
      const sq = openStore({ path: db, readonly: true });
      const fl = await openClickHouseReadStore(ch.url(DB), { servers: [server] });
      try {
        expect(await fl.servers()).toEqual([server]);
        await compareAll(sq, fl, inc, nonEmpty);
      } finally {
        sq.close();
        await fl.close();
      }
      // The whole investigation, as the command prints it, read from either store.
      const window = ['--json', '--since', new Date(inc.from).toISOString(), '--until', new Date(inc.to).toISOString()];
      const fromFile = await runCli(['investigate', '--db', db, '--no-ingest', ...window]);
      const central = await runCli(['investigate', '--store', ch.url(DB), '--server', server, ...window]);
      expect(fromFile.error?.message).toBeUndefined();
      expect(central.error?.message).toBeUndefined();
      expect(JSON.parse(central.stdout), server).toEqual(JSON.parse(fromFile.stdout));
    }
    // Every method had rows to compare in some incident.
    expect([...nonEmpty].sort()).toEqual(['accountIps', 'aggregatesInRange', 'counts', 'dataExtent', 'eventsForIp', 'eventsForSessions', 'eventsInRange',
      'flowBytesBetween', 'flowExtent', 'flowGroups', 'flowSources', 'flowTotals', 'flowsInRange', 'identityEvents', 'interfaceTotals', 'iterateFlows',
      'leasesInRange', 'longSessionEvents', 'lossTotals', 'openConnections', 'openLoginBefore', 'unparsedReport', 'vpnFlowsInRange']);
  });

  it("two servers in one central store: servers ['a'] answers exactly a's rows, and the whole fleet both", async () => {
    const a = INCIDENTS.imapResync(41);
    const b = INCIDENTS.imapResync(42);
    const dbA = await incidentDb(a);
    const dbB = await incidentDb(b);
    await ship(dbA, 'a');
    await ship(dbB, 'b');
    const sqA = openStore({ path: dbA, readonly: true });
    const sqB = openStore({ path: dbB, readonly: true });
    const onlyA = await openClickHouseReadStore(ch.url(DB), { servers: ['a'] });
    const fleet = await openClickHouseReadStore(ch.url(DB), { servers: ['a', 'b'] });
    try {
      expect(await onlyA.servers()).toEqual(['a']);
      expect(await fleet.servers()).toEqual(['a', 'b']);
      const events = await onlyA.eventsInRange(a.from, a.to);
      expect(events.every((e) => (e as { server?: string }).server === 'a')).toBe(true);
      expect(strip(events)).toEqual(await readBack(sqA, sqA.eventsInRange(a.from, a.to)));
      expect(strip(await onlyA.flowsInRange('pcap', a.from, a.to))).toEqual(sqA.flowsInRange('pcap', a.from, a.to));
      expect(strip(await onlyA.aggregatesInRange(a.from, a.to))).toEqual(await readBack(sqA, sqA.aggregatesInRange(a.from, a.to)));
      expect(await onlyA.counts()).toEqual(sqA.counts());
      // The fleet: both servers' rows, ordered by time, then server.
      const both = await fleet.eventsInRange(a.from, a.to);
      expect(both.length).toBe(sqA.eventsInRange(a.from, a.to).length + sqB.eventsInRange(a.from, a.to).length);
      expect(both.map((e) => [e.ts, (e as { server?: string }).server])).toEqual(
        [...both].sort((x, y) => x.ts - y.ts || String((x as { server?: string }).server).localeCompare(String((y as { server?: string }).server))).map((e) => [e.ts, (e as { server?: string }).server]));
      const ca = sqA.counts();
      const cb = sqB.counts();
      expect(await fleet.counts()).toEqual({ events: ca.events + cb.events, aggregated: ca.aggregated + cb.aggregated, flows: ca.flows + cb.flows, files: ca.files + cb.files });
      expect((await fleet.flowTotals('pcap', a.from, a.to)).bytesIn).toBe(sqA.flowTotals('pcap', a.from, a.to).bytesIn + sqB.flowTotals('pcap', a.from, a.to).bytesIn);
      // status --store: one row per server with what that server shipped, and the fleet's totals.
      // The fleet verdict from ClickHouse: each server investigated on its own, as its own SQLite file reads it.
      const span = ['--since', new Date(Math.min(a.from, b.from)).toISOString(), '--until', new Date(Math.max(a.to, b.to)).toISOString(), '--json'];
      const merged = JSON.parse((await runCli(['investigate', '--store', ch.url(DB), '--server', 'a', '--server', 'b', ...span])).stdout) as Investigation;
      for (const [server, db] of [['a', dbA], ['b', dbB]] as const) {
        const alone = JSON.parse((await runCli(['investigate', '--db', db, '--no-ingest', ...span])).stdout) as Investigation;
        expect(merged.fleet!.servers.find((x) => x.server === server)).toMatchObject({ totals: alone.totals, verdict: alone.verdict });
        expect(merged.suspects.filter((x) => x.server === server).map((x) => [x.account, x.bytesIn, x.bytesOut]))
          .toEqual(alone.suspects.map((x) => [x.account, x.bytesIn, x.bytesOut]));
      }
      expect(merged.verdict).toMatch(/ on [ab] /);
      // The central store also holds the first test's servers: name these two.
      const st = await runCli(['status', '--store', ch.url(DB), '--server', 'a', '--server', 'b', '--json']);
      expect(st.error?.message).toBeUndefined();
      const fs = JSON.parse(st.stdout) as { servers: Array<{ server: string; counts: unknown; lastEventAt: string | null }>; counts: unknown };
      expect(fs.servers.map((r) => [r.server, r.counts])).toEqual([['a', ca], ['b', cb]]);
      expect(fs.servers[0].lastEventAt).toBe(new Date(sqA.dataExtent().last!).toISOString());
      expect(fs.counts).toEqual(await fleet.counts());
      const whole = JSON.parse((await runCli(['status', '--store', ch.url(DB), '--json'])).stdout) as { servers: Array<{ server: string }> };
      expect(whole.servers.map((r) => r.server)).toEqual(expect.arrayContaining(['a', 'b']));
      const human = await runCli(['status', '--store', ch.url(DB), '--server', 'b']);
      expect(human.stdout).toMatch(/^store: clickhouse:\/\/[^\n]*; 1 server; /);
      expect(human.stdout).toMatch(/\nb +[\d,]+ /);
    } finally {
      sqA.close();
      sqB.close();
      await onlyA.close();
      await fleet.close();
    }
  });

  it('a batch sent twice is not counted twice', async () => {
    const inc = INCIDENTS.spamRelay(51);
    const db = await incidentDb(inc);
    await ship(db, 'twice');
    // Every raw row again, as a re-run after a crash between insert and acknowledgement would send it.
    for (const t of ['events', 'flows', 'event_agg', 'files', 'file_stats', 'unparsed']) {
      await ch.query(`INSERT INTO ${DB}.${t} SELECT * FROM ${DB}.${t} WHERE server = 'twice'`);
    }
    const sq = openStore({ path: db, readonly: true });
    const fl = await openClickHouseReadStore(ch.url(DB), { servers: ['twice'] });
    try {
      expect(await fl.counts()).toEqual(sq.counts());
      expect(strip(await fl.eventsInRange(inc.from, inc.to))).toEqual(await readBack(sq, sq.eventsInRange(inc.from, inc.to)));
      for (const { source } of sq.flowSources(inc.from, inc.to)) expect(await fl.flowTotals(source, inc.from, inc.to)).toEqual(sq.flowTotals(source, inc.from, inc.to));
      expect(strip(await fl.unparsedReport(null, 100))).toEqual(sq.unparsedReport(null, 100));
    } finally {
      sq.close();
      await fl.close();
    }
  });

  it('hostile names in a query are values, not SQL', async () => {
    const fl = await openClickHouseReadStore(ch.url(DB), { servers: ["x' OR 1=1 --", 'a\\'] });
    try {
      expect(await fl.servers()).toEqual([]);
      expect(await fl.accountIps("' OR ''='", 0, 2 ** 50)).toEqual([]);
      expect(await fl.eventsForIp("\\'; DROP TABLE events; --", 0, 2 ** 50)).toEqual([]);
      expect(await fl.counts()).toEqual({ events: 0, aggregated: 0, flows: 0, files: 0 });
    } finally {
      await fl.close();
    }
  });
});

describe.skipIf(haveClickHouse)('the fleet ReadStore equals the SQLite Store', () => {
  it.skip(NO_CLICKHOUSE, () => {});
});
