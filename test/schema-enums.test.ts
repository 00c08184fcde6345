/** The schemas' source, file-kind and service-group enums are the ones the sources declare. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { enumAt, schemaEnums } from '../src/schema-enums.js';

describe('schema enums', () => {
  it('are derived from the source declarations (npm run schemas rewrites a stale one)', () => {
    for (const e of schemaEnums()) {
      const schema = JSON.parse(readFileSync(new URL(`../schemas/${e.file}.json`, import.meta.url), 'utf8')) as unknown;
      const now = enumAt(schema, e.path);
      expect(now, `schemas/${e.file}.json ${e.path.join('/')}`).not.toBeNull();
      expect([...now!].sort(), `schemas/${e.file}.json ${e.path.join('/')}: run npm run schemas`).toEqual([...e.values].sort());
    }
  });
});
