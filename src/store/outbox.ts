/**
 * The local database as the outbox of `ship`: which rows the central store has acknowledged
 * (ship_state, migration 6), which rows changed since (the ship_log_* tables), and the server
 * name every shipped row carries. All SQLite SQL of shipping is here.
 *
 * Append-only tables (events, alerts) ship by local id: rows above the high-water mark. Tables
 * whose rows are updated in place (flows and aggregates add counts, leases stretch, interface
 * totals grow) ship by change: triggers log each insert or update with its key and what it
 * added, the batch ships the row as it is now with the newest change number as its version
 * (ReplacingMergeTree keeps the newest), plus the sum of what the changes added (for the
 * per-minute roll-ups). Shipping only closed minutes would miss a late file read into an old
 * minute; a change log misses nothing.
 */
import type Database from 'better-sqlite3';
import { UserError } from '../errors.js';
import type { Store } from './index.js';
import { EvidenceReader, type ContentIdentity, type EvidenceRef } from './evidence.js';

/** Per shipped table with lines stored by reference (migration 12): the text column and its reference's columns. */
const BY_REFERENCE: Partial<Record<string, { text: string; file: string; off: string; len: string; check: string }>> = {
  events: { text: 'raw', file: 'file_id', off: 'raw_off', len: 'raw_len', check: 'raw_check' },
  event_agg: { text: 'sample_raw', file: 'sample_file_id', off: 'sample_off', len: 'sample_len', check: 'sample_check' },
};

export type OutboxTable = 'events' | 'alerts' | 'flows' | 'event_agg' | 'vpn_leases' | 'iface_totals'
  | 'files' | 'file_stats' | 'unparsed' | 'losses' | 'conntrack_open';

/** A table whose rows change in place: its key and the counters whose increase the log keeps. */
interface Tracked { table: OutboxTable; key: string[]; adds: Array<{ log: string; column: string }> }

const TRACKED: readonly Tracked[] = [
  {
    table: 'flows', key: ['source', 'minute', 'iface', 'proto', 'lip', 'lport', 'rip', 'rport'],
    adds: [{ log: 'add_bytes_in', column: 'bytes_in' }, { log: 'add_bytes_out', column: 'bytes_out' }, { log: 'add_packets_in', column: 'packets_in' }, { log: 'add_packets_out', column: 'packets_out' }],
  },
  { table: 'event_agg', key: ['minute', 'source', 'kind', 'rip', 'lport', 'detail'], adds: [{ log: 'add_count', column: 'count' }, { log: 'add_bytes', column: 'bytes' }] },
  { table: 'vpn_leases', key: ['account', 'real_ip', 'real_port', 'vip', 'first_ts'], adds: [] },
  { table: 'iface_totals', key: ['iface', 'granularity', 'start'], adds: [] },
  // What the reading commands need besides (central step 3): file paths and line counts grow
  // in place as files are read; losses add up; a listing's entry may be stored again.
  { table: 'files', key: ['id'], adds: [] },
  { table: 'file_stats', key: ['file_id', 'source'], adds: [] },
  { table: 'losses', key: ['path', 'reason'], adds: [] },
  { table: 'conntrack_open', key: ['listing_ts', 'proto', 'lip', 'lport', 'rip', 'rport'], adds: [] },
];

/** Tracked tables whose change log migration 6 created; the others' logs are created by the first `ship` that tracks them. */
const LOGGED_BY_MIGRATION: readonly OutboxTable[] = ['flows', 'event_agg', 'vpn_leases', 'iface_totals'];

const APPENDED: readonly OutboxTable[] = ['events', 'alerts', 'unparsed'];

/**
 * Every table that ships, in the order a run sends them: files first, so that a reader never
 * sees an event whose file's path has not arrived yet.
 */
export const OUTBOX_TABLES: readonly OutboxTable[] = ['files', 'events', 'event_agg', 'flows', 'vpn_leases', 'iface_totals', 'conntrack_open',
  'file_stats', 'unparsed', 'losses', 'alerts'];

export type LocalValue = string | number | null;
export type LocalRow = Record<string, LocalValue>;

export interface OutboxBatch {
  table: OutboxTable;
  /** The name of each value in a row: the local table's columns, with `ver` (change number) and the add_* sums on tracked tables. */
  columns: string[];
  /**
   * Rows as they are now, as arrays in the order of `columns`: better-sqlite3 builds an array
   * faster than an object with named properties, and the sender never needs the names per row.
   */
  rows: LocalValue[][];
  /** The mark this batch starts after. */
  after: number;
  /** The high-water mark to record once ClickHouse has acknowledged `rows`. */
  highWater: number;
  /** Entries read (log entries, or rows): 0 when nothing is pending. */
  read: number;
  /** Whether entries may remain: the row limit or the size budget ended the batch, not the table. */
  more: boolean;
}

