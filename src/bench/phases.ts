/**
 * Benchmark phases, each run in its own process (so peak RSS is its own):
 *   node dist/bench/phases.js <phase> <json-args>
 * prints one JSON object on stdout.
 *
 * Every phase reports wall time and CPU time: the main thread's, and the whole process's
 * (parse workers and V8's GC threads included). On a shared machine wall time says more about
 * the neighbours than about us; CPU time does not.
 */
import { closeSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs';
import type { ParseContext } from '../events.js';
import { flowHandlers } from '../flows/handlers.js';
import { ingestPaths } from '../ingest/index.js';
import { LinePipeline, TailWindow } from '../ingest/lines.js';
import { type ParseSession, ParseWorkerHost } from '../ingest/parse-session.js';
import { dropIndexes as dropIndexesOf } from '../store/bench.js';
import { openStore } from '../store/index.js';
import { dbFigures, removeDb } from './measure.js';

type Args = Record<string, unknown>;

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 22) };
const CHUNK = 1 << 20;
const BATCH_LINES = 20_000;

/** CPU seconds of one thread of this process (Linux), or null. */
function threadCpu(tid: number | string): number | null {
  try {
    const st = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** CPU seconds of every live thread of this process, busiest first. */
function threadsCpu(): number[] {
  try {
    return readdirSync('/proc/self/task').map((t) => threadCpu(t) ?? 0).filter((c) => c > 0).sort((a, b) => b - a);
  } catch {
    return [];
  }
}

interface Clock { wall: () => number; cpu: () => number; mainCpu: () => number | null }

function clock(): Clock {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const m0 = threadCpu(process.pid);
  return {
    wall: () => Number(process.hrtime.bigint() - t0) / 1e9,
    cpu: () => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1e6; },
    mainCpu: () => { const m = threadCpu(process.pid); return m === null || m0 === null ? null : m - m0; },
  };
}

function figures(lines: number, c: Clock, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const wall = c.wall(), cpu = c.cpu(), mainCpu = c.mainCpu();
  return {
    lines, wall, cpu, mainCpu, ...extra,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  };
}

/** Parse in this thread with the ingest pipeline, and drop the batches. */
function parseInline(files: string[]): Record<string, unknown> {
  const c = clock();
  let lines = 0, events = 0;
  const buf = Buffer.allocUnsafe(CHUNK);
  for (const f of files) {
    const pipe = new LinePipeline(CTX, 0, { fileId: 1, tail: new TailWindow(64, Buffer.alloc(0)) });
    const fd = openSync(f, 'r');
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n <= 0) break;
      pipe.push(Buffer.from(buf.subarray(0, n)));
      if (pipe.pendingLines >= BATCH_LINES) { const b = pipe.takeWithTail(); lines += b.lines; events += b.eventsPacked.reduce((n, p) => n + p.rows, 0); }
    }
    closeSync(fd);
    pipe.finish(true);
    const b = pipe.takeWithTail();
    lines += b.lines; events += b.eventsPacked.reduce((n, p) => n + p.rows, 0);
  }
  return figures(lines, c, { events, threads: 1 });
}

/**
 * Parse in `n` parse workers, the worker ingest uses, one file per worker at a time (files
 * split by size); the main thread reads and feeds them, and drops the batches.
 */
async function parseWorkers(files: string[], n: number): Promise<Record<string, unknown>> {
  const c = clock();
  const hosts = Array.from({ length: n }, () => new ParseWorkerHost());
  const queues: string[][] = hosts.map(() => []);
  const load = hosts.map(() => 0);
  for (const f of [...files].sort((a, b) => statSync(b).size - statSync(a).size)) {
    const k = load.indexOf(Math.min(...load));
    queues[k].push(f);
    load[k] += statSync(f).size;
  }
  let lines = 0;
  const feed = async (host: ParseWorkerHost, queue: string[]) => {
    for (const f of queue) {
      const s: ParseSession = host.open({ ctx: CTX, fileId: 1, startLine: 0, startOffset: 0, byRef: true, batchLines: BATCH_LINES, tail: Buffer.alloc(0), onUnparsed: null }, 64);
      const fd = openSync(f, 'r');
      try {
        for (;;) {
          const buf = Buffer.allocUnsafe(CHUNK);
          const r = readSync(fd, buf, 0, buf.length, null);
          if (r <= 0) break;
          for (const b of await s.push(buf.subarray(0, r))) lines += b.lines;
        }
      } finally {
        closeSync(fd);
      }
      for (const b of await s.finish(true)) lines += b.lines;
    }
  };
  await Promise.all(hosts.map((h, i) => feed(h, queues[i])));
  const perThread = threadsCpu();
  const out = figures(lines, c, { threads: n, perThread });
  await Promise.all(hosts.map((h) => h.close()));
  return out;
}

/**
 * The real ingest into a fresh database; what it stored, and the database's size. `dropIndexes`
 * is an experiment (profile.ts): what each index costs the writing thread, by leaving it out.
 */
async function parseAndStore(files: string[], db: string, dropIndexes: string[] = []): Promise<Record<string, unknown>> {
  removeDb(db);
  const store = openStore({ path: db });
  dropIndexesOf(store, dropIndexes);
  const c = clock();
  const s = await ingestPaths(store, files, { tz: 'UTC', now: Date.now(), settleMs: 0, handlers: flowHandlers() });
  // Closing checkpoints the WAL: part of what `ingest` costs before the prompt comes back.
  store.close();
  const out = figures(s.lines, c);
  return { ...out, db: dbFigures(db), errors: s.errors };
}

async function main(): Promise<void> {
  const [phase, raw] = process.argv.slice(2);
  const args = JSON.parse(raw ?? '{}') as Args;
  let out: Record<string, unknown>;
  if (phase === 'parse-inline') out = parseInline(args.files as string[]);
  else if (phase === 'parse-workers') out = await parseWorkers(args.files as string[], Number(args.workers ?? 1));
  else if (phase === 'store') out = await parseAndStore(args.files as string[], args.db as string, (args.dropIndexes as string[] | undefined) ?? []);
  else throw new Error(`unknown phase ${phase}`);
  process.stdout.write(JSON.stringify(out) + '\n');
}

await main();
