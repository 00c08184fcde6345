/**
 * What issue 12's speed work changed in the write path must not change what is stored:
 * migration 8's dropped indexes, and a capture's records written a slice at a time.
 */
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateLogs } from '../../src/bench/generate.js';
import { aggregateFile, FlowAggregator } from '../../src/flows/aggregate.js';
import { flowHandlers } from '../../src/flows/handlers.js';
import { ethernet, IPPROTO, ipv4, tcp, udp } from '../../src/flows/pcap-write.js';
import type { FlowRecord } from '../../src/flows/types.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { openStore } from '../../src/store/index.js';
import { WatchStore } from '../../src/store/watch.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

const T = Date.UTC(2026, 10, 20, 9, 0, 0);
const PCAP_DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'pcap');

const FLOW_COLUMNS = 'minute, iface, proto, lip, lport, rip, rport, service, bytes_in AS bytesIn, bytes_out AS bytesOut, packets_in AS packetsIn, packets_out AS packetsOut';

/** A scan-like mix: many one-packet flows over several minutes, a few answered, some late. */
function feed(agg: FlowAggregator): void {
  for (let i = 0; i < 5000; i++) {
    const ts = T + i * 97;
    const src = `198.51.100.${1 + (i % 200)}`;
    const udpProbe = i % 3 === 0;
    const l4 = udpProbe ? udp({ sport: 40000 + i, dport: 53, payload: 40 }) : tcp({ sport: 30000 + i, dport: 1 + (i % 1024), payload: 0 });
    const f = ethernet(ipv4({ src, dst: '192.0.2.10', proto: udpProbe ? IPPROTO.UDP : IPPROTO.TCP, payload: l4 }));
    agg.pushPacket(ts, 1, f, f.length);
    if (i % 10 === 0) {
      const back = ethernet(ipv4({ src: '192.0.2.10', dst: src, proto: udpProbe ? IPPROTO.UDP : IPPROTO.TCP, payload: udpProbe ? udp({ sport: 53, dport: 40000 + i, payload: 120 }) : tcp({ sport: 1 + (i % 1024), dport: 30000 + i, payload: 0 }) }));
      agg.pushPacket(ts + 3, 1, back, back.length);
    }
    // A packet five minutes late: its minute was flushed already, so the record repeats.
    if (i % 500 === 499) agg.pushPacket(ts - 5 * 60_000, 1, f, f.length);
  }
}

describe('a capture written a slice at a time', () => {
  it('finishEach hands out exactly the records finish() returns, in the same order', () => {
    const whole = new FlowAggregator();
    feed(whole);
    const want = whole.finish();
    const sliced = new FlowAggregator();
    feed(sliced);
    const got: FlowRecord[] = [];
    const sizes: number[] = [];
    const n = sliced.finishEach((records) => { sizes.push(records.length); got.push(...records); }, 1000);
    expect(want.length).toBeGreaterThan(3000);
    expect(n).toBe(want.length);
    expect(Math.max(...sizes)).toBe(1000);
    expect(got).toEqual(want);
  });

  it('ingest stores every fixture capture as aggregateFile() counts it, byte for byte', async () => {
    const files = readdirSync(PCAP_DIR).filter((f) => /\.pcap(ng)?(\.gz)?$/.test(f)).map((f) => join(PCAP_DIR, f));
    expect(files.length).toBeGreaterThan(5);
    for (const file of files) {
      const want = (await aggregateFile(file, { fold: true })).flows;
      const store = openStore({ path: join(tmp.dir, `${file.split('/').pop()}.db`) });
      try {
        const s = await ingestPaths(store, [file], { tz: 'UTC', now: T, settleMs: 0, handlers: flowHandlers() });
        expect(s.errors).toEqual([]);
        const got = store.db.prepare(`SELECT ${FLOW_COLUMNS} FROM flows`).all() as FlowRecord[];
        const key = (f: FlowRecord) => [f.minute, f.iface, f.proto, f.lip, f.lport, f.rip, f.rport].join(' ');
        const sort = (xs: FlowRecord[]) => [...xs].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
        expect(sort(got), file).toEqual(sort(want.map((f) => ({ ...f }))));
      } finally {
        store.close();
      }
    }
  });
});

describe('migration 8', () => {
  it('drops the address indexes of aggregates and flows, which no query reads', () => {
    const store = openStore({ path: join(tmp.dir, 'schema.db') });
    try {
      const names = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all() as string[];
      expect(names).not.toContain('event_agg_rip');
      expect(names).not.toContain('flows_rip');
      expect(names).not.toContain('flows_minute');
    } finally {
      store.close();
    }
  });
});

