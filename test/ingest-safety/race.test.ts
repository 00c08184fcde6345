/**
 * Issue 15 §1: binary files sorting before logs (lastlog, wtmp in /var/log) must not move the
 * next file's read position: each log is fingerprinted and read from its first byte.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { rng } from '../../src/bench/generate.js';
import { ingestPaths } from '../../src/ingest/index.js';
import { sniffContent } from '../../src/ingest/sniff.js';
import { openStore } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';
import { eventCount, loginLine, writeBinary, writeLog } from './helpers.js';

const OPTS = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0 };

describe('ingest: binary files interleaved with logs', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => { ({ dir, cleanup } = tempDir()); });
  afterEach(() => cleanup());

  it('stores exactly the clean count on the first run and nothing on the second', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    let lines = 0;
    for (let i = 0; i < 20; i++) {
      const n = 500 + 97 * i;
      // `a-07.bin` sorts before `a-07.log`: the binary file is opened (and skipped) just before.
      writeBinary(join(logs, `a-${String(i).padStart(2, '0')}.bin`), 70_000 + 33_331 * i, i + 1);
      writeLog(join(logs, `a-${String(i).padStart(2, '0')}.log`), lines, n, `f${i}-`);
      lines += n;
    }
    const db = join(dir, 'bt.db');
    const store = openStore({ path: db });
    try {
      const first = await ingestPaths(store, [logs], OPTS);
      expect(eventCount(db)).toBe(lines);
      expect(first.perFile.filter((f) => f.kind === 'binary')).toHaveLength(20);
      const second = await ingestPaths(store, [logs], OPTS);
      expect(second.lines).toBe(0);
      expect(eventCount(db)).toBe(lines);
    } finally {
      store.close();
    }
  });
});

describe('sniff: binary is a proportion, not a few bytes', () => {
  it('a few NUL bytes among 40 good lines leave a log', () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(loginLine(i));
    lines[3] = '\0\0\0\0' + lines[3];
    lines[10] = lines[10].replace('imap-login', 'imap\0\0login');
    expect(sniffContent(Buffer.from(lines.join(''))).kind).toBe('log');
  });

  it('random bytes, wtmp-like records and an all-NUL file are binary', () => {
    const next = rng(15);
    const rnd = Buffer.alloc(16384);
    for (let i = 0; i < rnd.length; i++) rnd[i] = Math.floor(next() * 256);
    expect(sniffContent(rnd).kind).toBe('binary');
    const wtmp = Buffer.alloc(384 * 10);
    for (let r = 0; r < 10; r++) { wtmp.writeInt32LE(7, r * 384); wtmp.write('pts/0', r * 384 + 8); wtmp.write('root', r * 384 + 44); }
    expect(sniffContent(wtmp).kind).toBe('binary');
    expect(sniffContent(Buffer.alloc(4096)).kind).toBe('binary');
  });
});

describe('ingest: lines with NUL bytes are counted, not lost', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => { ({ dir, cleanup } = tempDir()); });
  afterEach(() => cleanup());

  it('stores the good lines of a log with a few NULs and counts the damaged ones as unparsed', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 40; i++) lines.push(loginLine(i));
    lines[3] = '\0\0\0\0' + lines[3];
    lines[10] = lines[10].replace('imap-login', 'imap\0\0login');
    const f = join(dir, 'mail.log');
    writeFileSync(f, lines.join(''));
    const db = join(dir, 'bt.db');
    const store = openStore({ path: db });
    try {
      const s = await ingestPaths(store, [f], OPTS);
      expect(s.lines).toBe(40);
      expect(eventCount(db)).toBe(38);
      const unparsed = Object.values(s.unparsed).reduce((a, b) => a + b, 0);
      expect(unparsed).toBe(2);
      expect(Object.values(s.samples).flat().map((u) => u.reason)).toEqual([
        expect.stringMatching(/NUL/), expect.stringMatching(/NUL/),
      ]);
    } finally {
      store.close();
    }
  });
});
