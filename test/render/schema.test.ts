import { describe, expect, it } from 'vitest';
import type { Investigation } from '../../src/correlate/types.js';
import { runCli } from '../helpers/cli.js';
import { validate } from './json-schema.js';
import { loadInvestigation, loadSchema } from './helpers.js';

const schema = loadSchema('investigate');

describe('schemas/investigate.json', () => {
  it('accepts the fixtures', () => {
    expect(validate(schema, loadInvestigation())).toEqual([]);
    expect(validate(schema, loadInvestigation('empty'))).toEqual([]);
  });

  it('requires every key the fixture has, and no other', () => {
    const inv = loadInvestigation() as unknown as Record<string, unknown>;
    const walk = (v: unknown, path: string, out: string[]) => {
      if (Array.isArray(v)) v.forEach((x) => walk(x, `${path}[]`, out));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { out.push(`${path}.${k}`); walk(x, `${path}.${k}`, out); }
    };
    const keys: string[] = [];
    walk(inv, '$', keys);
    // Every property of every object in the fixture is required by the schema: drop each in turn.
    for (const key of new Set(keys.map((k) => k.replace(/\[\]/g, '[0]')))) {
      const copy = loadInvestigation() as unknown as Record<string, unknown>;
      const parts = key.slice(2).split('.');
      let o: Record<string, unknown> = copy;
      for (const p of parts.slice(0, -1)) {
        const m = /^(.*)\[0\]$/.exec(p);
        o = (m ? (o[m[1]] as unknown[])[0] : o[p]) as Record<string, unknown>;
      }
      const last = parts[parts.length - 1].replace(/\[0\]$/, '');
      if (!o || !(last in o)) continue;
      delete o[last];
      expect(validate(schema, copy).length, `removing ${key}`).toBeGreaterThan(0);
    }
  });

  it('rejects wrong types, unknown keys and unknown enum values', () => {
    const a = loadInvestigation();
    (a.suspects[0] as unknown as Record<string, unknown>).extra = 1;
    expect(validate(schema, a)).toEqual(['$.suspects[0]: unexpected property extra']);
    const b = loadInvestigation();
    (b.suspects[1] as unknown as Record<string, unknown>).confidence = 'certain';
    expect(validate(schema, b)[0]).toMatch(/^\$\.suspects\[1\]\.confidence: "certain" is not one of/);
    const c = loadInvestigation();
    (c.totals as unknown as Record<string, unknown>).bytesIn = '12';
    expect(validate(schema, c)).toEqual(['$.totals.bytesIn: expected integer, got "12"']);
    const d = loadInvestigation();
    d.window.from = 'yesterday';
    expect(validate(schema, d)).toEqual(['$.window.from: "yesterday" is not an RFC 3339 date-time']);
  });

  it('describes what `bytetrail investigate --demo --json` prints', async () => {
    const { result, error } = await runCli<Investigation>(['investigate', '--demo', '--json']);
    expect(error).toBeUndefined();
    expect(validate(schema, result)).toEqual([]);
  });
});