describe("watch's queries over flows by minute, without an index on minute", () => {
  it('roll up, find the extent and prune every flow source, each by its own primary-key range', () => {
    const store = openStore({ path: join(tmp.dir, 'watch.db') });
    try {
      const H = 3_600_000;
      const rec = (minute: number, bytesOut: number, iface = 'eth0'): FlowRecord => ({
        minute, iface, proto: 6, lip: '192.0.2.10', lport: 993, rip: '198.51.100.9', rport: 51000, service: 'imaps' as FlowRecord['service'],
        bytesIn: 1, bytesOut, packetsIn: 1, packetsOut: 1,
      });
      store.addFlows('pcap', [rec(T, 10), rec(T + 60_000, 20), rec(T + 2 * H, 40)]);
      store.addFlows('conntrack', [rec(T - H, 100), rec(T + 30 * 60_000, 200, 'tun0')]);
      store.addFlows('capture', [rec(T + 5 * H, 1000)]);
      const w = new WatchStore(store);
      expect(w.oldestMinute()).toBe(T - H);
      expect(w.newestDataTime()).toBe(T + 5 * H + 60_000);
      w.rollUpHour(T, 'rolled');
      expect(store.db.prepare('SELECT source, iface, bytes_out FROM traffic_hourly WHERE hour = ? ORDER BY source, iface').raw().all(T))
        .toEqual([['conntrack', 'tun0', 200], ['pcap', 'eth0', 30]]);
      expect(w.deleteMinutes(T - H, T + H)).toBe(4);
      expect(store.db.prepare('SELECT source, minute FROM flows ORDER BY source, minute').raw().all()).toEqual([['capture', T + 5 * H], ['pcap', T + 2 * H]]);
      expect(w.oldestMinute()).toBe(T + 2 * H);
    } finally {
      store.close();
    }
  });
});

describe('batch size', () => {
  it('10,000 lines per batch store exactly what 20,000 did, aggregates split across batches included', async () => {
    const logs = join(tmp.dir, 'busy');
    mkdirSync(logs);
    await generateLogs({ dir: logs, lines: 40_000, seed: 3, mix: 'busy' });
    const dump = async (batchLines: number) => {
      const store = openStore({ path: join(tmp.dir, `batch-${batchLines}.db`) });
      try {
        await ingestPaths(store, [logs], { tz: 'UTC', now: T, settleMs: 0, batchLines });
        return [
          store.db.prepare('SELECT ts, source, kind, account, rip, session, bytes_in, bytes_out, line, attrs, raw FROM events ORDER BY id').raw().all(),
          store.db.prepare('SELECT * FROM event_agg').raw().all(),
          store.db.prepare('SELECT source, events, skipped, unparsed FROM file_stats ORDER BY file_id, source').raw().all(),
        ];
      } finally {
        store.close();
      }
    };
    const small = await dump(10_000);
    expect((small[1] as unknown[]).length).toBeGreaterThan(1000);
    expect(small).toEqual(await dump(20_000));
  });
});

describe('flow records written 32 to a statement', () => {
  it('add up a key repeated within one statement and across statements, exactly', () => {
    const store = openStore({ path: join(tmp.dir, 'multi.db') });
    try {
      // 100 records over 7 keys: every statement of 32 repeats keys, and 4 records go one by one.
      const records: FlowRecord[] = Array.from({ length: 100 }, (_, i) => ({
        minute: T + (i % 7) * 60_000, iface: 'eth0', proto: 17, lip: '192.0.2.10', lport: 53, rip: `198.51.100.${i % 7}`, rport: 40000,
        service: 'dns' as FlowRecord['service'], bytesIn: i, bytesOut: 2 * i, packetsIn: 1, packetsOut: 1,
      }));
      store.addFlows('pcap', records);
      const got = store.db.prepare('SELECT rip, bytes_in, bytes_out, packets_in FROM flows ORDER BY rip').raw().all();
      const want = Array.from({ length: 7 }, (_, k) => {
        const mine = records.filter((_, i) => i % 7 === k);
        return [`198.51.100.${k}`, mine.reduce((a, f) => a + f.bytesIn, 0), mine.reduce((a, f) => a + f.bytesOut, 0), mine.length];
      });
      expect(got).toEqual(want);
    } finally {
      store.close();
    }
  });
});
