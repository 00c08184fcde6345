/**
 * Event attributes stored as a shape id and a value list (migration 13): every fixture's events
 * read back as they did when attrs was a JSON object, rows written before the migration included;
 * `ship` sends the JSON object text as before; two writers of one database share shape ids.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { LogEvent, Source } from '../../src/events.js';
import { LinePipeline } from '../../src/ingest/lines.js';
import { nextHint, parseAny } from '../../src/parsers/index.js';
import { aggregateDetail } from '../../src/sources/index.js';
import { decodeAttrs, splitAttrs, storedAttrs } from '../../src/store/attrs.js';
import { forTransfer, openStore, type StoredEvent } from '../../src/store/index.js';
import { Outbox, rowObjects } from '../../src/store/outbox.js';
import { MIGRATIONS } from '../../src/store/schema.js';
import { tempDir } from '../helpers/cli.js';
import { ctxFor, goldenCases } from '../helpers/golden.js';

const tmp = tempDir();
afterAll(() => tmp.cleanup());

interface Fixture { name: string; text: string; ctx: ReturnType<typeof ctxFor>; events: Array<{ ev: LogEvent; line: number; raw: string }> }

/** Every golden fixture with the events its lines give that are stored as rows (not aggregated), by line. */
function fixtures(): Fixture[] {
  return goldenCases().map((c) => {
    const text = readFileSync(c.logPath, 'utf8');
    const ctx = ctxFor(c.dir);
    const events: Fixture['events'] = [];
    let hint: Source | null = null;
    text.split('\n').forEach((raw, i) => {
      const d = parseAny(raw.replace(/\r$/, ''), ctx, hint);
      hint = nextHint(d, hint);
      if (d.result.type === 'event' && aggregateDetail(d.result.event) === null) events.push({ ev: d.result.event, line: i + 1, raw });
    });
    return { name: `${c.source}/${c.name}`, text, ctx, events };
  });
}

/** What a reader saw when attrs was stored as JSON.stringify(attrs) (round3-base). */
const asBefore = (attrs: LogEvent['attrs']) => (attrs ? JSON.parse(JSON.stringify(attrs)) as LogEvent['attrs'] : null);

/**
 * A database as round3-base left it (migrations up to 11), with every fixture's events inserted
 * the way round3-base's commitBatch wrote them, in files named `old:<fixture>`.
 */
