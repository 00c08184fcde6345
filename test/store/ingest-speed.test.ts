/**
 * What issue 12's speed work changed in the write path must not change what is stored.
 */
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

describe('migration 8', () => {
  it('drops the address indexes of aggregates and flows, which no query reads', () => {
    const store = openStore({ path: join(tmp.dir, 'schema.db') });
    try {
      const names = store.db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").pluck().all() as string[];
      expect(names).not.toContain('event_agg_rip');
      expect(names).not.toContain('flows_rip');
      expect(names).toContain('flows_minute');
    } finally {
      store.close();
    }
  });
});
