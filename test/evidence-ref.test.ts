/**
 * Evidence by reference (migration 12): lines read from a file are stored as offset, length and
 * check, and read back from the file, or from its rotated or compressed successor, when a reader
 * quotes them; never replaced by a different line.
 */
import Database from 'better-sqlite3';
import { appendFileSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { investigate } from '../src/correlate/investigate.js';
import { evidenceText } from '../src/correlate/types.js';
import { ingestPaths } from '../src/ingest/index.js';
import { renderHtml } from '../src/render/html.js';
import { renderMarkdown } from '../src/render/markdown.js';
import { UNREADABLE, UNREADABLE_CHANGED, UNREADABLE_GONE } from '../src/store/evidence.js';
import { openStore, type Store } from '../src/store/index.js';
import { MIGRATIONS } from '../src/store/schema.js';
import { Outbox } from '../src/store/outbox.js';
import { SqliteReadStore } from '../src/store/sqlite-read.js';
import { spawnCli, tempDir } from './helpers/cli.js';
import { validate } from './render/json-schema.js';

const OPTS = { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0 };
const ALL: [number, number] = [0, 8.64e15];

/** Events and aggregate samples (sample text included) through a store's read side. */
async function quoted(store: Store): Promise<{ events: Array<[number | null, string | null, string | undefined]>; samples: Array<[number | null, string | null, string | undefined]> }> {
  const rs = new SqliteReadStore(store);
  const evs = await rs.eventsInRange(...ALL);
  const aggs = await rs.aggregatesInRange(...ALL);
  await rs.quote(evs, aggs);
  const events = evs.map((e) => [e.line, e.raw, e.rawUnreadable] as [number | null, string | null, string | undefined]);
  const samples = aggs.map((a) => [a.sampleLine, a.sampleRaw, a.sampleUnreadable] as [number | null, string | null, string | undefined])
    .sort((x, y) => (x[0] ?? 0) - (y[0] ?? 0));
  return { events, samples };
}

/**
 * Content with every kind of line the splitter treats apart: CRLF endings, multi-byte UTF-8,
 * bytes that are not UTF-8, a line over the evidence length, blank lines, aggregated kinds
 * (netfilter drops, BIND queries) and events.
 */
function mixedContent(): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; i < 300; i++) {
    const s = String(i % 60).padStart(2, '0');
    parts.push(Buffer.from(`Nov 20 09:20:${s} mx1 postfix/smtpd[${i}]: connect from unknown[192.0.2.${i % 200}]\n`));
    if (i % 7 === 0) parts.push(Buffer.from(`Nov 20 09:20:${s} mx1 postfix/smtpd[${i}]: connect from héllo-wörld-🙂.example[198.51.100.${i % 200}]\r\n`));
    if (i % 11 === 0) parts.push(Buffer.concat([Buffer.from(`Nov 20 09:20:${s} mx1 postfix/smtpd[${i}]: connect from bad\xff`), Buffer.from([0xc3, 0x28]), Buffer.from(`[203.0.113.${i % 200}]\n`)]));
    if (i % 13 === 0) parts.push(Buffer.from('\n'));
    parts.push(Buffer.from(`Nov 20 09:${String(21 + (i % 30)).padStart(2, '0')}:03 mx1 kernel: DROP-IN: IN=eth0 OUT= SRC=203.0.113.${i % 50} DST=192.0.2.10 LEN=60 PROTO=TCP SPT=${40000 + i} DPT=${20 + (i % 9)} SYN URGP=0\n`));
    parts.push(Buffer.from(`Nov 20 09:${String(40 + (i % 10)).padStart(2, '0')}:00 ns1 named[1234]: client @0x7f3a5c100010 198.51.100.${i % 30}#${27015 + i} (example.com): query: example.com IN ANY +E(0) (192.0.2.53)\n`));
    if (i === 150) parts.push(Buffer.from(`Nov 20 09:20:30 mx1 postfix/smtpd[9]: connect from ${'x'.repeat(5000)}.example[192.0.2.9]\n`));
  }
  return Buffer.concat(parts);
}

