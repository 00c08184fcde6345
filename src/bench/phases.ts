/**
 * Benchmark phases, each run in its own process (so peak RSS is its own):
 *   node dist/bench/phases.js <phase> <json-args>
 * prints one JSON object on stdout.
 */
import { openSync, readSync, closeSync, rmSync } from 'node:fs';
import type { ParseContext, Source } from '../events.js';
import { ingestPaths } from '../ingest/index.js';
import { parseAny } from '../parsers/index.js';
import { openStore } from '../store/index.js';
import { flowHandlers } from '../flows/handlers.js';

type Args = Record<string, unknown>;

function rssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Parse only: read, split into lines, parse. No store. */
function parseOnly(files: string[]): Record<string, unknown> {
  const ctx: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 22) };
  let lines = 0, events = 0, unparsed = 0, bytes = 0;
  const t0 = process.hrtime.bigint();
  const buf = Buffer.allocUnsafe(4 << 20);
  for (const f of files) {
    const fd = openSync(f, 'r');
    let carry = '';
    let hint: Source | null = null;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      bytes += n;
      let text = carry + buf.toString('utf8', 0, n);
      const last = text.lastIndexOf('\n');
      carry = text.slice(last + 1);
      text = text.slice(0, last);
      let pos = 0;
      while (pos <= text.length) {
        let nl = text.indexOf('\n', pos);
        if (nl < 0) nl = text.length;
        const line = text.slice(pos, nl);
        pos = nl + 1;
        if (!line) continue;
        lines++;
        const d = parseAny(line, ctx, hint);
        if (d.result.type === 'event') { events++; if (d.source !== 'other') hint = d.source; } else if (d.result.type === 'unparsed') unparsed++;
      }
    }
    closeSync(fd);
  }
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return { lines, events, unparsed, bytes, seconds: secs, linesPerSec: Math.round(lines / secs), peakRssMb: rssMb() };
}

async function parseAndStore(files: string[], db: string): Promise<Record<string, unknown>> {
  rmSync(db, { force: true }); rmSync(db + '-wal', { force: true }); rmSync(db + '-shm', { force: true });
  const store = openStore({ path: db });
  const t0 = process.hrtime.bigint();
  const s = await ingestPaths(store, files, { tz: 'UTC', now: Date.now(), settleMs: 0, handlers: flowHandlers() });
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const counts = store.counts();
  store.close();
  return { lines: s.lines, seconds: secs, linesPerSec: Math.round(s.lines / secs), rows: counts.events, aggregatedLines: counts.aggregated, peakRssMb: rssMb() };
}

async function main(): Promise<void> {
  const [phase, raw] = process.argv.slice(2);
  const args = JSON.parse(raw ?? '{}') as Args;
  let out: Record<string, unknown>;
  if (phase === 'parse') out = parseOnly(args.files as string[]);
  else if (phase === 'store') out = await parseAndStore(args.files as string[], args.db as string);
  else throw new Error(`unknown phase ${phase}`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

await main();
