/**
 * Issue 15 §2: two processes on one database (a cron `ingest` and an admin's, or `ingest`
 * beside `watch`) never crash on a lock, never store a line twice, and together store exactly
 * what one clean run stores. Real child processes on a real SQLite file; runs the built dist/.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import Database from 'better-sqlite3';
import { appendFileSync, mkdirSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/schema.js';
import { BIN, spawnCli, tempDir } from '../helpers/cli.js';
import { duplicateEvents, eventCount, loginLine, writeLog } from './helpers.js';

interface Run { child: ChildProcess; code: Promise<number | null>; stderr: () => string }

function start(args: string[]): Run {
  const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, BYTETRAIL_NO_PROGRESS: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  child.stdout!.resume();
  const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  return { child, code, stderr: () => err };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 200 small logs, then lines appended to them in rounds while `busy` is running. */
class GrowingLogs {
  lines = 0;
  readonly files: string[] = [];
  constructor(dir: string, n = 200) {
    for (let i = 0; i < n; i++) {
      const f = join(dir, `app-${String(i).padStart(3, '0')}.log`);
      writeLog(f, this.lines, 3, 'g');
      this.lines += 3;
      this.files.push(f);
    }
  }
  /** Append a line to `k` files, in turn. */
  grow(k: number): void {
    for (let j = 0; j < k; j++) {
      appendFileSync(this.files[(this.lines * 7) % this.files.length], loginLine(this.lines, 'g'));
      this.lines++;
    }
  }
  async growWhile(busy: Promise<unknown>): Promise<void> {
    let done = false;
    void busy.finally(() => { done = true; });
    while (!done) { this.grow(25); await sleep(15); }
  }
}

const CRASH = /internal error|this is a bug|database is locked|SQLITE_|already exists|\n\s+at /;

describe('two processes on one database', () => {
  let dir: string;
  let cleanup: () => void;
  let db: string;
  let logs: string;
  const children: Run[] = [];
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    db = join(dir, 'bt.db');
    logs = join(dir, 'logs');
    mkdirSync(logs);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.child.exitCode === null && c.child.signalCode === null) { c.child.kill('SIGKILL'); await c.code; }
    cleanup();
  });
  const run = (args: string[]) => { const r = start(args); children.push(r); return r; };

  it('two ingest runs at once on 200 growing files: no crash, no line twice, exact counts', async () => {
    const g = new GrowingLogs(logs);
    for (let round = 0; round < 3; round++) {
      const a = run(['ingest', '--db', db, logs]);
      const b = run(['ingest', '--db', db, logs]);
      const both = Promise.all([a.code, b.code]);
      await g.growWhile(both);
      expect(await both, a.stderr() + b.stderr()).toEqual([0, 0]);
      expect(a.stderr() + b.stderr()).not.toMatch(CRASH);
    }
    // What grew after the last runs finished reading is read by one more run.
    const last = spawnCli(['ingest', '--db', db, logs]);
    expect(last.status, last.stderr).toBe(0);
    expect(duplicateEvents(db)).toBe(0);
    expect(eventCount(db)).toBe(g.lines);
  }, 180_000);

  it('ingest beside watch on 200 growing files: no crash, no line twice, exact counts', async () => {
    const g = new GrowingLogs(logs);
    const w = run(['watch', '--db', db, '--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '600', '--check-ms', '200', logs]);
    for (let round = 0; round < 3; round++) {
      const a = run(['ingest', '--db', db, logs]);
      await g.growWhile(a.code);
      expect(await a.code, a.stderr()).toBe(0);
      expect(a.stderr()).not.toMatch(CRASH);
    }
    w.child.kill('SIGTERM');
    expect(await w.code, w.stderr()).toBe(0);
    expect(w.stderr()).not.toMatch(CRASH);
    const last = spawnCli(['ingest', '--db', db, logs]);
    expect(last.status, last.stderr).toBe(0);
    expect(duplicateEvents(db)).toBe(0);
    expect(eventCount(db)).toBe(g.lines);
  }, 180_000);

  it('two first runs on a fresh database both succeed', async () => {
    writeLog(join(logs, 'mail.log'), 0, 50);
    for (let k = 0; k < 4; k++) {
      const fresh = join(dir, `fresh-${k}.db`);
      const a = run(['ingest', '--db', fresh, logs]);
      const b = run(['ingest', '--db', fresh, logs]);
      expect(await Promise.all([a.code, b.code]), a.stderr() + b.stderr()).toEqual([0, 0]);
      expect(a.stderr() + b.stderr()).not.toMatch(CRASH);
      expect(eventCount(fresh)).toBe(50);
    }
  }, 120_000);

  it('a first run that finds another first run migrating waits for it and applies only the rest', async () => {
    writeLog(join(logs, 'mail.log'), 0, 50);
    const fresh = join(dir, 'held.db');
    // The other first run, caught between recording the migrations table and committing migration 1.
    const other = new Database(fresh);
    other.pragma('journal_mode = WAL');
    other.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    other.exec('BEGIN IMMEDIATE');
    other.exec(MIGRATIONS[0].sql);
    other.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(MIGRATIONS[0].version, MIGRATIONS[0].name, Date.now());
    const a = run(['ingest', '--db', fresh, logs]);
    // Commit once the second run has the database open (so it has looked at what is applied).
    const opened = () => { try { return readdirSync(`/proc/${a.child.pid}/fd`).some((fd) => { try { return readlinkSync(`/proc/${a.child.pid}/fd/${fd}`) === fresh; } catch { return false; } }); } catch { return false; } };
    for (let i = 0; i < 600 && !opened() && a.child.exitCode === null; i++) await sleep(50);
    await sleep(500);
    other.exec('COMMIT');
    other.close();
    expect(await a.code, a.stderr()).toBe(0);
    expect(a.stderr()).not.toMatch(CRASH);
    expect(eventCount(fresh)).toBe(50);
  }, 60_000);
});
