/**
 * `bytetrail flows` through oclif (the built dist/: run `npx tsc -p tsconfig.json` first) over
 * a real database with known flow records. Exact JSON and text.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateFile } from '../../src/flows/aggregate.js';
import type { FlowsReport } from '../../src/flows/query.js';
import type { FlowRecord } from '../../src/flows/types.js';
import { openStore } from '../../src/store/index.js';
import { runCli, tempDir } from '../helpers/cli.js';
import { validate } from '../render/json-schema.js';
import { loadSchema } from '../render/helpers.js';

const T = (h: number, m: number) => Date.UTC(2026, 10, 20, h, m);
const FROM = '2026-11-20T10:00:00Z', TO = '2026-11-20T10:05:00Z';
const schema = loadSchema('flows');

function flow(minute: number, proto: number, lport: number, rip: string, rport: number, service: FlowRecord['service'], c: [number, number, number, number]): FlowRecord {
  return { minute, iface: 'eth0', proto, lip: '192.0.2.10', lport, rip, rport, service, bytesIn: c[0], bytesOut: c[1], packetsIn: c[2], packetsOut: c[3] };
}

let dir: string, cleanup: () => void, db: string;

beforeAll(() => {
  ({ dir, cleanup } = tempDir('bytetrail-flows-'));
  db = join(dir, 'bt.db');
  const store = openStore({ path: db });
  store.addFlows('pcap', [
    flow(T(9, 59), 6, 993, '203.0.113.99', 50000, 'imaps', [9_000_000, 9_000_000, 9000, 9000]),
    flow(T(10, 0), 6, 993, '203.0.113.5', 51000, 'imaps', [1000, 50_000, 10, 40]),
    flow(T(10, 1), 6, 993, '203.0.113.5', 51000, 'imaps', [2000, 100_000, 20, 80]),
    flow(T(10, 2), 6, 25, '198.51.100.7', 40000, 'smtp', [300_000, 2000, 210, 60]),
    flow(T(10, 3), 17, 1194, '203.0.113.9', 50000, 'openvpn', [70_000, 30_000, 100, 90]),
    flow(T(10, 4), 6, 993, '203.0.113.6', 52000, 'imaps', [500, 500, 5, 5]),
    flow(T(10, 5), 6, 993, '203.0.113.5', 51000, 'imaps', [8_000_000, 8_000_000, 8000, 8000]),
  ]);
  // The same traffic as seen by conntrack (less of it): never added to the capture's figures.
  store.addFlows('conntrack', [flow(T(10, 0), 6, 993, '203.0.113.5', 51000, 'imaps', [900, 40_000, 9, 30])]);
  store.close();
});
afterAll(() => cleanup());

async function flows(...args: string[]): Promise<FlowsReport> {
  const r = await runCli<FlowsReport>(['flows', '--db', db, '--json', ...args]);
  expect(r.error).toBeUndefined();
  expect(validate(schema, r.result)).toEqual([]);
  expect(JSON.parse(r.stdout)).toEqual(r.result);
  return r.result as FlowsReport;
}

const WINDOW = { from: '2026-11-20T10:00:00.000Z', to: '2026-11-20T10:05:00.000Z' };
const SOURCES = [{ source: 'pcap', bytesIn: 373_500, bytesOut: 182_500 }, { source: 'conntrack', bytesIn: 900, bytesOut: 40_000 }];
const TOTALS = { bytesIn: 373_500, bytesOut: 182_500, packetsIn: 345, packetsOut: 275 };

describe('bytetrail flows', () => {
  it('--json: top remote addresses of the most complete source, totals of the window', async () => {
    expect(await flows('--since', FROM, '--until', TO)).toEqual({
      window: WINDOW, source: 'pcap', sourceReason: 'most-complete', sources: SOURCES, by: 'remote',
      totals: TOTALS,
      rows: [
        { key: '198.51.100.7', bytesIn: 300_000, bytesOut: 2000, packetsIn: 210, packetsOut: 60 },
        { key: '203.0.113.5', bytesIn: 3000, bytesOut: 150_000, packetsIn: 30, packetsOut: 120 },
        { key: '203.0.113.9', bytesIn: 70_000, bytesOut: 30_000, packetsIn: 100, packetsOut: 90 },
        { key: '203.0.113.6', bytesIn: 500, bytesOut: 500, packetsIn: 5, packetsOut: 5 },
      ],
      groups: 4,
    });
  });

  it('--top, --by service and local-port, a window given as a duration', async () => {
    const top = await flows('--since', FROM, '--until', TO, '--top', '2');
    expect([top.rows.map((r) => r.key), top.groups, top.totals]).toEqual([['198.51.100.7', '203.0.113.5'], 4, TOTALS]);
    const svc = await flows('--since', '5m', '--until', TO, '--by', 'service');
    expect(svc.window).toEqual(WINDOW);
    expect(svc.rows).toEqual([
      { key: 'smtp', bytesIn: 300_000, bytesOut: 2000, packetsIn: 210, packetsOut: 60 },
      { key: 'imaps', bytesIn: 3500, bytesOut: 150_500, packetsIn: 35, packetsOut: 125 },
      { key: 'openvpn', bytesIn: 70_000, bytesOut: 30_000, packetsIn: 100, packetsOut: 90 },
    ]);
    expect((await flows('--since', FROM, '--until', TO, '--by', 'local-port')).rows.map((r) => [r.key, r.bytesIn + r.bytesOut])).toEqual([['25', 302_000], ['993', 154_000], ['1194', 100_000]]);
  });

  it('--by minute: every minute of the window, zero where nothing was stored', async () => {
    const r = await flows('--since', '2026-11-20T09:58:30Z', '--until', TO, '--by', 'minute', '--source', 'conntrack');
    expect([r.source, r.sourceReason, r.totals]).toEqual(['conntrack', 'chosen', { bytesIn: 900, bytesOut: 40_000, packetsIn: 9, packetsOut: 30 }]);
    expect(r.rows.map((x) => [x.key, x.bytesIn, x.bytesOut])).toEqual([
      ['2026-11-20T09:59:00.000Z', 0, 0], ['2026-11-20T10:00:00.000Z', 900, 40_000], ['2026-11-20T10:01:00.000Z', 0, 0],
      ['2026-11-20T10:02:00.000Z', 0, 0], ['2026-11-20T10:03:00.000Z', 0, 0], ['2026-11-20T10:04:00.000Z', 0, 0],
    ]);
    expect(r.groups).toBe(1);
  });

  it('an empty window: no source, zero totals', async () => {
    expect(await flows('--since', '1h', '--until', '2026-11-19T00:00:00Z')).toEqual({
      window: { from: '2026-11-18T23:00:00.000Z', to: '2026-11-19T00:00:00.000Z' }, source: null, sourceReason: 'none', sources: [], by: 'remote',
      totals: { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 }, rows: [], groups: 0,
    });
  });

  it('prints a table with shares, and says which source it read and which it left out', async () => {
    const r = await runCli(['flows', '--db', db, '--since', FROM, '--until', TO, '--top', '3']);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe([
      'Flows 2026-11-20 10:00 – 2026-11-20 10:05 UTC, source pcap (the most complete here)',
      '  also stored for this window, not added: conntrack 40.9 KB',
      '',
      'REMOTE                IN         OUT   SHARE',
      '198.51.100.7      300 KB     2.00 KB     54%',
      '203.0.113.5      3.00 KB      150 KB     28%',
      '203.0.113.9      70.0 KB     30.0 KB     18%',
      '… 1 more remote addresses',
      '  (together)       500 B       500 B    0.2%',
      'TOTAL             374 KB      183 KB    100%',
      '',
      'In: 374 KB in 345 packets; out: 183 KB in 275 packets (received and sent by the server).',
      '',
    ].join('\n'));
  });

  it('rejects a bad --by and a bad --source, and an empty window', async () => {
    expect((await runCli(['flows', '--db', db, '--by', 'country'])).error?.message).toMatch(/Expected --by=country to be one of: remote, service, local-port, minute/);
    expect((await runCli(['flows', '--db', db, '--source', 'vnstat'])).error?.message).toMatch(/Expected --source=vnstat to be one of/);
  });

  it('a capture read by `ingest` comes back with the aggregator\'s own totals', async () => {
    const file = join(import.meta.dirname, '..', '..', 'fixtures', 'pcap', 'be-usec.pcap');
    const db2 = join(dir, 'pcap.db');
    expect((await runCli(['ingest', '--db', db2, '--json', file])).error).toBeUndefined();
    const agg = await aggregateFile(file);
    const want = agg.flows.reduce((a, f) => ({ bytesIn: a.bytesIn + f.bytesIn, bytesOut: a.bytesOut + f.bytesOut, packetsIn: a.packetsIn + f.packetsIn, packetsOut: a.packetsOut + f.packetsOut }),
      { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 });
    const r = await runCli<FlowsReport>(['flows', '--db', db2, '--json', '--since', '2000-01-01T00:00:00Z', '--until', '2100-01-01T00:00:00Z', '--by', 'service']);
    expect(r.result?.source).toBe('pcap');
    expect(r.result?.totals).toEqual(want);
    expect(want.bytesIn + want.bytesOut).toBe(agg.bytes);
    expect(r.result?.rows.reduce((a, x) => a + x.bytesIn + x.bytesOut, 0)).toBe(agg.bytes);
  });
});