describe('evidence by reference', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  beforeEach(() => {
    ({ dir, cleanup } = tempDir());
    store = openStore({ path: join(dir, 'db.sqlite') });
  });
  afterEach(() => { store.close(); cleanup(); });

  it('reads back every line exactly as stdin stores its text (CRLF, UTF-8, bad bytes, long lines), parsed inline or in the worker, in one run or resumed', async () => {
    const content = mixedContent();
    const f = join(dir, 'mail.log');
    writeFileSync(f, content);
    // stdin keeps the raw text: what every reference must read back.
    const sdb = join(dir, 'stdin.db');
    const r = spawnCli(['ingest', '--db', sdb, '--tz', 'UTC', '-'], { input: content });
    expect(r.status).toBe(0);
    const fromStdin = openStore({ path: sdb, readonly: true });
    const want = await quoted(fromStdin);
    const stdinRows = new Database(sdb, { readonly: true }).prepare('SELECT count(*) AS n, count(raw) AS raw, count(raw_off) AS refs FROM events').get() as { n: number; raw: number; refs: number };
    fromStdin.close();
    expect(stdinRows.n).toBeGreaterThan(300);
    expect(stdinRows.raw).toBe(stdinRows.n);
    expect(stdinRows.refs).toBe(0);
    expect(want.samples.length).toBeGreaterThan(20);
    expect(want.events.some(([, raw]) => raw!.includes('🙂'))).toBe(true);
    expect(want.events.some(([, raw]) => raw!.length === 4096)).toBe(true);

    for (const parseInWorker of ['never', 'always'] as const) {
      const s = openStore({ path: join(dir, `${parseInWorker}.db`) });
      await ingestPaths(s, [f], { ...OPTS, parseInWorker, batchLines: 97 });
      const stored = s.db.prepare('SELECT count(*) AS n, count(raw) AS raw, count(raw_off) AS refs FROM events').get() as { n: number; raw: number; refs: number };
      expect(stored).toEqual({ n: stdinRows.n, raw: 0, refs: stdinRows.n });
      expect(await quoted(s)).toEqual(want);
      s.close();
    }

    // Resumed: the first run stops inside a line with multi-byte characters, the second goes on from the stored offset.
    const cut = content.indexOf('wörld', content.length >> 1) + 2;
    const g = join(dir, 'grown.log');
    writeFileSync(g, content.subarray(0, cut));
    utimesSync(g, new Date(), new Date());
    await ingestPaths(store, [g], { ...OPTS, settleMs: 3_600_000, now: Date.now(), parseInWorker: 'never' });
    appendFileSync(g, content.subarray(cut));
    await ingestPaths(store, [g], { ...OPTS, parseInWorker: 'always' });
    expect(await quoted(store)).toEqual(want);
  });

  it('reads a line back from the rotated successor (.1, .1.gz, -YYYYMMDD.gz) found by its fingerprint', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, mixedContent());
    await ingestPaths(store, [f], OPTS);
    const want = await quoted(store);
    expect(want.events.every(([, raw, why]) => raw !== null && why === undefined)).toBe(true);
    // A new mail.log with other content: not the stream, by its fingerprint.
    renameSync(f, `${f}.1`);
    writeFileSync(f, 'Nov 21 00:00:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.1]\n');
    expect(await quoted(openAgain())).toEqual(want);
    writeFileSync(`${f}.1.gz`, gzipSync(readFileSync(`${f}.1`)));
    rmSync(`${f}.1`);
    expect(await quoted(openAgain())).toEqual(want);
    renameSync(`${f}.1.gz`, join(dir, 'mail.log-20261121.gz'));
    expect(await quoted(openAgain())).toEqual(want);
    // Gone: the reference only, said in one phrase, never another line.
    rmSync(join(dir, 'mail.log-20261121.gz'));
    const gone = await quoted(openAgain());
    expect(gone.events.every(([, raw, why]) => raw === null && why === UNREADABLE_GONE)).toBe(true);
    expect(gone.samples.every(([, raw, why]) => raw === null && why === UNREADABLE_GONE)).toBe(true);

    function openAgain(): Store {
      store.close();
      store = openStore({ path: join(dir, 'db.sqlite') });
      return store;
    }
  });

  it('a file rewritten in place fails the check: investigate names the line as no longer readable in text, JSON, Markdown and HTML', async () => {
    const f = join(dir, 'mail.log');
    const logins = Array.from({ length: 20 }, (_, i) => `Nov 20 10:${String(i).padStart(2, '0')}:00 mx1 dovecot: imap-login: Login: user=<anna@example.com>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=${1000 + i}, TLS, session=<s${i}>`);
    // A scan: drops on 20 ports, one a minute (an aggregate and its sample line each).
    const drops = Array.from({ length: 20 }, (_, i) => `Nov 20 10:${String(20 + i).padStart(2, '0')}:00 mx1 kernel: DROP-IN: IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.10 LEN=60 PROTO=TCP SPT=51234 DPT=${100 + i} SYN URGP=0`);
    const lines = [...logins, ...drops];
    writeFileSync(f, lines.join('\n') + '\n');
    await ingestPaths(store, [f], OPTS);
    // Same first bytes (the fingerprint); from the 11th line on, other accounts and ports.
    writeFileSync(f, lines.map((l, i) => (i < 10 ? l : l.replace('anna@', 'otto@').replace('DPT=1', 'DPT=2'))).join('\n') + '\n');
    const rs = new SqliteReadStore(store);
    const evs = await rs.eventsInRange(...ALL);
    expect(evs.length).toBe(20);
    // Handed out without their text (stored by reference) until quoted.
    expect(evs.every((e) => e.raw === null && e.rawUnreadable === undefined)).toBe(true);
    await rs.quote(evs, []);
    expect(evs.slice(0, 10).every((e) => e.raw !== null && e.raw.includes('anna@'))).toBe(true);
    expect(evs.slice(10).every((e) => e.raw === null && e.rawUnreadable === UNREADABLE_CHANGED)).toBe(true);

    const inv = await investigate(rs, { from: Date.UTC(2026, 10, 20, 10), to: Date.UTC(2026, 10, 20, 11) });
    const json = JSON.parse(JSON.stringify(inv)) as unknown;
    expect(validate(JSON.parse(readFileSync(join(import.meta.dirname, '..', 'schemas', 'investigate.json'), 'utf8')), json)).toEqual([]);
    const all = collectLines(json);
    const unreadable = all.filter((l) => l.text === null);
    expect(unreadable.length).toBeGreaterThan(0);
    for (const l of all) {
      if (l.text === null) expect(l.unreadable).toBe(UNREADABLE_CHANGED);
      else expect(l.text).not.toMatch(/otto@|DPT=2/);
    }
    const phrase = `(${UNREADABLE}: ${UNREADABLE_CHANGED})`;
    expect(evidenceText({ ts: '', where: '', text: null, unreadable: UNREADABLE_CHANGED })).toBe(phrase);
    expect(renderMarkdown(inv)).toContain(`${unreadable[0].where}  ${phrase}`);
    expect(renderHtml(inv)).toContain(`${unreadable[0].where}</span>  ${phrase}`);
  });

  it('upgrades a database of migration 11 in place: old rows keep their text, new rows are references', async () => {
    const p = join(dir, 'old.db');
    const old = new Database(p);
    old.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version <= 11)) {
      old.exec(m.sql);
      old.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 0);
    }
    old.pragma('user_version = 11');
    old.prepare(`INSERT INTO files (id, path, fp_hash, fp_len, kind, offset, first_read, last_read) VALUES (1, '/nowhere/old.log', 'x', 1, 'log', 100, 0, 0)`).run();
    old.prepare(`INSERT INTO events (ts, source, kind, rip, file_id, line, raw) VALUES (?, 'postfix', 'connect', '192.0.2.7', 1, 3, 'an old line, kept as text')`).run(Date.UTC(2026, 10, 20, 9));
    old.prepare(`INSERT INTO event_agg (minute, source, kind, rip, lport, detail, count, bytes, first_ts, last_ts, sample_file_id, sample_line, sample_raw)
      VALUES (?, 'netfilter', 'drop', '203.0.113.9', 22, 'tcp:drop', 3, 180, ?, ?, 1, 4, 'an old drop line')`).run(Date.UTC(2026, 10, 20, 9), Date.UTC(2026, 10, 20, 9), Date.UTC(2026, 10, 20, 9));
    old.close();

    // A reader of the old database before any writer migrated it.
    const ro = openStore({ path: p, readonly: true });
    expect((await quoted(ro)).events).toEqual([[3, 'an old line, kept as text', undefined]]);
    ro.close();

    const s = openStore({ path: p });
    expect((s.db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number }).v).toBe(MIGRATIONS.at(-1)!.version);
    const f = join(dir, 'new.log');
    writeFileSync(f, 'Nov 20 09:30:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.8]\n');
    await ingestPaths(s, [f], OPTS);
    expect(s.db.prepare('SELECT line, raw IS NULL AS ref, raw_off FROM events ORDER BY id').all()).toEqual([{ line: 3, ref: 0, raw_off: null }, { line: 1, ref: 1, raw_off: 0 }]);
    const q = await quoted(s);
    expect(q.events).toEqual([[3, 'an old line, kept as text', undefined], [1, 'Nov 20 09:30:00 mx1 postfix/smtpd[1]: connect from unknown[192.0.2.8]', undefined]]);
    expect(q.samples).toEqual([[4, 'an old drop line', undefined]]);
    s.close();
  });

  it('ship batches carry the text read back from the file, as the raw column held it before', async () => {
    const content = mixedContent();
    const f = join(dir, 'mail.log');
    writeFileSync(f, content);
    await ingestPaths(store, [f], OPTS);
    const sdb = join(dir, 'stdin.db');
    expect(spawnCli(['ingest', '--db', sdb, '--tz', 'UTC', '-'], { input: content }).status).toBe(0);
    const byLine = (db: Database.Database) => new Map((db.prepare('SELECT line, raw FROM events').all() as Array<{ line: number; raw: string }>).map((r) => [r.line, r.raw]));
    const want = byLine(new Database(sdb, { readonly: true }));
    const outbox = new Outbox(store);
    const b = outbox.batch('events', 100_000);
    expect(await outbox.withEvidence(b)).toBe(0);
    const line = b.columns.indexOf('line');
    const raw = b.columns.indexOf('raw');
    expect(b.rows.length).toBe(want.size);
    for (const r of b.rows) expect(r[raw]).toBe(want.get(Number(r[line])));
  });
});

/** Every evidence line in an investigation's JSON. */
function collectLines(x: unknown): Array<{ where: string; text: string | null; unreadable?: string }> {
  const out: Array<{ where: string; text: string | null; unreadable?: string }> = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if ('where' in o && 'text' in o && 'ts' in o) out.push(o as unknown as { where: string; text: string | null });
      else Object.values(o).forEach(walk);
    }
  };
  walk(x);
  return out;
}