/**
 * About 4 MB of values per insert: some 7,000 event rows with their raw lines, 30,000 flow rows,
 * thousands of rows per insert as ClickHouse advises. Two batches are alive at once (one in
 * flight, the next read). With rows as objects and JSON, 4 MB took the sender's peak RSS to
 * 275-316 MB, so batches were 2 MB (203-218 MB); with rows as arrays sent as TabSeparated, 4 MB
 * peaks at 212-239 MB, and ClickHouse spends about a third less CPU on the same rows (fewer,
 * larger parts and roll-up inserts).
 */
export const DEFAULT_BATCH_BYTES = 4 << 20;

/** A batch's rows as objects by column name (for tests and tools; the sender reads the arrays). */
export function rowObjects(b: OutboxBatch): LocalRow[] {
  return b.rows.map((r) => Object.fromEntries(b.columns.map((c, j) => [c, r[j]])));
}

/**
 * The column with the length of a line stored by reference, which counts towards a batch's size
 * as the text it is read back into before sending (-1: none).
 */
function refLenAt(table: string, columns: string[]): number {
  const spec = BY_REFERENCE[table];
  return spec ? columns.indexOf(spec.len) : -1;
}

/** Rows from `it` until `maxBytes` of values (strings by length, numbers as 8, a line by reference by its length); `cut` when the budget ended it. */
function takeUpTo(it: IterableIterator<LocalValue[]>, maxBytes: number, textLen = -1): { rows: LocalValue[][]; cut: boolean } {
  const rows: LocalValue[][] = [];
  let bytes = 0;
  for (const r of it) {
    rows.push(r);
    for (const v of r) bytes += typeof v === 'string' ? v.length : 8;
    if (textLen >= 0) bytes += Number(r[textLen] ?? 0);
    if (bytes >= maxBytes) {
      it.return?.();
      return { rows, cut: true };
    }
  }
  return { rows, cut: false };
}

