/**
 * `npm run bench`: figures, not assertions. Generates its own data under .bench/, measures
 * bytetrail, and times the reference tools on the same files where they are installed.
 *
 * The machine this runs on is often shared, so every figure comes twice: by wall time (what
 * you wait) and by CPU time (what the work costs, which other processes do not change). The
 * CPU figure is projected onto two idle cores: a run takes at least its busiest thread's CPU
 * time and at least half of all its CPU time, whichever is more. Each measurement is repeated
 * (BENCH_RUNS, default 3) and the best run is shown; peak RSS is the worst.
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GENERATOR_VERSION, type GenResult, generateLogs, type LogMix } from './generate.js';
import { type DbFigures, describeObjects, fmt, have, median, type Phase, phaseOnce, projected, RUNS, timeShell } from './measure.js';

const ROOT = join(import.meta.dirname, '..', '..');
const DIR = join(ROOT, '.bench');
/** `busy` (default): data shaped like a real busy day; `legacy`: the earlier, lighter mix. */
export const MIX: LogMix = process.env.BENCH_MIX === 'legacy' ? 'legacy' : 'busy';

interface Best { wall: number; cpu: number; proj: number; rss: number; last: Phase }


function phase(name: string, args: Record<string, unknown>): Best {
  return bestOf(Array.from({ length: RUNS }, () => phaseOnce(name, args)));
}

/** Best wall, CPU and projected time of the runs, and the worst peak RSS. */
function bestOf(runs: Phase[]): Best {
  let best: Best | null = null;
  for (const p of runs) {
    const proj = projected(p);
    best = best
      ? { wall: Math.min(best.wall, p.wall), cpu: Math.min(best.cpu, p.cpu), proj: Math.min(best.proj, proj), rss: Math.max(best.rss, p.peakRssMb), last: p }
      : { wall: p.wall, cpu: p.cpu, proj, rss: p.peakRssMb, last: p };
  }
  return best!;
}

const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
const pct = (n: number, total: number) => `${((100 * n) / total).toFixed(0)}%`;

/** Generate the logs, or reuse the ones from the last run with the same size, seed and generator. */
async function logsFor(dir: string, lines: number): Promise<GenResult> {
  const manifest = join(dir, 'manifest.json');
  const want = { lines, seed: 1, generator: GENERATOR_VERSION, mix: MIX };
  if (existsSync(manifest)) {
    const had = JSON.parse(readFileSync(manifest, 'utf8')) as typeof want & { result: GenResult };
    if (had.lines === want.lines && had.seed === want.seed && had.generator === want.generator && had.mix === want.mix && Object.values(had.result.files).every(existsSync)) return had.result;
  }
  process.stderr.write(`bench: generating ${fmt(lines)} log lines (${MIX} mix) in ${dir}\n`);
  const result = await generateLogs({ dir, lines, seed: want.seed, mix: MIX });
  writeFileSync(manifest, JSON.stringify({ ...want, result }));
  return result;
}

