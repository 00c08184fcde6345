import type { IngestSummary } from '../ingest/index.js';
import { escapeControls } from '../output.js';

/** Human summary of an ingest run (stdout). */
export function renderIngestSummary(s: IngestSummary): string {
  const out: string[] = [];
  const total = Object.values(s.events).reduce((a, b) => a + b, 0);
  const unparsed = Object.values(s.unparsed).reduce((a, b) => a + b, 0);
  const secs = s.durationMs / 1000;
  out.push(`Read ${s.files} file(s), ${s.lines.toLocaleString('en-US')} lines in ${secs.toFixed(2)} s: ${total.toLocaleString('en-US')} events, ${unparsed.toLocaleString('en-US')} unparsed.`);
  const sources = [...new Set([...Object.keys(s.events), ...Object.keys(s.unparsed), ...Object.keys(s.skipped)])].sort();
  if (sources.length) {
    out.push('');
    out.push(`${'source'.padEnd(10)} ${'events'.padStart(10)} ${'skipped'.padStart(10)} ${'unparsed'.padStart(10)}  kinds`);
    for (const src of sources) {
      const kinds = Object.entries(s.kinds[src] ?? {}).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ');
      out.push(`${src.padEnd(10)} ${String(s.events[src] ?? 0).padStart(10)} ${String(s.skipped[src] ?? 0).padStart(10)} ${String(s.unparsed[src] ?? 0).padStart(10)}  ${kinds}`);
    }
  }
  const recs = Object.entries(s.records);
  if (recs.length) {
    out.push('');
    for (const [k, n] of recs) out.push(`${k}: ${n.toLocaleString('en-US')}`);
  }
  const sampleSources = Object.keys(s.samples).sort();
  if (sampleSources.length) {
    out.push('');
    out.push('Unparsed samples (all of them: --print-unparsed):');
    for (const src of sampleSources) {
      // The line is from the log: cut, then escaped, so that no escape sequence in it reaches the terminal.
      for (const u of s.samples[src]) out.push(escapeControls(`  [${src}] ${u.path}:${u.line}: ${u.reason}: ${u.text.slice(0, 160)}`));
    }
  }
  return out.join('\n');
}
