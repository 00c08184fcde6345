/**
 * Issue 15 §8: what cannot be read as it was is counted, said once, and shown by status; the
 * original bytes of a line not understood are kept, and every miss is counted by reason.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawnCli, tempDir } from '../helpers/cli.js';
import { loginLine, writeBinary } from './helpers.js';

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

  it('a binary file skipped is counted once per file, and status shows it', () => {
    writeBinary(join(dir, 'wtmp'), 5000, 3);
    for (let run = 0; run < 2; run++) expect(spawnCli(['ingest', '--db', db, join(dir, 'wtmp')]).status).toBe(0);
    const s = spawnCli(['status', '--db', db, '--json']);
    expect(JSON.parse(s.stdout).losses).toEqual([expect.objectContaining({ reason: 'binary file, not read', paths: 1, lines: 0, bytes: 5000 })]);
  });
});
