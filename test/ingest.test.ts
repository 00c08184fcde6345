import Database from 'better-sqlite3';
import { appendFileSync, chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateLogs } from '../src/bench/generate.js';
import { ingestPaths, type IngestSummary } from '../src/ingest/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { runCli, spawnCli, spawnCliAsync, tempDir } from './helpers/cli.js';
import { validate } from './render/json-schema.js';

const OPTS = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0 };

function dbCounts(path: string) {
  const db = new Database(path, { readonly: true });
  try {
    const events = (db.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
    const agg = (db.prepare('SELECT coalesce(sum(count), 0) AS n FROM event_agg').get() as { n: number }).n;
    const stats = db.prepare('SELECT source, sum(events) AS e, sum(skipped) AS s, sum(unparsed) AS u FROM file_stats GROUP BY source ORDER BY source').all();
    const bySource = db.prepare('SELECT source, kind, count(*) AS n FROM events GROUP BY source, kind ORDER BY source, kind').all();
    return { events, agg, stats, bySource };
  } finally {
    db.close();
  }
}

const total = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);

describe('ingest', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  let db: string;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    db = join(dir, 'bt.db');
    store = openStore({ path: db });
  });
  afterEach(() => {
    store.close();
    cleanup();
  });

  it('creates the database with mode 0600 and records its migrations', () => {
    expect(statSync(db).mode & 0o777).toBe(0o600);
    const rows = store.db.prepare('SELECT version FROM schema_migrations').all();
    expect(rows.length).toBeGreaterThan(0);
  });

  it('reads each line once: a second run over unchanged files adds nothing', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const gen = await generateLogs({ dir: logs, lines: 5000 });
    const first = await ingestPaths(store, [logs], OPTS);
    expect(first.lines).toBe(total(gen.lines));
    expect(first.files).toBe(4);
    const c1 = dbCounts(db);
    const second = await ingestPaths(store, [logs], OPTS);
    expect(second.lines).toBe(0);
    expect(total(second.events)).toBe(0);
    expect(dbCounts(db)).toEqual(c1);
  });

  it('reads only appended lines, and a rotated or gzipped copy adds nothing', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    const gen = await generateLogs({ dir: logs, lines: 3000 });
    const mail = gen.files.mail;
    await ingestPaths(store, [mail], OPTS);
    const before = dbCounts(db);
    // Lines written just before rotation, then logrotate renames and compresses.
    const extra = 'Nov 21 10:00:00 mx1 postfix/smtpd[77]: connect from unknown[192.0.2.77]\n';
    appendFileSync(mail, extra + extra);
    renameSync(mail, mail + '.1');
    writeFileSync(mail + '.1.gz', gzipSync(readFileSync(mail + '.1')));
    writeFileSync(mail, 'Nov 21 10:05:00 mx1 postfix/smtpd[78]: connect from unknown[192.0.2.78]\n');
    const s = await ingestPaths(store, [mail + '.1.gz', mail + '.1', mail], OPTS);
    expect(s.lines).toBe(3); // two appended before rotation, one in the new file
    const after = dbCounts(db);
    expect(after.events + after.agg - before.events - before.agg).toBe(s.lines - total(s.unparsed) - total(s.skipped));
    // A copy somewhere else is the same content.
    copyFileSync(mail + '.1', join(dir, 'copy.log'));
    expect((await ingestPaths(store, [join(dir, 'copy.log')], OPTS)).lines).toBe(0);
  });

  it('treats a copytruncate-rewritten file as new content', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n'.repeat(20));
    expect((await ingestPaths(store, [f], OPTS)).lines).toBe(20);
    writeFileSync(f, 'Nov 21 11:00:00 mx1 postfix/smtpd[2]: connect from unknown[192.0.2.2]\n');
    expect((await ingestPaths(store, [f], OPTS)).lines).toBe(1);
  });

  it('does not mistake a file with the same first bytes for one already read', async () => {
    const head = 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n'.repeat(30);
    const a = join(dir, 'a.log'), b = join(dir, 'b.log');
    writeFileSync(a, head + 'Nov 21 10:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.2]\n');
    writeFileSync(b, head + 'Nov 21 10:00:01 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.3]\n'.repeat(3));
    expect((await ingestPaths(store, [a], OPTS)).lines).toBe(31);
    expect((await ingestPaths(store, [b], OPTS)).lines).toBe(33);
  });

  it('keeps the lines of a truncated gzip and warns', async () => {
    const f = join(dir, 'cut.log.gz');
    const text = Array.from({ length: 2000 }, (_, i) => `Nov 21 10:00:00 mx1 postfix/smtpd[${i}]: connect from unknown[192.0.2.1]\n`).join('');
    const gz = gzipSync(text);
    writeFileSync(f, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const s = await ingestPaths(store, [f], OPTS);
    expect(s.lines).toBeGreaterThan(0);
    expect(s.lines).toBeLessThan(2000);
    expect(s.warnings.join('\n')).toMatch(/truncated/);
  });

  it('survives bad input with one clear message per problem', async () => {
    const bad = join(dir, 'bad');
    mkdirSync(bad);
    const rnd = Buffer.alloc(64 * 1024);
    for (let i = 0; i < rnd.length; i++) rnd[i] = (i * 7919 + 13) & 0xff;
    writeFileSync(join(bad, 'binary.bin'), rnd);
    writeFileSync(join(bad, 'nul.log'), 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n\0\0\0\0 garbage\n');
    writeFileSync(join(bad, 'utf8.log'), Buffer.concat([Buffer.from('Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1] \xff\xfe'), Buffer.from([0xc3, 0x28, 0x0a])]));
    writeFileSync(join(bad, 'huge.log'), 'A'.repeat(10 * 1024 * 1024) + '\nNov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n');
    writeFileSync(join(bad, 'crlf.log'), 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\r\n'.repeat(3));
    writeFileSync(join(bad, 'empty.log'), '');
    const s = await ingestPaths(store, [bad, join(dir, 'missing.log')], OPTS);
    expect(s.errors).toEqual([`cannot read ${join(dir, 'missing.log')}: no such file or directory (ENOENT)`]);
    expect(s.warnings.some((w) => /binary\.bin: binary data/.test(w))).toBe(true);
    const huge = s.perFile.find((f) => f.path.endsWith('huge.log'))!;
    expect(huge.lines).toBe(2);
    expect(s.samples.other?.some((u) => /longer than/.test(u.reason)) || s.unparsed.other! >= 1).toBe(true);
    // The lines are stored by reference: read back through the store, as readers get them.
    const crlf = (await store.resolveEvents(store.eventsInRange(0, 8.64e15))).filter((e) => e.path?.endsWith('crlf.log'));
    expect(crlf.length).toBe(3);
    for (const r of crlf) expect(r.raw).toBe('Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]');
  });

  it('reads a directory of 10,000 small files', async () => {
    const many = join(dir, 'many');
    mkdirSync(many);
    for (let i = 0; i < 10_000; i++) writeFileSync(join(many, `f${i}.log`), `Nov 21 10:00:00 mx1 postfix/smtpd[${i}]: connect from unknown[192.0.2.${i % 250}]\n`);
    const s = await ingestPaths(store, [many], OPTS);
    expect(s.files).toBe(10_000);
    expect(s.lines).toBe(10_000);
    expect((await ingestPaths(store, [many], OPTS)).lines).toBe(0);
  }, 600_000);
});

describe('ingest command', () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir()));
  afterEach(() => cleanup());

  it('prints the JSON summary of what this run stored', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\nnot a log line\n');
    const db = join(dir, 'x.db');
    const { stdout } = await runCli(['ingest', '--db', db, '--json', f]);
    const j = JSON.parse(stdout) as IngestSummary;
    expect(j.files).toBe(1);
    expect(j.lines).toBe(2);
    expect(typeof j.events).toBe('object');
    // A line without a timestamp is counted against the source of the line before it.
    expect(total(j.unparsed)).toBe(1);
    const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', 'schemas', 'ingest.json'), 'utf8'));
    expect(validate(schema, j)).toEqual([]);
    const again = JSON.parse((await runCli(['ingest', '--db', db, '--json', f])).stdout) as IngestSummary;
    expect(again.lines).toBe(0);
    expect(total(again.events)).toBe(0);
  });

  it('reads stdin with -', () => {
    const db = join(dir, 'x.db');
    const r = spawnCli(['ingest', '--db', db, '--json', '-'], { input: 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n' });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).lines).toBe(1);
  });

  it('exits non-zero with one line, no stack trace, only when nothing could be read', () => {
    const db = join(dir, 'x.db');
    const r = spawnCli(['ingest', '--db', db, join(dir, 'nope.log')]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no such file or directory');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const ok = join(dir, 'ok.log');
    writeFileSync(ok, 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n');
    const r2 = spawnCli(['ingest', '--db', db, ok, join(dir, 'nope.log')]);
    expect(r2.status).toBe(0);
  });

  it('reports an unreadable file in one line', () => {
    const f = join(dir, 'secret.log');
    writeFileSync(f, 'Nov 21 10:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n');
    chmodSync(f, 0o000);
    chmodSync(dir, 0o777);
    const asRoot = process.getuid?.() === 0;
    const r = spawnCli(['ingest', '--db', join(dir, 'x.db'), f], asRoot ? { uid: 65534, gid: 65534 } : {});
    expect(r.status).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual(expect.arrayContaining([`bytetrail: cannot read ${f}: permission denied (EACCES)`]));
  });

  it('a run killed with SIGKILL and restarted ends with the counts of one clean run', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    await generateLogs({ dir: logs, lines: 120_000, seed: 7 });
    const clean = join(dir, 'clean.db');
    expect(spawnCli(['ingest', '--db', clean, logs]).status).toBe(0);
    const want = dbCounts(clean);
    const killed = join(dir, 'killed.db');
    // Kill each run once it has committed something more, not after a fixed delay: on a loaded
    // host a fixed delay can fall before the run has written anything, and then prove nothing.
    const stored = () => {
      try {
        const d = new Database(killed, { readonly: true, fileMustExist: true });
        try { return (d.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n; } finally { d.close(); }
      } catch { return 0; }
    };
    let killedMidRun = 0;
    for (let round = 0; round < 3; round++) {
      const before = stored();
      const child = spawnCliAsync(['ingest', '--db', killed, logs], { BYTETRAIL_BATCH_LINES: '3000' });
      const exited = new Promise((r) => child.once('exit', r));
      let done = false;
      void exited.then(() => { done = true; });
      const until = Date.now() + 120_000;
      while (!done && stored() <= before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      if (!done) {
        child.kill('SIGKILL');
        killedMidRun++;
      }
      await exited;
    }
    expect(killedMidRun, 'runs killed after a commit and before their end').toBeGreaterThan(0);
    expect(spawnCli(['ingest', '--db', killed, logs]).status).toBe(0);
    expect(dbCounts(killed)).toEqual(want);
  }, 600_000);
});
