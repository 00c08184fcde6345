/**
 * Issue 15 §8: what cannot be read as it was is counted, said once, and shown by status; the
 * original bytes of a line not understood are kept, and every miss is counted by reason.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, spawnCli, tempDir } from '../helpers/cli.js';
import { eventCount, loginLine, writeBinary, writeLog } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('what is lost is counted', () => {
  let dir: string;
  let cleanup: () => void;
  let db: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    db = join(dir, 'bt.db');
  });
  afterEach(() => cleanup());

  it('keeps the original bytes of a line that is not UTF-8, counts such lines once, and status shows them', () => {
    const bad = Buffer.concat([Buffer.from('Nov 20 08:00:09 mx1 dovecot: frobnicate('), Buffer.from([0xff, 0xfe, 0x41]), Buffer.from('): odd\n')]);
    const parsed = Buffer.from(loginLine(1).replace('user=<a1@', 'user=<a\u00ff1@'), 'latin1');
    const f = join(dir, 'mail.log');
    writeFileSync(f, Buffer.concat([Buffer.from(loginLine(0)), bad, parsed, Buffer.from(loginLine(2))]));
    const r = spawnCli(['ingest', '--db', db, '--json', f]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain(`${f}: 2 lines have bytes that are not UTF-8, stored with U+FFFD in their place`);
    expect(r.stderr.match(/not UTF-8/g)).toHaveLength(1);
    expect(JSON.parse(r.stdout).losses).toEqual([{ path: f, reason: expect.stringMatching(/not UTF-8/), lines: 2, bytes: 0 }]);
    const d = new Database(db, { readonly: true });
    const u = d.prepare('SELECT text, raw FROM unparsed').all() as Array<{ text: string; raw: Buffer | null }>;
    d.close();
    expect(u).toHaveLength(1);
    expect(u[0].raw).toEqual(bad.subarray(0, bad.length - 1));
    expect(u[0].text).toContain('\uFFFD');
    // A second run reads nothing and adds nothing.
    expect(spawnCli(['ingest', '--db', db, f]).stderr).not.toMatch(/not UTF-8/);
    const s = spawnCli(['status', '--db', db, '--json']);
    expect(s.status, s.stderr).toBe(0);
    expect(JSON.parse(s.stdout).losses).toEqual([expect.objectContaining({ reason: expect.stringMatching(/not UTF-8/), paths: 1, lines: 2 })]);
    expect(spawnCli(['status', '--db', db]).stdout).toMatch(/not read as written: lines with bytes that are not UTF-8.*: 2 lines in 1 file/);
  });

  it('counts every line not understood by reason, beyond the 50 samples kept', () => {
    const f = join(dir, 'mail.log');
    const lines: string[] = [];
    for (let i = 0; i < 120; i++) lines.push(`Nov 20 08:00:${String(i % 60).padStart(2, '0')} mx1 dovecot: frobnicate(${i}): something odd\n`);
    writeFileSync(f, lines.join(''));
    expect(spawnCli(['ingest', '--db', db, f]).status).toBe(0);
    const d = new Database(db, { readonly: true });
    const samples = (d.prepare('SELECT count(*) AS n FROM unparsed').get() as { n: number }).n;
    const counted = d.prepare('SELECT source, reason, count FROM unparsed_reasons').all() as Array<{ source: string; reason: string; count: number }>;
    d.close();
    expect(samples).toBe(50);
    expect(counted.reduce((a, r) => a + r.count, 0)).toBe(120);
  });

  it('watch counts the unread bytes of a file truncated with no rotated copy, and says so once', async () => {
    const f = join(dir, 'mail.log');
    const partial = 'Nov 20 08:09:59 mx1 dovecot: imap-login: Login: user=<cut';
    writeLog(f, 0, 100);
    appendFileSync(f, partial);
    const w = spawn(process.execPath, [BIN, 'watch', '--db', db, '--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '600', '--check-ms', '200', f], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    w.stderr.on('data', (c: Buffer) => { err += c.toString('utf8'); });
    w.stdout.resume();
    const code = new Promise<number | null>((r) => w.once('exit', (c) => r(c)));
    try {
      const holds = (ok: () => boolean) => { try { return ok(); } catch { return false; } };
      const waitFor = async (ok: () => boolean) => { for (let i = 0; i < 1200 && !holds(ok); i++) await sleep(50); };
      await waitFor(() => existsSync(db) && eventCount(db) === 100);
      expect(eventCount(db)).toBe(100);
      // `> mail.log` and new lines: the unfinished last line was in no copy.
      writeLog(f, 1000, 10, 'n');
      await waitFor(() => eventCount(db) === 110 && /was truncated/.test(err));
      expect(err).toContain(`${f} was truncated with ${partial.length} bytes not read yet, and no rotated copy holds them: they are lost`);
    } finally {
      w.kill('SIGTERM');
    }
    expect(await code, err).toBe(0);
    expect(err.match(/was truncated/g)).toHaveLength(1);
    const s = spawnCli(['status', '--db', db, '--json']);
    expect(JSON.parse(s.stdout).losses).toEqual([expect.objectContaining({ reason: expect.stringMatching(/^truncated/), paths: 1, bytes: partial.length })]);
  }, 90_000);

  it('a binary file skipped is counted once per file, and status shows it', () => {
    writeBinary(join(dir, 'wtmp'), 5000, 3);
    for (let run = 0; run < 2; run++) expect(spawnCli(['ingest', '--db', db, join(dir, 'wtmp')]).status).toBe(0);
    const s = spawnCli(['status', '--db', db, '--json']);
    expect(JSON.parse(s.stdout).losses).toEqual([expect.objectContaining({ reason: 'binary file, not read', paths: 1, lines: 0, bytes: 5000 })]);
  });
});
