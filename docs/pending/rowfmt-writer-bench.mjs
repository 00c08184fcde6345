// node rowfmt-wbench.mjs DIST FRACTION: parse a fraction of each busy-day file (timed: parse CPU),
// then write the batches into a fresh database in one thread (timed: write CPU).
import { readFileSync, rmSync, openSync, readSync, fstatSync } from 'node:fs';
const [dist, frac = '0.25'] = process.argv.slice(2);
const { LinePipeline } = await import(`${dist}/ingest/lines.js`);
const { openStore, forTransfer } = await import(`${dist}/store/index.js`);
const ctx = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1e6; };
const db = `/tmp/rowfmt-wb-${process.pid}.db`;
const store = openStore({ path: db });
store.tuneForBulkWrites();
let parse = 0, write = 0, lines = 0;
for (const f of ['mail', 'kern', 'query', 'openvpn', 'rspamd']) {
  const fd = openSync(`/work/benchdata/logs-busy/${f}.log`, 'r');
  const n = Math.floor(fstatSync(fd).size * +frac);
  const buf = Buffer.alloc(n); readSync(fd, buf, 0, n, 0);
  const text = buf.subarray(0, buf.lastIndexOf(10) + 1);
  const file = store.createFile({ path: f, dev: null, ino: null, fpHash: f, fpLen: 1, kind: 'log', size: null, mtime: null });
  let off = 0;
  for (let pos = 0; pos < text.length;) {
    let end = Math.min(text.length, pos + (4 << 20)); end = text.lastIndexOf(10, end - 1) + 1;
    let t = cpu();
    const pipe = new LinePipeline(ctx, 0, { fileId: file.id });
    pipe.push(text.subarray(pos, end));
    const b = pipe.take();
    const ev = b.eventsPacked.map(forTransfer), ag = b.aggsPacked.map(forTransfer);
    parse += cpu() - t;
    t = cpu();
    store.commitBatch({ fileId: file.id, expectOffset: off, newOffset: off + b.bytes, newLines: b.lines, tailHash: null, events: [], aggs: [], eventsPacked: ev, aggsPacked: ag, stats: [], unparsed: [] });
    write += cpu() - t;
    off += b.bytes; lines += b.lines; pos = end;
  }
}
store.close();
for (const x of ['', '-wal', '-shm']) rmSync(db + x, { force: true });
console.log(JSON.stringify({ dist, lines, parse: +parse.toFixed(3), write: +write.toFixed(3), parseUs: +(parse / lines * 1e6).toFixed(2), writeUs: +(write / lines * 1e6).toFixed(2) }));