/** takeUpTo, giving the event loop back every YIELD_ROWS rows. */
async function takeUpToYielding(it: IterableIterator<LocalValue[]>, maxBytes: number, textLen = -1): Promise<{ rows: LocalValue[][]; cut: boolean }> {
  const rows: LocalValue[][] = [];
  let bytes = 0;
  for (;;) {
    const r = it.next();
    if (r.done) return { rows, cut: false };
    rows.push(r.value);
    for (const v of r.value) bytes += typeof v === 'string' ? v.length : 8;
    if (textLen >= 0) bytes += Number(r.value[textLen] ?? 0);
    if (bytes >= maxBytes) {
      it.return?.();
      return { rows, cut: true };
    }
    if (rows.length % YIELD_ROWS === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

const YIELD_ROWS = 500;

/**
 * A key's values as one string that no other key shares (strings length-prefixed: a name may
 * hold any character), for maps of rows by key; several times cheaper than JSON.stringify.
 */
export function keyText(values: ReadonlyArray<string | number | null>): string {
  let k = '';
  for (const v of values) k += typeof v === 'string' ? `s${v.length}:${v}` : v === null ? 'z;' : `n${v};`;
  return k;
}

const META_SERVER = 'ship.server';
const META_TARGET = 'ship.target';
const META_TRACKING = 'ship.tracking_since';
/** `ship.in_flight.<table>`: `after:highWater` of the batch sent and not yet acknowledged. */
const META_IN_FLIGHT = 'ship.in_flight.';

export class Outbox {
  private readonly db: Store['db'];
  private readonly stmts = new Map<string, Database.Statement>();

  constructor(private readonly store: Store) {
    this.db = store.db;
  }

  /**
   * The central tables receive the text of every line, as before migration 12 (the fleet has no
   * files): lines stored by reference are read back from their files here, per file in offset
   * order, into the batch's text column. The files rows are looked up before the first await,
   * so that the next batch's read may use the connection meanwhile. A line that can no longer
   * be read is sent as NULL text; returns how many were.
   */
  async withEvidence(b: OutboxBatch): Promise<number> {
    const spec = BY_REFERENCE[b.table];
    if (!spec || !b.rows.length) return 0;
    const [ti, fi, oi, li, ci] = [spec.text, spec.file, spec.off, spec.len, spec.check].map((c) => b.columns.indexOf(c));
    if (ti < 0 || oi < 0) return 0;
    const want: LocalValue[][] = [];
    const refs: EvidenceRef[] = [];
    const ids = new Map<number, ContentIdentity | null>();
    for (const r of b.rows) {
      if (r[ti] !== null || r[oi] === null || r[fi] === null) continue;
      const fileId = Number(r[fi]);
      if (!ids.has(fileId)) {
        const f = this.store.fileById(fileId);
        ids.set(fileId, f ? { path: f.path, fpHash: f.fpHash, fpLen: f.fpLen } : null);
      }
      want.push(r);
      refs.push({ fileId, off: Number(r[oi]), len: Number(r[li]), check: Number(r[ci]) });
    }
    if (!refs.length) return 0;
    const got = await new EvidenceReader((id) => ids.get(id) ?? null).read(refs);
    let unreadable = 0;
    for (let i = 0; i < want.length; i++) {
      const t = got[i].text;
      if (t === null) unreadable++;
      want[i][ti] = t;
    }
    return unreadable;
  }

  /**
   * The name every shipped row carries: the one recorded on first use, which `requested` may
   * set then but not change later (the central rows of this host would split in two).
   */
  serverName(requested: string | undefined, fallback: string): string {
    const recorded = this.meta(META_SERVER);
    if (recorded !== null) {
      if (requested !== undefined && requested !== recorded) {
        throw new UserError(`this database ships as server ${JSON.stringify(recorded)}, not ${JSON.stringify(requested)}`, {
          hint: 'the name is recorded on first use so that central rows stay together; drop --server or use a new database',
        });
      }
      return recorded;
    }
    const name = requested ?? fallback;
    if (!name) throw new UserError('no server name', { hint: 'pass --server NAME' });
    this.setMeta(META_SERVER, name);
    return name;
  }

  /** The name recorded on first use, or null when this database never shipped: the server a SQLite read store answers for. */
  recordedServer(): string | null {
    return this.meta(META_SERVER);
  }

  /** The central store this database ships to: recorded on first use, fixed after (the high-water marks belong to it). */
  claimTarget(display: string): void {
    const recorded = this.meta(META_TARGET);
    if (recorded !== null && recorded !== display) {
      throw new UserError(`this database ships to ${recorded}, not ${display}`, {
        hint: 'its high-water marks belong to that store; ship a copy of the database to another one',
      });
    }
    if (recorded === null) this.setMeta(META_TARGET, display);
  }

  /**
   * Starts change tracking of each tracked table once: its triggers, and the rows already there
   * logged as one change each, in one transaction so that no update falls between the two. A
   * table is tracked from the first `ship` that knows it: a database that shipped before the
   * files, losses and conntrack tables shipped starts tracking them now.
   */
  track(now: number): void {
    this.db.transaction(() => {
      for (const t of TRACKED) {
        if (this.sql("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?").get(`ship_${t.table}_insert`) !== undefined) continue;
        const keys = t.key.join(', ');
        const logCols = [...t.key, ...t.adds.map((a) => a.log)].join(', ');
        const newKey = t.key.map((k) => `NEW.${k}`);
        // AUTOINCREMENT, as migration 6's logs: a change number is never reused once the log was emptied.
        const log = LOGGED_BY_MIGRATION.includes(t.table) ? ''
          : `CREATE TABLE IF NOT EXISTS ship_log_${t.table} (seq INTEGER PRIMARY KEY AUTOINCREMENT, ${logCols});`;
        this.db.exec(`${log}
CREATE TRIGGER IF NOT EXISTS ship_${t.table}_insert AFTER INSERT ON ${t.table} BEGIN
  INSERT INTO ship_log_${t.table} (${logCols}) VALUES (${[...newKey, ...t.adds.map((a) => `NEW.${a.column}`)].join(', ')});
END;
CREATE TRIGGER IF NOT EXISTS ship_${t.table}_update AFTER UPDATE ON ${t.table} BEGIN
  INSERT INTO ship_log_${t.table} (${logCols}) VALUES (${[...newKey, ...t.adds.map((a) => `NEW.${a.column} - OLD.${a.column}`)].join(', ')});
END;
INSERT INTO ship_log_${t.table} (${logCols}) SELECT ${[keys, ...t.adds.map((a) => a.column)].join(', ')} FROM ${t.table};`);
      }
      if (this.meta(META_TRACKING) === null) this.setMeta(META_TRACKING, String(now));
    }).immediate();
  }

  highWater(table: OutboxTable): number {
    const r = this.sql('SELECT high_water AS h FROM ship_state WHERE tbl = ?').get(table) as { h: number } | undefined;
    return r?.h ?? 0;
  }

  /**
   * Entries after the high-water mark (or after `after`: the end of a batch still in flight):
   * up to `limit`, and no more than about `maxBytes` of values (at least one), so that a table
   * of long raw lines makes smaller batches rather than a large heap. With `upTo`, exactly the
   * entries in (after, upTo]: a batch sent before, sent again.
   */
  batch(table: OutboxTable, limit: number, maxBytes = DEFAULT_BATCH_BYTES, after = this.highWater(table), upTo?: number): OutboxBatch {
    const q = this.query(table, limit, after, upTo);
    const { rows, cut } = takeUpTo(q.it, upTo === undefined ? maxBytes : Infinity, q.textLen);
    return q.finish(rows, cut);
  }

  /**
   * The next batch, read while the previous one travels: the read gives the event loop back every
   * few hundred rows, so that the previous batch's request goes on being compressed and sent
   * meanwhile (a synchronous read of 20,000 rows held it still for a third of the run). Nothing
   * else may use this database until it resolves.
   */
  async batchAsync(table: OutboxTable, limit: number, maxBytes = DEFAULT_BATCH_BYTES, after = this.highWater(table)): Promise<OutboxBatch> {
    const q = this.query(table, limit, after, undefined);
    const { rows, cut } = await takeUpToYielding(q.it, maxBytes, q.textLen);
    return q.finish(rows, cut);
  }

  /** The statement of a batch and how its rows become one. */
  private query(table: OutboxTable, limit: number, after: number, upTo: number | undefined): { it: IterableIterator<LocalValue[]>; finish: (rows: LocalValue[][], cut: boolean) => OutboxBatch; textLen: number } {
    const extent = upTo === undefined ? 'LIMIT ?' : '';
    const args = upTo === undefined ? [after, limit] : [after, upTo];
    const more = (n: number, cut: boolean) => upTo !== undefined || cut || n === limit;
    if (APPENDED.includes(table)) {
      const range = upTo === undefined ? 'id > ?' : 'id > ? AND id <= ?';
      const st = this.sql(`SELECT * FROM ${table} WHERE ${range} ORDER BY id ${extent}`);
      const columns = st.columns().map((c) => c.name);
      const id = columns.indexOf('id');
      const rows = st.raw(true).iterate(...args) as IterableIterator<LocalValue[]>;
      return {
        it: table === 'events' ? this.attrsAsJson(rows, columns.indexOf('attrs')) : rows, textLen: refLenAt(table, columns),
        finish: (rows, cut) => ({ table, columns, rows, after, highWater: rows.length ? Math.max(Number(rows.at(-1)![id]), upTo ?? 0) : (upTo ?? after), read: rows.length, more: more(rows.length, cut) }),
      };
    }
    const t = TRACKED.find((x) => x.table === table)!;
    const on = t.key.map((k) => `r.${k} = l.${k}`).join(' AND ');
    const range = upTo === undefined ? 'l.seq > ?' : 'l.seq > ? AND l.seq <= ?';
    // The row as it is now (NULL columns when it was pruned locally since: skipped). The change
    // number comes first and, once a key's newest change is in it, is the row's version (`ver`).
    const st = this.sql(`SELECT l.seq AS ver, ${t.adds.map((a) => `l.${a.log} AS ${a.log}, `).join('')}r.*
      FROM ship_log_${table} l LEFT JOIN ${table} r ON ${on} WHERE ${range} ORDER BY l.seq ${extent}`);
    const columns = st.columns().map((c) => c.name);
    const keyAt = t.key.map((k) => columns.lastIndexOf(k));
    const addAt = t.adds.map((a) => columns.indexOf(a.log));
    const finish = (entries: LocalValue[][], cut: boolean): OutboxBatch => {
      // One row per key: the newest change number is its version, and the adds are summed.
      const byKey = new Map<string, LocalValue[]>();
      for (const e of entries) {
        if (e[keyAt[0]] === null) continue;
        const k = keyText(keyAt.map((j) => e[j]));
        const seen = byKey.get(k);
        if (!seen) byKey.set(k, e);
        else {
          seen[0] = e[0];
          for (const j of addAt) seen[j] = Number(seen[j]) + Number(e[j]);
        }
      }
      const last = entries.length ? Number(entries.at(-1)![0]) : after;
      return { table, columns, rows: [...byKey.values()], after, highWater: Math.max(last, upTo ?? 0), read: entries.length, more: more(entries.length, cut) };
    };
    return { it: st.raw(true).iterate(...args) as IterableIterator<LocalValue[]>, finish, textLen: refLenAt(table, columns) };
  }

  /**
   * Event rows with their attrs as the JSON object text they held before migration 13: the
   * central store keeps and reads that (src/store/clickhouse/read.ts), whatever the local encoding.
   */
  private attrsAsJson(rows: IterableIterator<LocalValue[]>, at: number): IterableIterator<LocalValue[]> {
    const store = this.store;
    const it: IterableIterator<LocalValue[]> = {
      next: () => {
        const r = rows.next();
        if (!r.done) r.value[at] = store.attrsJson(r.value[at] as string | null);
        return r;
      },
      return: (value?: unknown) => { rows.return?.(); return { done: true, value: value as LocalValue[] }; },
      [Symbol.iterator]: () => it,
    };
    return it;
  }

  /**
   * For a one-shot `ship`: each row is read once, in order, so SQLite's 64 MB page cache only adds
   * to the sender's peak memory; 8 MB holds the indexes' upper pages. Returns what puts it back.
   */
  readOnce(): () => void {
    const cache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma('cache_size = -8192');
    return () => { if (this.db.open) this.db.pragma(`cache_size = ${Math.trunc(cache)}`); };
  }

  /**
   * Records a batch's extent before it is sent: if the run dies before the acknowledgement, the
   * next run sends exactly these entries again first (`inFlight`), so that what the batch adds to
   * the roll-ups is the same rows, which the central store merges away.
   */
  sending(b: OutboxBatch): void {
    this.setMeta(META_IN_FLIGHT + b.table, `${b.after}:${b.highWater}`);
  }

  /** The batch that was sent and not acknowledged, read again with the same extent, or null. */
  inFlight(table: OutboxTable): OutboxBatch | null {
    const m = /^(\d+):(\d+)$/.exec(this.meta(META_IN_FLIGHT + table) ?? '');
    if (!m || Number(m[1]) !== this.highWater(table)) return null;
    return this.batch(table, Infinity, Infinity, Number(m[1]), Number(m[2]));
  }

  /** ClickHouse has the batch: advance the mark and forget the changes it carried. */
  ack(b: OutboxBatch, now: number): void {
    this.db.transaction(() => {
      this.sql(`INSERT INTO ship_state (tbl, high_water, rows, updated_at) VALUES (?, ?, ?, ?)
        ON CONFLICT (tbl) DO UPDATE SET high_water = excluded.high_water, rows = rows + excluded.rows, updated_at = excluded.updated_at`)
        .run(b.table, b.highWater, b.rows.length, now);
      if (!APPENDED.includes(b.table)) this.sql(`DELETE FROM ship_log_${b.table} WHERE seq <= ?`).run(b.highWater);
      this.sql('DELETE FROM meta WHERE key = ?').run(META_IN_FLIGHT + b.table);
    }).immediate();
  }

  /** Entries not yet acknowledged, per table. */
  pending(): Record<OutboxTable, number> {
    const out = {} as Record<OutboxTable, number>;
    for (const table of OUTBOX_TABLES) {
      const after = this.highWater(table);
      // A table not tracked yet (its log is created by the first ship that knows it): every row is pending.
      const untracked = !APPENDED.includes(table) && !this.store.hasTable(`ship_log_${table}`);
      const sql = APPENDED.includes(table) ? `SELECT count(*) AS n FROM ${table} WHERE id > ?`
        : untracked ? `SELECT count(*) AS n FROM ${table} WHERE ? IS NOT NULL` : `SELECT count(*) AS n FROM ship_log_${table} WHERE seq > ?`;
      out[table] = (this.sql(sql).get(after) as { n: number }).n;
    }
    return out;
  }

  /**
   * Local ids below the mark: after retention emptied a table, SQLite starts ids again at 1
   * and new rows would hide under the mark. Checked before each run.
   */
  idsWentBack(table: OutboxTable): boolean {
    if (!APPENDED.includes(table)) return false;
    const after = this.highWater(table);
    const r = this.sql(`SELECT max(id) AS m FROM ${table}`).get() as { m: number | null };
    return r.m !== null && r.m < after;
  }

  /** A statement, prepared on first use (each batch runs the same few). */
  private sql(text: string): Database.Statement {
    let st = this.stmts.get(text);
    if (!st) { st = this.db.prepare(text); this.stmts.set(text, st); }
    return st;
  }

  private meta(key: string): string | null {
    const r = this.sql('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return r?.value ?? null;
  }

  private setMeta(key: string, value: string): void {
    this.sql('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }
}
