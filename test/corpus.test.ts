/**
 * Every line of every log in ../shared/corpus goes through the dispatcher: nothing throws,
 * every miss has a reason, every event has a finite UTC time and normalised IPs. The counts
 * per file are kept in test/corpus-counts.json (UPDATE_GOLDEN=1 rewrites it), so a change
 * in what we understand shows up as a diff. Per-source expectations live in test/parsers/.
 */
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParseContext, Source } from '../src/events.js';
import { normalizeIp } from '../src/parsers/common.js';
import { nextHint, parseAny } from '../src/parsers/index.js';
import { CORPUS_DIRS } from '../src/sources/index.js';
import { CORPUS } from './helpers/golden.js';

const COUNTS = join(import.meta.dirname, 'corpus-counts.json');
// Each source names its corpus folders (src/sources/); `timestamps` holds envelope variants of every source.
const LOG_DIRS = [...new Set([...CORPUS_DIRS, 'timestamps'])].sort();

function corpusFiles(): string[] {
  const out: string[] = [];
  for (const d of LOG_DIRS) {
    const dir = join(CORPUS, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).sort()) {
      const p = join(dir, f);
      if (!statSync(p).isFile() || /\.(assert|rb|json|txt|md|xml)$/.test(f)) continue;
      out.push(`${d}/${f}`);
    }
  }
  return out;
}

describe.skipIf(!existsSync(CORPUS))('shared corpus conformance', () => {
  it('reads every corpus log line without throwing and keeps a count per file', () => {
    const ctx: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 0, 1) };
    const counts: Record<string, Record<string, number>> = {};
    for (const rel of corpusFiles()) {
      const c: Record<string, number> = { lines: 0, events: 0, skipped: 0, unparsed: 0 };
      let hint: Source | null = null;
      for (const raw of readFileSync(join(CORPUS, rel), 'utf8').split('\n')) {
        // fail2ban's sample files carry their expectations as `# failJSON:` comment lines.
        if (!raw || raw.startsWith('# ')) continue;
        const line = raw.replace(/\r$/, '');
        c.lines++;
        const d = parseAny(line, ctx, hint);
        hint = nextHint(d, hint);
        const r = d.result;
        if (r.type === 'event') {
          c.events++;
          expect(Number.isFinite(r.event.ts), line).toBe(true);
          for (const ip of [r.event.rip, r.event.lip]) if (ip !== null) expect(normalizeIp(ip), line).toBe(ip);
        } else {
          expect(r.reason.length, line).toBeGreaterThan(0);
          c[r.type === 'skip' ? 'skipped' : 'unparsed']++;
        }
      }
      counts[rel] = c;
    }
    if (process.env.UPDATE_GOLDEN === '1') writeFileSync(COUNTS, JSON.stringify(counts, null, 2) + '\n');
    const want = existsSync(COUNTS) ? JSON.parse(readFileSync(COUNTS, 'utf8')) : null;
    expect(want, 'test/corpus-counts.json is missing: UPDATE_GOLDEN=1 npm test').not.toBeNull();
    expect(counts).toEqual(want);
  });
});
