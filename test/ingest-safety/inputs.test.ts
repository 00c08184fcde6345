/**
 * Issue 15 §6: inputs that are not plain files (FIFOs, process substitution), and a last line
 * that its writer has not finished yet.
 */
import { spawn, spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestPaths } from '../../src/ingest/index.js';
import { openStore } from '../../src/store/index.js';
import { BIN, spawnCli, tempDir } from '../helpers/cli.js';
import { eventCount, loginLine, writeLog } from './helpers.js';

const NOW = Date.UTC(2026, 10, 21);
const OPTS = { tz: 'UTC', now: NOW };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** 10 whole lines and the first half of an 11th, written an hour before NOW. */
function writeCut(path: string): string {
  writeLog(path, 0, 10);
  const last = loginLine(10);
  const cut = last.indexOf('method=');
  appendFileSync(path, last.slice(0, cut));
  const old = new Date(NOW - 3_600_000);
  utimesSync(path, old, old);
  return last.slice(cut);
}

describe('an unterminated last line', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => { ({ dir, cleanup } = tempDir()); });
  afterEach(() => cleanup());

  it('is left for the next run however old the file is, and then read whole as one line', async () => {
    const f = join(dir, 'mail.log');
    const rest = writeCut(f);
    const db = join(dir, 'bt.db');
    const store = openStore({ path: db });
    try {
      const first = await ingestPaths(store, [f], OPTS);
      expect(first.lines).toBe(10);
      expect(first.heldBack).toEqual({ files: 1, bytes: readFileSync(f).length - readFileSync(f, 'utf8').lastIndexOf('\n') - 1 });
      appendFileSync(f, rest);
      const second = await ingestPaths(store, [f], OPTS);
      expect(second.lines).toBe(1);
      expect(second.unparsed).toEqual({});
      expect(second.heldBack).toEqual({ files: 0, bytes: 0 });
      expect(eventCount(db)).toBe(11);
    } finally {
      store.close();
    }
  });

  it('is read in a rotated file, and with --final', async () => {
    const rotated = join(dir, 'mail.log.1');
    writeCut(rotated);
    const db = join(dir, 'bt.db');
    const store = openStore({ path: db });
    try {
      const s = await ingestPaths(store, [rotated], OPTS);
      expect(s.lines).toBe(11);
      expect(s.heldBack.files).toBe(0);
    } finally {
      store.close();
    }
    const live = join(dir, 'other.log');
    writeCut(live);
    const r = spawnCli(['ingest', '--db', join(dir, 'final.db'), '--final', '--json', live]);
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).lines).toBe(11);
    const held = spawnCli(['ingest', '--db', join(dir, 'held.db'), live]);
    expect(held.status, held.stderr).toBe(0);
    expect(held.stderr).toMatch(/left an unterminated last line \(\d+ bytes\) for the next run.*--final/);
  });
});

describe('FIFOs and process substitution', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => { ({ dir, cleanup } = tempDir()); });
  afterEach(() => cleanup());

  it('a FIFO read twice stores its content once, and a wait for its writer is announced', async () => {
    const src = join(dir, 'mail.log');
    writeLog(src, 0, 50);
    const fifo = join(dir, 'fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const db = join(dir, 'bt.db');
    // No writer yet: the run says what it waits for.
    const child = spawn(process.execPath, [BIN, 'ingest', '--db', db, fifo], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => { err += c.toString('utf8'); });
    child.stdout.resume();
    const code = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    try {
      for (let i = 0; i < 600 && !/waiting for a program to write/.test(err); i++) await sleep(50);
      expect(err).toContain(`waiting for a program to write to ${fifo} (a FIFO)`);
      writeFileSync(fifo, readFileSync(src));
      expect(await code, err).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    expect(eventCount(db)).toBe(50);
    // Again, with a writer at once: nothing new.
    const again = spawnSync('sh', ['-c', `cat "$1" > "$2" & exec "$0" "$3" ingest --db "$4" "$2"`, process.execPath, src, fifo, BIN, db], { encoding: 'utf8' });
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr).not.toContain('waiting for');
    expect(eventCount(db)).toBe(50);
  });

  it('process substitution read twice stores its content once', () => {
    const src = join(dir, 'mail.log');
    writeLog(src, 0, 50);
    const db = join(dir, 'bt.db');
    for (let run = 0; run < 2; run++) {
      const r = spawnSync('bash', ['-c', `"$0" "$1" ingest --db "$2" <(cat "$3")`, process.execPath, BIN, db, src], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(eventCount(db)).toBe(50);
    }
  });
});
