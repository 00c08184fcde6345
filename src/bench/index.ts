/**
 * `npm run bench`: figures, not assertions. Generates its own data under .bench/, measures
 * bytetrail, and times the reference tools on the same files where they are installed.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateLogs } from './generate.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, '.bench');

function phase(name: string, args: Record<string, unknown>): Record<string, unknown> {
  const r = spawnSync(process.execPath, [join(import.meta.dirname, 'phases.js'), name, JSON.stringify(args)], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`bench phase ${name} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' }).status === 0;
}

/** Time a shell command (best of `runs`), in seconds, or null if it failed. */
export function timeShell(cmd: string, runs = 1): number | null {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.status !== 0) { process.stderr.write(`bench: '${cmd}' failed: ${r.stderr.slice(0, 200)}\n`); return null; }
    best = Math.min(best, s);
  }
  return best;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

async function benchLogs(lines: number): Promise<void> {
  const dir = join(DIR, 'logs');
  mkdirSync(dir, { recursive: true });
  process.stderr.write(`bench: generating ${fmt(lines)} log lines in ${dir}\n`);
  const gen = await generateLogs({ dir, lines, seed: 1 });
  const files = Object.values(gen.files);
  const total = Object.values(gen.lines).reduce((a, b) => a + b, 0);
  const mb = files.reduce((a, f) => a + statSync(f).size, 0) / 1e6;
  console.log(`\n## Logs: ${fmt(total)} lines, ${mb.toFixed(0)} MB (${Object.entries(gen.lines).map(([k, v]) => `${k} ${fmt(v)}`).join(', ')})`);
  const parse = phase('parse', { files });
  console.log(`parse only        ${fmt(parse.linesPerSec as number).padStart(12)} lines/s   peak RSS ${parse.peakRssMb} MB   (${parse.unparsed} unparsed)`);
  const store = phase('store', { files, db: join(DIR, 'bench.db') });
  console.log(`parse and store   ${fmt(store.linesPerSec as number).padStart(12)} lines/s   peak RSS ${store.peakRssMb} MB   (${fmt(store.rows as number)} rows, ${fmt(store.aggregatedLines as number)} lines in per-minute aggregates)`);
  const refs: Array<[string, string, number]> = [];
  if (have('pflogsumm')) {
    const s = timeShell(`pflogsumm ${gen.files.mail} > /dev/null`);
    if (s) refs.push(['pflogsumm (mail.log only)', `${fmt(gen.lines.mail / s)} lines/s`, gen.lines.mail / s]);
  } else console.log('pflogsumm: not installed (apt-get install pflogsumm)');
  const awk = have('mawk') ? 'mawk' : 'awk';
  const sa = timeShell(`${awk} '{n[$5]++} END {for (k in n) c++; print c}' ${files.join(' ')}`);
  if (sa) refs.push([`${awk} '{n[$5]++}' (all files)`, `${fmt(total / sa)} lines/s`, total / sa]);
  const sg = timeShell(`grep -oE '([0-9]{1,3}\\.){3}[0-9]{1,3}' ${files.join(' ')} | wc -l > /dev/null`); // not to /dev/null: GNU grep stops at the first match then
  if (sg) refs.push(['grep -oE IPv4 (all files)', `${fmt(total / sg)} lines/s`, total / sg]);
  for (const [name, fig, rate] of refs) {
    console.log(`${name.padEnd(34)} ${fig.padStart(18)}   parse+store ${ratio(store.linesPerSec as number, rate)}, parse-only ${ratio(parse.linesPerSec as number, rate)}`);
  }
}

async function main(): Promise<void> {
  const only = process.argv[2];
  const lines = Number(process.env.BENCH_LINES) || 1_000_000;
  console.log(`# bytetrail benchmark (${new Date().toISOString()}, node ${process.version})`);
  if (!only || only === 'logs') await benchLogs(lines);
  const extra = await import('./extra.js').catch(() => null);
  if (extra) await extra.runExtra(only, DIR);
}

await main();