function oldDatabase(path: string, all: Fixture[]): void {
  const d = new Database(path);
  try {
    d.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    for (const m of MIGRATIONS.filter((x) => x.version <= 11)) {
      d.exec(m.sql);
      d.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, 0);
      d.pragma(`user_version = ${m.version}`);
    }
    const file = d.prepare(`INSERT INTO files (path, fp_hash, fp_len, kind, first_read, last_read) VALUES (?, ?, 1, 'log', 0, 0)`);
    const insert = d.prepare(`INSERT INTO events (ts, source, host, program, kind, account, rip, rport, lip, lport, session, bytes_in, bytes_out, file_id, line, attrs, raw)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    for (const f of all) {
      const id = Number(file.run(`old:${f.name}`, `old:${f.name}`).lastInsertRowid);
      for (const { ev, line, raw } of f.events) {
        insert.run(ev.ts, ev.source, ev.host, ev.program, ev.kind, ev.account, ev.rip, ev.rport, ev.lip, ev.lport, ev.session,
          ev.bytesIn, ev.bytesOut, id, line, ev.attrs ? JSON.stringify(ev.attrs) : null, raw);
      }
    }
  } finally {
    d.close();
  }
}

describe('attributes as a shape id and a value list (migration 13)', () => {
  const all = fixtures();
  const path = join(tmp.dir, 'upgraded.db');
  oldDatabase(path, all);
  const store = openStore({ path });
  afterAll(() => store.close());
  // The same fixtures again after the upgrade: packed and sent as the parse worker sends them
  // (`new:`), and as objects (`inline:`, as the investigate benchmark writes).
  for (const f of all) {
    const packed = store.createFile({ path: `new:${f.name}`, dev: null, ino: null, fpHash: `new:${f.name}`, fpLen: 1, kind: 'log', size: null, mtime: null });
    const pipe = new LinePipeline(f.ctx, 0, { fileId: packed.id });
    pipe.push(Buffer.from(f.text));
    const b = pipe.take();
    store.commitBatch({
      fileId: packed.id, expectOffset: 0, newOffset: b.bytes, newLines: b.lines, tailHash: null, events: [], aggs: [],
      eventsPacked: structuredClone(b.eventsPacked.map(forTransfer)), stats: [], unparsed: [],
    });
    const inline = store.createFile({ path: `inline:${f.name}`, dev: null, ino: null, fpHash: `inline:${f.name}`, fpLen: 1, kind: 'log', size: null, mtime: null });
    store.commitBatch({ fileId: inline.id, expectOffset: 0, newOffset: 1, newLines: 1, tailHash: null, events: f.events, aggs: [], stats: [], unparsed: [] });
  }
  const byName = new Map(all.map((f) => [f.name, new Map(f.events.map((e) => [e.line, e.ev]))]));
  const expected = (path: string | null, line: number | null) => byName.get(path!.slice(path!.indexOf(':') + 1))!.get(line!);

  it('reads every fixture event back as before, from rows written before the upgrade and after', () => {
    const read = store.eventsInRange(-1e15, 1e15);
    const count = all.reduce((n, f) => n + f.events.length, 0);
    expect(count).toBeGreaterThan(300);
    expect(read.length).toBe(3 * count);
    // The fixtures hold null-valued keys, and they must come back.
    expect(read.some((e) => e.attrs && Object.values(e.attrs).includes(null))).toBe(true);
    const strip = ({ id: _i, fileId: _f, path: _p, ...rest }: StoredEvent) => rest;
    const seen = { old: 0, new: 0, inline: 0 };
    for (const e of read) {
      const ev = expected(e.path, e.line);
      expect(ev, `${e.path}:${e.line}`).toBeDefined();
      seen[e.path!.slice(0, e.path!.indexOf(':')) as keyof typeof seen]++;
      // Exactly the object, key order included.
      expect(JSON.stringify(e.attrs), `${e.path}:${e.line}`).toBe(JSON.stringify(asBefore(ev!.attrs)));
      expect(strip(e)).toEqual({ ...asBefore({ ...ev! } as never) as object, attrs: asBefore(ev!.attrs), line: e.line, raw: e.raw });
    }
    expect(seen).toEqual({ old: count, new: count, inline: count });
    // Old rows kept their JSON object; new ones hold [shape id, values].
    const texts = store.db.prepare("SELECT f.path, e.attrs FROM events e JOIN files f ON f.id = e.file_id WHERE e.attrs IS NOT NULL").raw().all() as Array<[string, string]>;
    for (const [p, t] of texts) expect(t, p).toMatch(p.startsWith('old:') ? /^\{/ : /^\[\d+[,\]]/);
  });

  it('ships the JSON object text round3-base shipped, for old and new rows', () => {
    const b = new Outbox(store).batch('events', 1_000_000, Infinity);
    const paths = new Map((store.db.prepare('SELECT id, path FROM files').raw().all() as Array<[number, string]>));
    const rows = rowObjects(b);
    expect(rows.length).toBe(3 * all.reduce((n, f) => n + f.events.length, 0));
    for (const r of rows) {
      const ev = expected(paths.get(r.file_id as number)!, r.line as number)!;
      expect(r.attrs).toBe(ev.attrs ? JSON.stringify(ev.attrs) : null);
    }
  });
});

describe('shape ids', () => {
  const ev = (ts: number, attrs: LogEvent['attrs']): { ev: LogEvent; line: number; raw: string } => ({
    ev: { ts, source: 'dovecot', host: 'mx1', program: 'dovecot', kind: 'login', account: 'a@example.com', rip: '203.0.113.5', rport: null, lip: null, lport: null, session: null, bytesIn: null, bytesOut: null, attrs },
    line: ts, raw: `line ${ts}`,
  });

  it('are unique in the database when two writers add shapes, and survive a rolled-back batch', () => {
    const path = join(tmp.dir, 'two-writers.db');
    const a = openStore({ path });
    const b = openStore({ path });
    try {
      const file = (s: typeof a, name: string) => s.createFile({ path: name, dev: null, ino: null, fpHash: name, fpLen: 1, kind: 'log', size: null, mtime: null }).id;
      const fa = file(a, 'a.log');
      const fb = file(b, 'b.log');
      let offA = 0;
      let offB = 0;
      const write = (s: typeof a, fileId: number, events: ReturnType<typeof ev>[]) => {
        const at = s === a ? offA : offB;
        const ok = s.commitBatch({ fileId, expectOffset: at, newOffset: at + 1, newLines: 0, tailHash: null, events, aggs: [], stats: [], unparsed: [] });
        expect(ok).toBe(true);
        if (s === a) offA++; else offB++;
      };
      write(a, fa, [ev(1, { service: 'imap', tls: true }), ev(2, { x: null })]);
      write(b, fb, [ev(3, { service: 'imap', tls: true }), ev(4, { method: 'PLAIN' })]);
      // A batch that fails (ts NULL breaks NOT NULL) after adding a new shape: rolled back with it.
      expect(() => a.commitBatch({ fileId: fa, expectOffset: offA, newOffset: offA + 1, newLines: 0, tailHash: null,
        events: [ev(5, { only: 'a' }), { ...ev(6, null), ev: { ...ev(6, null).ev, ts: null as unknown as number } }], aggs: [], stats: [], unparsed: [] })).toThrow();
      // The other writer takes the id the rolled-back shape had; the first must not reuse it.
      write(b, fb, [ev(7, { other: 'b' })]);
      write(a, fa, [ev(8, { only: 'a' }), ev(9, {})]);
      write(b, fb, [ev(10, { x: null }), ev(11, {})]);
      const shapes = a.db.prepare('SELECT id, keys FROM attr_shapes ORDER BY id').raw().all() as Array<[number, string]>;
      expect(new Set(shapes.map((s) => s[1])).size).toBe(shapes.length);
      expect(shapes.map((s) => s[1]).sort()).toEqual(['["method"]', '["only"]', '["other"]', '["service","tls"]', '["x"]', '[]'].sort());
      const want: Record<number, LogEvent['attrs']> = {
        1: { service: 'imap', tls: true }, 2: { x: null }, 3: { service: 'imap', tls: true }, 4: { method: 'PLAIN' },
        7: { other: 'b' }, 8: { only: 'a' }, 9: {}, 10: { x: null }, 11: {},
      };
      for (const reader of [a, b, openStore({ path, readonly: true })]) {
        const got = reader.eventsInRange(0, 100);
        expect(Object.fromEntries(got.map((e) => [e.ts, e.attrs]))).toEqual(want);
      }
    } finally {
      a.close();
      b.close();
    }
  });

  it('split and decode: keys with undefined values are left out, as JSON.stringify leaves them', () => {
    const a = { b: 1, u: undefined as unknown as null, n: null, s: 'x"\u2028', f: false, ['1']: 2.5 };
    const [shape, values] = splitAttrs(a);
    expect(shape).toBe('["1","b","n","s","f"]');
    const text = storedAttrs(7, values);
    const back = decodeAttrs(text, (id) => (id === 7 ? JSON.parse(shape) as string[] : []));
    expect(JSON.stringify(back)).toBe(JSON.stringify(a));
    expect(storedAttrs(3, splitAttrs({})[1])).toBe('[3]');
    expect(decodeAttrs('[3]', () => [])).toEqual({});
    expect(decodeAttrs('{"a":null}', () => { throw new Error('no shape for old rows'); })).toEqual({ a: null });
  });
});
