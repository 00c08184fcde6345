/**
 * --store and --server on the reading commands (issue 11 §3): a SQLite database answers for
 * its own server only, and a ClickHouse store is refused clearly by a build without it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/store/index.js';
import { Outbox } from '../src/store/outbox.js';
import { spawnCli, tempDir } from './helpers/cli.js';

describe('--store and --server', () => {
  let dir: string, cleanup: () => void, db: string, shipped: string;
  beforeAll(() => {
    ({ dir, cleanup } = tempDir());
    db = join(dir, 'bt.db');
    shipped = join(dir, 'shipped.db');
    openStore({ path: db }).close();
    const s = openStore({ path: shipped });
    new Outbox(s).serverName('mx1', 'fallback');
    s.close();
  });
  afterAll(() => cleanup());

  const window = ['--since', '2026-11-20T08:00:00Z', '--until', '2026-11-20T10:00:00Z'];

  it.each([
    ['investigate', '--no-ingest'], ['report', '--no-ingest'], ['whois-user', '192.0.2.7'], ['flows'], ['status'],
  ])('%s --store clickhouse://… reads that store, not the file: an unreachable one is one line, exit code 3', (cmd, ...rest) => {
    // Port 1 on loopback: nothing listens there, so the refusal is immediate and no traffic leaves the machine.
    const r = spawnCli([cmd, ...rest.filter(Boolean), ...(cmd === 'status' ? [] : window), '--db', db, '--store', 'clickhouse://127.0.0.1:1/bytetrail']);
    expect(r.status).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^bytetrail: error: ClickHouse query at clickhouse:\/\/127\.0\.0\.1:1\/bytetrail failed: .*\n  hint: [^\n]*\n$/);
  });

  it('takes the store from $BYTETRAIL_STORE, and refuses what is not a store URL', () => {
    const env = spawnCli(['flows', ...window, '--db', db], { env: { BYTETRAIL_STORE: 'clickhouses://bytetrail@127.0.0.1:1/bytetrail' } });
    expect(env.stderr).toContain('ClickHouse query at clickhouses://bytetrail@127.0.0.1:1/bytetrail failed');
    const bad = spawnCli(['flows', ...window, '--db', db, '--store', 'https://user:secret@central.example.net/']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('--store: not a store URL: https://user:***@central.example.net/');
    expect(bad.stderr).not.toContain('secret');
  });

  it('--server with a database: its own server is read, another is refused', () => {
    const own = spawnCli(['flows', ...window, '--db', shipped, '--server', 'mx1', '--json']);
    expect(own.status).toBe(0);
    expect(JSON.parse(own.stdout).source).toBeNull();
    const other = spawnCli(['whois-user', '192.0.2.7', ...window, '--db', shipped, '--server', 'mx3']);
    expect(other.status).toBe(2);
    expect(other.stderr).toContain('--server "mx3": this database holds the data of server "mx1" only');
    const unnamed = spawnCli(['investigate', '--no-ingest', ...window, '--db', db, '--server', 'mx1']);
    expect(unnamed.status).toBe(2);
    expect(unnamed.stderr).toContain('has no server name (it was never shipped)');
  });
});
