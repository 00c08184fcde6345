/**
 * Issue 15 §7 and issue 14: the database file itself. A newer schema, a damaged file, loose
 * permissions, a symlink in a world-writable directory, a mistyped --db, a read-only database
 * and a database inside the directory being read.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, openSync, readFileSync, statSync, symlinkSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/schema.js';
import { spawnCli, tempDir } from '../helpers/cli.js';
import { eventCount, writeLog } from './helpers.js';

const LATEST = Math.max(...MIGRATIONS.map((m) => m.version));
const sha = (p: string) => createHash('sha1').update(readFileSync(p)).digest('hex');
const WINDOW = ['--since', '2026-11-19T00:00:00Z', '--until', '2026-11-22T00:00:00Z'];

describe('the database file', () => {
  let dir: string;
  let cleanup: () => void;
  let db: string;
  let log: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    db = join(dir, 'bt.db');
    log = join(dir, 'mail.log');
    writeLog(log, 0, 2000);
  });
  afterEach(() => cleanup());

  const ingest = (...args: string[]) => spawnCli(['ingest', '--db', db, ...args, log]);

  it('refuses a database from a newer bytetrail, naming the version it needs, and leaves it as it was', () => {
    expect(ingest().status).toBe(0);
    const d = new Database(db);
    d.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST + 3, 'from the future', 0);
    d.close();
    const before = sha(db);
    writeLog(log, 2000, 10);
    for (const args of [['ingest', '--db', db, log], ['status', '--db', db], ['investigate', '--db', db, '--no-ingest', ...WINDOW]]) {
      const r = spawnCli(args);
      expect(r.status, r.stderr).toBe(3);
      expect(r.stderr).toContain(`was written by a newer bytetrail (schema version ${LATEST + 3}; this one knows up to ${LATEST})`);
      expect(r.stderr).not.toMatch(/internal error/);
    }
    expect(sha(db)).toBe(before);
  });

  it('records its schema version in user_version too', () => {
    expect(ingest().status).toBe(0);
    const d = new Database(db, { readonly: true });
    expect(d.pragma('user_version', { simple: true })).toBe(LATEST);
    d.close();
  });

  it('says a damaged database is damaged, with the repair path, and never writes to it', () => {
    expect(ingest().status).toBe(0);
    const pages = statSync(db).size / 4096;
    expect(pages).toBeGreaterThan(8);
    // Garbage over every page but the first (the header and the schema stay readable).
    const fd = openSync(db, 'r+');
    const junk = Buffer.alloc(4096);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 131 + 7) & 0xff;
    for (let p = 1; p < pages; p++) writeSync(fd, junk, 0, junk.length, p * 4096);
    closeSync(fd);
    const before = sha(db);
    writeLog(log, 2000, 10);
    const w = ingest();
    expect(w.status, w.stderr).toBe(3);
    expect(w.stderr).toContain(`database ${db} is damaged`);
    expect(w.stderr).toContain('.recover');
    const r = spawnCli(['investigate', '--db', db, '--no-ingest', ...WINDOW]);
    expect(r.stderr).not.toMatch(/internal error/);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('is damaged');
    expect(sha(db)).toBe(before);
  });

  it('tightens a database others can read to 0600, and says so', () => {
    expect(ingest().status).toBe(0);
    chmodSync(db, 0o666);
    writeLog(log, 2000, 10);
    const r = ingest();
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`database ${db} could be read by other users (mode 0666); it is now 0600`);
    expect(statSync(db).mode & 0o777).toBe(0o600);
  });

  it('refuses a --db that is a symlink in a world-writable directory', () => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o1777);
    const target = join(dir, 'victim.db');
    const link = join(shared, 'bt.db');
    symlinkSync(target, link);
    const r = spawnCli(['ingest', '--db', link, log]);
    expect(r.status, r.stderr).toBe(3);
    expect(r.stderr).toContain('is a symbolic link in');
    expect(existsSync(target)).toBe(false);
  });

  it('only ingest and watch create a database: reading commands say it does not exist', () => {
    const missing = join(dir, 'typo.db');
    for (const args of [
      ['investigate', '--db', missing, '--no-ingest', ...WINDOW], ['report', '--db', missing, '--no-ingest', ...WINDOW],
      ['status', '--db', missing], ['whois-user', '--db', missing, '192.0.2.150'], ['flows', '--db', missing], ['usage', '--db', missing],
    ]) {
      const r = spawnCli(args);
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(3);
      expect(r.stderr).toContain(`no database at ${missing}`);
      expect(existsSync(missing)).toBe(false);
    }
    // investigate with logs to read creates it.
    const r = spawnCli(['investigate', '--db', missing, '--logs', log, ...WINDOW]);
    expect(r.status, r.stderr).toBe(0);
    expect(eventCount(missing)).toBe(2000);
  });

  it('ingest DIR does not read the database kept inside DIR', () => {
    const inside = join(dir, 'bt.db');
    for (let run = 0; run < 2; run++) {
      const r = spawnCli(['ingest', '--db', inside, '--json', dir]);
      expect(r.status, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout) as { perFile: Array<{ path: string }>; warnings: string[] };
      expect(s.perFile.map((f) => f.path)).toEqual([log]);
      expect(s.warnings).toEqual([]);
    }
    expect(eventCount(inside)).toBe(2000);
  });

  it.skipIf(process.getuid?.() !== 0)('reading commands work on a read-only database of another user', () => {
    chmodSync(dir, 0o755);
    expect(ingest().status).toBe(0);
    chmodSync(db, 0o444);
    const nobody = { uid: 65534, gid: 65534 };
    for (const args of [
      ['status', '--db', db], ['whois-user', '--db', db, '192.0.2.150', ...WINDOW], ['flows', '--db', db, ...WINDOW],
      ['investigate', '--db', db, '--no-ingest', ...WINDOW], ['report', '--db', db, '--no-ingest', ...WINDOW], ['usage', '--db', db, ...WINDOW],
    ]) {
      const r = spawnCli(args, nobody);
      expect(r.status, `${args[0]}: ${r.stderr}`).toBe(0);
      expect(r.stderr).not.toMatch(/internal error|attempt to write/);
    }
  });
});