async function benchLogs(lines: number): Promise<void> {
  const dir = join(DIR, MIX === 'busy' ? 'logs-busy' : 'logs');
  mkdirSync(dir, { recursive: true });
  const gen = await logsFor(dir, lines);
  const files = Object.values(gen.files);
  const total = Object.values(gen.lines).reduce((a, b) => a + b, 0);
  const mb = files.reduce((a, f) => a + statSync(f).size, 0) / 1e6;
  console.log(`\n## Logs (${MIX} mix): ${fmt(total)} lines, ${mb.toFixed(0)} MB, best of ${RUNS} runs`);
  console.log(`files: ${Object.entries(gen.files).map(([k, f]) => `${f.slice(dir.length + 1)} ${fmt(gen.lines[k])}`).join(', ')}`);
  console.log(`by source: ${Object.entries(gen.sources).map(([k, v]) => `${k} ${pct(v, total)}`).join(', ')}`);
  console.log('CPU figures: lines per second of CPU projected onto 2 idle cores (max of the busiest thread and half of all CPU).\n');

  const rows: Array<[string, Best]> = [];
  const inline = phase('parse-inline', { files });
  rows.push(['parse only, in one thread', inline]);
  const w1 = phase('parse-workers', { files, workers: 1 });
  rows.push(['parse only, 1 parse worker (as ingest)', w1]);
  const w2 = phase('parse-workers', { files, workers: 2 });
  rows.push(['parse only, 2 parse workers (a file each)', w2]);
  // The ingest and pflogsumm take turns, run after run, so that both see the same load: the
  // ratio of each pair is the figure (the median of the pairs), not a ratio of best runs.
  const pflog = have('pflogsumm') ? `pflogsumm ${gen.files.mail} > /dev/null` : null;
  const pairs: Array<{ store: Phase; pflog: { wall: number; cpu: number } | null }> = [];
  for (let i = 0; i < RUNS; i++) pairs.push({ store: phaseOnce('store', { files, db: join(DIR, 'bench.db') }), pflog: pflog ? timeShell(pflog, 1) : null });
  const store = bestOf(pairs.map((p) => p.store));
  rows.push(['parse and store (ingest)', store]);

  console.log(`${''.padEnd(44)} ${'lines/s wall'.padStart(13)} ${'lines/s CPU'.padStart(13)} ${'CPU s'.padStart(7)} ${'peak RSS'.padStart(9)}`);
  for (const [name, b] of rows) {
    console.log(`${name.padEnd(44)} ${fmt(total / b.wall).padStart(13)} ${fmt(total / b.proj).padStart(13)} ${b.cpu.toFixed(2).padStart(7)} ${(b.rss + ' MB').padStart(9)}`);
  }
  const d = store.last.db as DbFigures;
  const stored = d.events + d.aggRows + d.flows;
  console.log(`parse and store stored ${fmt(stored)} rows for ${fmt(total)} lines (${(stored / total).toFixed(2)} rows per line): ${fmt(d.events)} events, ${fmt(d.aggRows)} aggregates holding ${fmt(d.aggLines)} lines (${(d.aggLines / Math.max(1, d.aggRows)).toFixed(2)} lines each), ${fmt(d.flows)} flow records`);
  const writer = median(pairs.map((p) => p.store.mainCpu ?? NaN));
  console.log(`CPU per line (median of the ingest runs): ${((median(pairs.map((p) => p.store.cpu)) / total) * 1e6).toFixed(1)} µs in all threads, ${((writer / total) * 1e6).toFixed(1)} µs in the writing thread`);
  console.log(`database ${(d.bytes / 1e6).toFixed(0)} MB for ${mb.toFixed(0)} MB of logs: ${(d.bytes / 1e6 / mb).toFixed(2)} database bytes per input byte (aim ≤ 0.5)`);
  console.log(`by table and index: ${describeObjects(d.objects)}`);
  console.log('ingest parses in one worker thread while the main thread writes; "2 parse workers" runs the same worker on two files at once.');

  console.log('\n### Reference tools on the same files');
  const refs: Array<[string, number, { wall: number; cpu: number }]> = [];
  const paired = pairs.filter((p) => p.pflog !== null) as Array<{ store: Phase; pflog: { wall: number; cpu: number } }>;
  if (paired.length) {
    const mailLines = gen.lines.mail;
    const t = { wall: Math.min(...paired.map((p) => p.pflog.wall)), cpu: Math.min(...paired.map((p) => p.pflog.cpu)) };
    refs.push([`pflogsumm (mail.log, ${fmt(mailLines)} lines)`, mailLines, t]);
    // Per line: bytetrail's lines/s over all files against pflogsumm's over mail.log.
    const byWall = median(paired.map((p) => (total / p.store.wall) / (mailLines / p.pflog.wall)));
    const byCpu = median(paired.map((p) => (total / projected(p.store)) / (mailLines / p.pflog.cpu)));
    console.log(`ingest ÷ pflogsumm, lines/s per line, side by side (median of ${paired.length} pairs): ${byWall.toFixed(2)}× by wall time, ${byCpu.toFixed(2)}× by CPU (aim ≥ 2×)`);
  } else console.log('pflogsumm: not installed (apt-get install pflogsumm)');
  const awk = have('mawk') ? 'mawk' : 'awk';
  const ta = timeShell(`${awk} '{n[$5]++} END {for (k in n) c++; print c}' ${files.join(' ')} > /dev/null`);
  if (ta) refs.push([`${awk} '{n[$5]++}' (all files)`, total, ta]);
  // Piped, not to /dev/null: GNU grep stops at the first match when its output is /dev/null.
  const tg = timeShell(`grep -oE '([0-9]{1,3}\\.){3}[0-9]{1,3}' ${files.join(' ')} | wc -l > /dev/null`);
  if (tg) refs.push(['grep -oE IPv4 | wc -l (all files)', total, tg]);

  console.log(`${''.padEnd(44)} ${'lines/s wall'.padStart(13)} ${'lines/s CPU'.padStart(13)}   bytetrail ÷ tool (CPU; wall)`);
  for (const [name, n, t] of refs) {
    const tw = n / t.wall, tc = n / t.cpu;
    console.log(`${name.padEnd(44)} ${fmt(tw).padStart(13)} ${fmt(tc).padStart(13)}   parse+store ${ratio(total / store.proj, tc)}; ${ratio(total / store.wall, tw)}   parse-only (1 worker) ${ratio(total / w1.proj, tc)}; ${ratio(total / w1.wall, tw)}   (2 workers) ${ratio(total / w2.proj, tc)}; ${ratio(total / w2.wall, tw)}`);
  }
  console.log('\nAims: parse and store ≥ 500,000 lines/s and ahead of pflogsumm; parse only ≥ 1,500,000 lines/s; peak RSS ≤ 256 MB.');
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
