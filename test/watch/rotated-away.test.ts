/**
 * `watch` following a file (not its directory) is stopped, and the file is rotated twice before
 * it starts again (mail.log → mail.log.1 → mail.log.2). The stream it was reading is then in the
 * older copy: it is found there by its first bytes and read from where watch stopped; when no
 * copy holds it, the loss is counted for status and said once. Real child processes, real files.
 */
import Database from 'better-sqlite3';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, existsSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, tempDir } from '../helpers/cli.js';

const FAST = ['--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '600', '--check-ms', '200'];

/** Line `i`: a Postfix connect, unique by its pid, stored as one event. */
const line = (i: number) => `Nov 21 10:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} mx1 postfix/smtpd[${10000 + i}]: connect from unknown[192.0.2.${(i % 250) + 1}]\n`;
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function query<T>(db: string, sql: string): T | null {
  if (!existsSync(db)) return null;
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try { return d.prepare(sql).get() as T; } catch { return null; } finally { d.close(); }
}
/** Events, and distinct lines among them (lines stored by reference are told apart by their check, a hash of their text). */
const events = (db: string) => query<{ n: number; d: number }>(db, 'SELECT count(*) AS n, count(DISTINCT coalesce(raw, raw_check)) AS d FROM events') ?? { n: 0, d: 0 };

async function watchUntil(db: string, log: string, n: number): Promise<string> {
  const child: ChildProcess = spawn(process.execPath, [BIN, 'watch', '--db', db, ...FAST, log], {
    env: { ...process.env, BYTETRAIL_NO_PROGRESS: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const t0 = Date.now();
  while (events(db).n < n) {
    if (Date.now() - t0 > 90_000) { child.kill('SIGKILL'); throw new Error(`timed out waiting for ${n} events (have ${events(db).n})\n${err}`); }
    await sleep(50);
  }
  await sleep(500);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
  return err;
}

function rotateTwiceWhileStopped(log: string): void {
  appendFileSync(log, lines(100, 150)); // written while watch is stopped
  renameSync(log, `${log}.1`);
  writeFileSync(log, lines(150, 170));
  renameSync(`${log}.1`, `${log}.2`);
  renameSync(log, `${log}.1`);
  writeFileSync(log, lines(170, 180));
}

/** watch reads 100 lines, is stopped, the file is rotated twice; `keepOlderCopy` false deletes mail.log.2. */
async function stoppedAndRotatedTwice(dir: string, keepOlderCopy: boolean): Promise<{ db: string; log: string }> {
  const db = join(dir, 'bt.db'), log = join(dir, 'mail.log');
  writeFileSync(log, lines(0, 100));
  await watchUntil(db, log, 100);
  rotateTwiceWhileStopped(log);
  if (!keepOlderCopy) unlinkSync(`${log}.2`);
  return { db, log };
}

describe('watch: a followed file rotated twice while watch was stopped', () => {
  it('reads the rest of the stream it was reading from the older copy, every line once', async () => {
    const { dir, cleanup } = tempDir('bytetrail-rot2-');
    try {
      const { db, log } = await stoppedAndRotatedTwice(dir, true);
      await watchUntil(db, log, 180);
      expect(events(db)).toEqual({ n: 180, d: 180 });
      expect(query(db, 'SELECT * FROM losses')).toBeUndefined();
    } finally {
      cleanup();
    }
  }, 240_000);

  it('without that copy, counts the loss for status and says it once', async () => {
    const { dir, cleanup } = tempDir('bytetrail-rot2-');
    try {
      const { db, log } = await stoppedAndRotatedTwice(dir, false);
      const err = await watchUntil(db, log, 130);
      expect(events(db)).toEqual({ n: 130, d: 130 });
      expect(query(db, 'SELECT path, reason FROM losses')).toEqual({ path: log, reason: expect.stringMatching(/rotated away more than once while watch was stopped/) });
      expect(err.match(/was rotated more than once while watch was stopped/g)).toHaveLength(1);
    } finally {
      cleanup();
    }
  }, 240_000);
});
