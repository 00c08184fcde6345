/**
 * Experiments behind the profile of ingest (docs/pending/bench.md), on the data the benchmark
 * generated last (run `npm run bench -- logs` or `-- pcap` first):
 *
 *   node dist/bench/profile.js indexes logs|pcap [rounds]
 *
 * ingests the same files into a fresh database once as it is and once without each index (and
 * without all of them), in rounds that take turns so that every variant sees the same load,
 * and prints the writing thread's CPU seconds (median of the rounds) and the database's size.
 * The difference to the full schema is what that index costs. Figures, not assertions.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { type DbFigures, fmt, median, type Phase, phaseOnce } from './measure.js';

const DIR = join(import.meta.dirname, '..', '..', '.bench');

/** Indexes a reader might do without, per kind of input (primary keys stay). */
const INDEXES: Record<'logs' | 'pcap', string[]> = {
  logs: ['events_ts', 'events_rip_ts', 'events_account_ts', 'events_identity_ts', 'events_vpn_identity_ts', 'events_counters_ts'],
  pcap: [],
};

function inputs(what: 'logs' | 'pcap'): string[] {
  if (what === 'logs') {
    const manifest = join(DIR, 'logs-busy', 'manifest.json');
    if (!existsSync(manifest)) throw new Error('no busy-mix logs: run `npm run bench -- logs` first');
    return Object.values((JSON.parse(readFileSync(manifest, 'utf8')) as { result: { files: Record<string, string> } }).result.files);
  }
  const dir = join(DIR, 'pcap');
  const caps = existsSync(dir) ? readdirSync(dir).filter((f) => /^bench-busy-.*\.pcap$/.test(f)).map((f) => join(dir, f)) : [];
  if (!caps.length) throw new Error('no busy-mix capture: run `npm run bench -- pcap` first');
  // The largest capture generated.
  return [caps.sort((a, b) => statSync(b).size - statSync(a).size)[0]];
}

function indexes(what: 'logs' | 'pcap', rounds: number): void {
  const files = inputs(what);
  const db = join(DIR, 'profile.db');
  const all = INDEXES[what];
  const variants: Array<[string, string[]]> = [['full schema', []], ...all.map((i): [string, string[]] => [`without ${i}`, [i]]), ['without all of these', all]];
  const runs = new Map<string, Phase[]>(variants.map(([n]) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const [name, drop] of variants) {
      process.stderr.write(`profile: round ${r + 1}/${rounds}, ${name}\n`);
      runs.get(name)!.push(phaseOnce('store', { files, db, dropIndexes: drop }));
    }
  }
  const mainCpu = (ps: Phase[]) => median(ps.map((p) => p.mainCpu ?? p.cpu));
  const base = mainCpu(runs.get('full schema')!);
  const baseDb = (runs.get('full schema')![0].db as DbFigures).bytes;
  console.log(`\n## What each index costs ${what === 'logs' ? 'log' : 'capture'} ingest (${files.length} files, median of ${rounds} rounds taken in turns)`);
  console.log(`${''.padEnd(34)} ${'writer CPU s'.padStart(13)} ${'Δ'.padStart(8)} ${'all CPU s'.padStart(10)} ${'wall s'.padStart(8)} ${'database'.padStart(10)} ${'Δ'.padStart(8)}`);
  for (const [name] of variants) {
    const ps = runs.get(name)!;
    const m = mainCpu(ps);
    const bytes = (ps[0].db as DbFigures).bytes;
    console.log(`${name.padEnd(34)} ${m.toFixed(2).padStart(13)} ${(name === 'full schema' ? '' : `${(((m - base) / base) * 100).toFixed(0)}%`).padStart(8)} ${median(ps.map((p) => p.cpu)).toFixed(2).padStart(10)} ${median(ps.map((p) => p.wall)).toFixed(1).padStart(8)} ${`${fmt(bytes / 1e6)} MB`.padStart(10)} ${(name === 'full schema' ? '' : `${(((bytes - baseDb) / baseDb) * 100).toFixed(0)}%`).padStart(8)}`);
  }
}

const [cmd, what, rounds] = process.argv.slice(2);
if (cmd === 'indexes' && (what === 'logs' || what === 'pcap')) indexes(what, Math.max(1, Number(rounds) || 2));
else process.stderr.write('usage: node dist/bench/profile.js indexes logs|pcap [rounds]\n');
