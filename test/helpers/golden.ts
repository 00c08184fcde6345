/**
 * Golden files: fixtures/logs/<source>/<case>.log next to <case>.expected.jsonl, one result per
 * input line, misses included. `UPDATE_GOLDEN=1 npm test` rewrites them; read the diff.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ParseContext, Source } from '../../src/events.js';
import { nextHint, parseAny } from '../../src/parsers/index.js';

export const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'logs');
export const CORPUS = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus');

/** Context used by every golden file unless its folder has a ctx.json. */
export const GOLDEN_CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21, 0, 0, 0) };

export function ctxFor(dir: string): ParseContext {
  const p = join(dir, 'ctx.json');
  if (!existsSync(p)) return GOLDEN_CTX;
  const raw = JSON.parse(readFileSync(p, 'utf8')) as { tz?: string; refTime?: string; bootTime?: string };
  return {
    tz: raw.tz ?? GOLDEN_CTX.tz,
    refTime: raw.refTime ? Date.parse(raw.refTime) : GOLDEN_CTX.refTime,
    bootTime: raw.bootTime ? Date.parse(raw.bootTime) : null,
  };
}

/** One golden row per line: the source, and either the event (ts as ISO) or the miss and its reason. */
export function goldenRows(text: string, ctx: ParseContext): string[] {
  const lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  let hint: Source | null = null;
  return lines.map((line, i) => {
    const d = parseAny(line.replace(/\r$/, ''), ctx, hint);
    hint = nextHint(d, hint);
    const r = d.result;
    const row = r.type === 'event'
      ? { line: i + 1, source: d.source, type: r.type, event: { ...r.event, ts: new Date(r.event.ts).toISOString() } }
      : { line: i + 1, source: d.source, type: r.type, reason: r.reason };
    return JSON.stringify(row);
  });
}

export interface GoldenCase { source: string; name: string; logPath: string; expectedPath: string; dir: string }

export function goldenCases(): GoldenCase[] {
  const out: GoldenCase[] = [];
  if (!existsSync(FIXTURES)) return out;
  for (const source of readdirSync(FIXTURES).sort()) {
    const dir = join(FIXTURES, source);
    for (const f of readdirSync(dir).sort()) {
      if (!f.endsWith('.log')) continue;
      const name = f.slice(0, -4);
      out.push({ source, name, dir, logPath: join(dir, f), expectedPath: join(dir, `${name}.expected.jsonl`) });
    }
  }
  return out;
}

export function checkGolden(c: GoldenCase): { actual: string; expected: string | null } {
  const actual = goldenRows(readFileSync(c.logPath, 'utf8'), ctxFor(c.dir)).join('\n') + '\n';
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(c.expectedPath, actual);
  const expected = existsSync(c.expectedPath) ? readFileSync(c.expectedPath, 'utf8') : null;
  return { actual, expected };
}

/**
 * A line cut short, its tail alone, and a NUL in place of one character, at every `step`th
 * position: what a truncated or damaged log hands a parser.
 */
export function* mangledVariants(line: string, step = 4): Generator<string> {
  for (let cut = 0; cut <= line.length; cut += step) {
    yield line.slice(0, cut);
    yield line.slice(cut);
    yield line.slice(0, cut) + '\u0000' + line.slice(cut + 1);
  }
}
