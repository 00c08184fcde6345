/**
 * The fleet verdict without ClickHouse: two real SQLite files, each one server's data (an
 * end-to-end incident ingested through the CLI, its server name recorded as `ship` records it),
 * read as SqliteReadStores. The merged investigation must be the single-server ones side by
 * side: the same suspects with their server, shares of the fleet's total, and a verdict that
 * names the right server.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { investigateFleet, mergeFleet } from '../src/correlate/fleet.js';
import { investigate } from '../src/correlate/investigate.js';
import { investigateStore } from '../src/correlate/run.js';
import type { Investigation } from '../src/correlate/types.js';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import { renderHtml } from '../src/render/html.js';
import { renderMarkdown } from '../src/render/markdown.js';
import { renderInvestigationText } from '../src/render/investigation.js';
import { openStore } from '../src/store/index.js';
import { Outbox } from '../src/store/outbox.js';
import type { ReadStore } from '../src/store/read.js';
import { SqliteReadStore } from '../src/store/sqlite-read.js';
import { runCli, tempDir } from './helpers/cli.js';
import { loadSchema } from './render/helpers.js';
import { validate } from './render/json-schema.js';

const cleanups: Array<() => void> = [];
afterAll(() => { for (const c of cleanups) c(); });

/** One server's database: the incident's files ingested, the server name recorded. */
async function serverDb(inc: Incident, server: string): Promise<string> {
  const { dir, cleanup } = tempDir('bytetrail-fleet-');
  cleanups.push(cleanup);
  const { files } = inc.writer.write(join(dir, 'logs'));
  const db = join(dir, 'bt.db');
  const ing = await runCli(['ingest', '--db', db, ...files]);
  expect(ing.error?.message).toBeUndefined();
  const store = openStore({ path: db });
  try { new Outbox(store).serverName(server, server); } finally { store.close(); }
  return db;
}

const openFor = (dbs: Record<string, string>) => async (server: string) =>
  new SqliteReadStore(openStore({ path: dbs[server], readonly: true }), { servers: [server], owned: true });

async function single(db: string, from: number, to: number): Promise<Investigation> {
  const reader = new SqliteReadStore(openStore({ path: db, readonly: true }), { owned: true });
  try { return await investigate(reader, { from, to }); } finally { await reader.close(); }
}

const bytes = (x: { bytesIn: number; bytesOut: number }) => x.bytesIn + x.bytesOut;

/** The merged investigation against the single ones: the same rows, tagged, with fleet shares. */
function checkMerge(fleet: Investigation, parts: Record<string, Investigation>): void {
  const names = Object.keys(parts);
  const total = names.reduce((a, n) => a + parts[n].shareBasis.bytes, 0);
  expect(fleet.shareBasis.bytes).toBe(total);
  expect(fleet.suspects.length).toBe(names.reduce((a, n) => a + parts[n].suspects.length, 0));
  for (const n of names) {
    const mine = fleet.suspects.filter((s) => s.server === n);
    expect(mine.map(({ server, share, ...rest }) => { void server; void share; return rest; }))
      .toEqual(parts[n].suspects.map(({ share, ...rest }) => { void share; return rest; }));
    for (const s of mine) expect(s.share).toBeCloseTo(bytes(s) / total, 12);
    const label = parts[n].shareBasis.label;
    expect(fleet.findings.filter((f) => f.server === n).map(({ server, ...f }) => { void server; return { ...f, summary: f.summary.split(`of ${label} on ${n}`).join(`of ${label}`) }; }))
      .toEqual(parts[n].findings);
    const summary = fleet.fleet!.servers.find((x) => x.server === n)!;
    expect(summary.verdict).toBe(parts[n].verdict);
    expect(summary.totals).toEqual(parts[n].totals);
  }
  for (let i = 1; i < fleet.suspects.length; i++) expect(bytes(fleet.suspects[i - 1])).toBeGreaterThanOrEqual(bytes(fleet.suspects[i]));
  for (const k of ['bytesIn', 'bytesOut', 'attributedBytes', 'unattributedBytes', 'packetsIn', 'packetsOut'] as const) {
    expect(fleet.totals[k]).toBe(names.reduce((a, n) => a + parts[n].totals[k], 0));
  }
  expect(fleet.fleet!.servers.map((x) => x.server)).toEqual(names);
  expect(validate(loadSchema('investigate'), JSON.parse(JSON.stringify(fleet)))).toEqual([]);
}

