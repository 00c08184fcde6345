/**
 * Pieces shared by the benchmark's parts: timing reference tools, and what a database holds
 * after an ingest (rows per table, bytes per table and index).
 * The figures on the database are src/store/bench.ts's (all SQL lives in the store).
 */
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';

export const RUNS = Math.max(1, Number(process.env.BENCH_RUNS) || 3);

export function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Time a shell command (best of `runs`): wall seconds and its processes' CPU seconds, or null if it failed. */
export function timeShell(cmd: string, runs = RUNS): { wall: number; cpu: number } | null {
  let wall = Infinity, cpu = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    // `times` prints the shell's own CPU time, then its children's: the command's.
    const r = spawnSync('sh', ['-c', `${cmd}\ntimes`], { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) { process.stderr.write(`bench: '${cmd}' failed: ${r.stderr.slice(0, 200)}\n`); return null; }
    const t = r.stdout.trim().split('\n').pop() ?? '';
    const m = /(\d+)m([\d.]+)s\s+(\d+)m([\d.]+)s/.exec(t);
    const c = m ? Number(m[1]) * 60 + Number(m[2]) + Number(m[3]) * 60 + Number(m[4]) : NaN;
    wall = Math.min(wall, s);
    if (Number.isFinite(c)) cpu = Math.min(cpu, c);
  }
  return { wall, cpu: Number.isFinite(cpu) ? cpu : wall };
}

/** What phases.js prints for one phase. */
export interface Phase { lines: number; wall: number; cpu: number; mainCpu: number | null; peakRssMb: number; [k: string]: unknown }

/** Run one phase of phases.js in its own process (so that its peak RSS is its own). */
export function phaseOnce(name: string, args: Record<string, unknown>): Phase {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, 'phases.js'), name, JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`bench phase ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Phase;
}

/** Seconds on two idle cores: at least the busiest thread's CPU, and at least half of all of it. */
export const projected = (p: { cpu: number; mainCpu: number | null; perThread?: unknown }) => {
  const busiest = Math.max(p.mainCpu ?? 0, ...((p.perThread as number[] | undefined) ?? []));
  return Math.max(busiest, p.cpu / 2);
};

export function removeDb(path: string): void {
  for (const x of ['', '-wal', '-shm']) rmSync(path + x, { force: true });
}

export { type DbFigures, dbFigures } from '../store/bench.js';

/** `events_ts 12 MB, events 80 MB, …`: the tables and indexes of at least `minShare` of the bytes. */
export function describeObjects(objects: Array<[string, number]>, minShare = 0.01): string {
  const total = objects.reduce((a, [, b]) => a + b, 0);
  return objects.filter(([, b]) => b >= total * minShare).map(([n, b]) => `${n} ${(b / 1e6).toFixed(1)} MB`).join(', ');
}

export const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

export const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
