/**
 * The outbox on its own (SQLite only, no ClickHouse): change tracking of rows updated in place,
 * batches by count and by size, and what an acknowledgement forgets.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { Outbox, rowObjects } from '../../src/store/outbox.js';
import { tempDir } from '../helpers/cli.js';

const MIN = Date.UTC(2026, 10, 20, 8, 0);
const flow = (rport: number, bytes: number) => ({ minute: MIN, iface: 'eth0', proto: 6, lip: '192.0.2.1', lport: 993, rip: '198.51.100.7', rport, service: 'imap', bytesIn: bytes, bytesOut: 2 * bytes, packetsIn: 1, packetsOut: 2 });

let store: Store;
let cleanup: () => void;
beforeEach(() => {
  const t = tempDir('bytetrail-outbox-');
  cleanup = t.cleanup;
  store = openStore({ path: join(t.dir, 'bt.db') });
});
afterEach(() => {
  store.close();
  cleanup();
});

describe('the outbox', () => {
  it('logs rows that existed before tracking once, then every change with what it added; a batch ships each row once, as it is now', () => {
    store.addFlows('pcap', [flow(40000, 100)]);
    const ob = new Outbox(store);
    ob.track(0);
    ob.track(1); // a second call changes nothing
    store.addFlows('pcap', [flow(40000, 50), flow(40001, 7)]);
    store.addFlows('pcap', [flow(40000, 25)]);
    const b = ob.batch('flows', 100);
    expect(b.read).toBe(4);
    expect(b.more).toBe(false);
    expect(rowObjects(b).map((r) => [r.rport, r.bytes_in, r.add_bytes_in, r.add_bytes_out, r.ver])).toEqual([
      [40000, 175, 175, 350, 4], // seeded 100, then +50 and +25; the newest change is its version
      [40001, 7, 7, 14, 3],
    ]);
    ob.ack(b, 0);
    expect(ob.pending().flows).toBe(0);
    expect((store.db.prepare('SELECT count(*) AS n FROM ship_log_flows').get() as { n: number }).n).toBe(0);
    // After the log is emptied, change numbers go on from where they were (AUTOINCREMENT).
    store.addFlows('pcap', [flow(40001, 1)]);
    expect(rowObjects(ob.batch('flows', 100)).map((r) => [r.bytes_in, r.add_bytes_in, r.ver])).toEqual([[8, 1, 5]]);
  });

  it('cuts a batch at the row limit or the size budget, and says whether more may remain', () => {
    const f = store.createFile({ path: '/var/log/mail.log', dev: null, ino: null, fpHash: 'x', fpLen: 1, kind: 'log', size: null, mtime: null });
    store.commitBatch({
      fileId: f.id, expectOffset: 0, newOffset: 1, newLines: 10, tailHash: null, aggs: [], stats: [], unparsed: [],
      events: Array.from({ length: 10 }, (_, k) => ({
        ev: { ts: MIN + k, source: 'postfix' as const, host: 'mx', program: 'smtpd', kind: 'connect', account: null, rip: '192.0.2.9', rport: null, lip: null, lport: null, session: null, bytesIn: null, bytesOut: null, attrs: null },
        line: k + 1, raw: 'x'.repeat(1000),
      })),
    });
    const ob = new Outbox(store);
    expect(ob.batch('events', 4)).toMatchObject({ read: 4, highWater: 4, more: true });
    const bySize = ob.batch('events', 100, 2500);
    expect(bySize).toMatchObject({ read: 3, highWater: 3, more: true });
    ob.ack(bySize, 0);
    expect(ob.batch('events', 100)).toMatchObject({ read: 7, highWater: 10, more: false });
    expect(ob.pending().events).toBe(7);
  });
});