describe('fleet verdict over two SQLite servers', () => {
  let resync: Incident, relay: Incident;
  let dbs: Record<string, string>;
  beforeAll(async () => {
    resync = INCIDENTS.imapResync();
    relay = INCIDENTS.spamRelay();
    dbs = { mx1: await serverDb(relay, 'mx1'), mx3: await serverDb(resync, 'mx3') };
  }, 300_000);

  it('investigates each server on its own and merges: suspects, findings, totals, the verdict names mx3', async () => {
    const { from, to } = resync;
    const parts = { mx1: await single(dbs.mx1, from, to), mx3: await single(dbs.mx3, from, to) };
    const fleet = await investigateFleet(openFor(dbs), ['mx1', 'mx3'], { from, to });
    checkMerge(fleet, parts);
    // jan's resync is the biggest thing in the fleet; the share is of both servers' totals.
    const top = fleet.suspects[0];
    expect(top).toMatchObject({ account: 'jan@example.com', server: 'mx3', service: 'imap' });
    const pctText = `${Math.round(bytes(top) / fleet.shareBasis.bytes * 100)}%`;
    expect(fleet.verdict).toMatch(new RegExp(`^jan@example\\.com on mx3 \\(IMAP, .*\\) caused ${pctText} of the fleet's traffic`));
    expect(parts.mx3.verdict).not.toContain(' on mx3');
    expect(fleet.throttle).toMatchObject({ ...parts.mx3.throttle, server: 'mx3' });
    // sales' relay is named on mx1 with its finding.
    expect(fleet.findings.find((f) => f.kind === 'spam-relay')).toMatchObject({ server: 'mx1', subject: 'sales@example.com' });
    expect(fleet.findings.find((f) => f.kind === 'imap-resync')!.summary).toContain(`of ${parts.mx3.shareBasis.label} on mx3)`);
    expect(fleet.fleet!.people.length).toBeGreaterThan(0);
    // The background's accounts log in on both: one person each, a row per server, the total summed.
    for (const p of fleet.fleet!.people) {
      const rows = fleet.suspects.filter((s) => s.account === p.account);
      expect(new Set(p.rows.map((r) => r.server)).size).toBeGreaterThan(1);
      expect(p.rows.length).toBe(rows.length);
      expect(p.bytesIn + p.bytesOut).toBe(rows.reduce((a, s) => a + bytes(s), 0));
    }
    // Per-server interface closure summed: each server's main interface, in and out.
    const closure = fleet.fleet!.closure;
    if (closure) {
      for (const c of closure) {
        const each = (['mx1', 'mx3'] as const).flatMap((n) => {
          const main = fleet.fleet!.servers.find((x) => x.server === n)!.mainInterface;
          return (parts[n].closure ?? []).filter((e) => e.iface === main?.iface && e.direction === c.direction);
        });
        expect(c.total).toBe(each.reduce((a, e) => a + e.total, 0));
      }
    }
    // Renderers show the server column with several servers, and not for one.
    const text = renderInvestigationText(fleet, { color: false, width: 160 });
    expect(text).toMatch(/server/);
    expect(text).toContain('mx3');
    expect(renderInvestigationText(parts.mx3, { color: false, width: 160 })).not.toMatch(/\bserver\b.*account|\bmx3\b/);
    const md = renderMarkdown(fleet);
    expect(md).toMatch(/\| Server \|/);
    expect(renderMarkdown(parts.mx3)).not.toMatch(/\| Server \|/);
    expect(renderHtml(fleet, { usage: null })).toContain('<th>Server</th>');
    expect(renderHtml(parts.mx3, { usage: null })).not.toContain('<th>Server</th>');
  }, 300_000);

  it('gives a single server its own investigation back, byte for byte', async () => {
    const { from, to } = resync;
    const alone = await single(dbs.mx3, from, to);
    const viaFleet = await investigateFleet(openFor(dbs), ['mx3'], { from, to });
    expect(JSON.stringify(viaFleet)).toBe(JSON.stringify(alone));
    expect(mergeFleet([{ server: 'mx3', inv: alone }], to - from)).toBe(alone);
  }, 300_000);

  it('investigate and report take the fleet path only when the store answers for several servers', async () => {
    const { from, to } = resync;
    // A fleet store made of the two files: unfiltered it only names its servers; anything else
    // asked of it would join the servers' data, and fails the test.
    const fleetStore = {
      backend: 'clickhouse', servers: async () => ['mx1', 'mx3'], close: async () => {},
    } as Partial<ReadStore>;
    const whole = new Proxy(fleetStore, { get: (t, k) => (k in t || k === 'then' ? t[k as keyof ReadStore] : () => { throw new Error(`unfiltered fleet store asked ${String(k)}`); }) }) as ReadStore;
    const asked: Array<string[] | undefined> = [];
    const open = async (servers: string[] | undefined) => {
      asked.push(servers);
      return servers?.length === 1 ? openFor(dbs)(servers[0]) : whole;
    };
    const fleet = await investigateStore(open, undefined, { from, to });
    expect(asked).toEqual([undefined, ['mx1'], ['mx3']]);
    expect(fleet.fleet?.servers.map((x) => x.server)).toEqual(['mx1', 'mx3']);
    expect(JSON.stringify(fleet)).toBe(JSON.stringify(await investigateFleet(openFor(dbs), ['mx1', 'mx3'], { from, to })));
    // --server mx3: one server, the present path, the single investigation.
    asked.length = 0;
    const one = await investigateStore(open, ['mx3'], { from, to });
    expect(asked).toEqual([['mx3']]);
    expect(JSON.stringify(one)).toBe(JSON.stringify(await single(dbs.mx3, from, to)));
  }, 300_000);

  it('the same account on two servers is one person with a row per server; the verdict names the bigger one', async () => {
    const small = INCIDENTS.imapResync(11);
    const big = INCIDENTS.imapResync(17, { perSession: 280e6 });
    const two = { mx1: await serverDb(small, 'mx1'), mx2: await serverDb(big, 'mx2') };
    const { from, to } = small;
    const parts = { mx1: await single(two.mx1, from, to), mx2: await single(two.mx2, from, to) };
    const fleet = await investigateFleet(openFor(two), ['mx1', 'mx2'], { from, to });
    checkMerge(fleet, parts);
    const jan = fleet.fleet!.people.find((p) => p.account === 'jan@example.com')!;
    expect(jan.rows.map((r) => [r.server, r.service])).toEqual([['mx2', 'imap'], ['mx1', 'imap']]);
    const janOn = (n: 'mx1' | 'mx2') => parts[n].suspects.find((s) => s.account === 'jan@example.com' && s.service === 'imap')!;
    expect(jan.bytesOut).toBe(janOn('mx1').bytesOut + janOn('mx2').bytesOut);
    expect(jan.share).toBeCloseTo((bytes(janOn('mx1')) + bytes(janOn('mx2'))) / fleet.shareBasis.bytes, 12);
    expect(fleet.verdict).toMatch(/^jan@example\.com on mx2 \(IMAP/);
  }, 300_000);
});
