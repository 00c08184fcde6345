import { describe, expect, it } from 'vitest';
import { SOURCES } from '../src/events.js';
import { checkGolden, goldenCases } from './helpers/golden.js';

const cases = goldenCases();

describe('golden fixtures', () => {
  it('every source has at least one golden fixture', () => {
    const have = new Set(cases.map((c) => c.source));
    const missing = SOURCES.filter((s) => !have.has(s));
    expect(missing, `sources without fixtures/logs/<source>/*.log`).toEqual([]);
  });

  for (const c of cases) {
    it(`${c.source}/${c.name}`, () => {
      const { actual, expected } = checkGolden(c);
      expect(expected, `${c.expectedPath} is missing: run UPDATE_GOLDEN=1 npm test and read the diff`).not.toBeNull();
      expect(actual).toBe(expected);
    });
  }
});
