import type { UnparsedRow } from '../store/index.js';

/** What `bytetrail unparsed` returns (and prints with --json). */
export interface UnparsedReport {
  /** Lines not understood, by source: every one, sampled or not. */
  counts: Record<string, number>;
  /** The samples kept, newest files first. */
  samples: UnparsedRow[];
}

/** Human listing of the stored unparsed lines (stdout). */
export function renderUnparsed(r: UnparsedReport): string {
  const sources = Object.keys(r.counts);
  if (sources.length === 0 && r.samples.length === 0) return 'No unparsed lines stored.';
  const total = Object.values(r.counts).reduce((a, b) => a + b, 0);
  const out = [`${total.toLocaleString('en-US')} line(s) not understood: ${sources.map((s) => `${s} ${r.counts[s].toLocaleString('en-US')}`).join(', ')}.`];
  if (r.samples.length) {
    out.push('', `Samples kept (${r.samples.length} shown):`);
    for (const u of r.samples) out.push(`${u.path}:${u.line}: [${u.source}] ${u.reason}: ${u.text}`);
  }
  return out.join('\n');
}
