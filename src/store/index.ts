/**
 * The store: every SQL statement bytetrail runs lives in this module. Parsers and commands
 * talk to the `Store` interface only, so that another backend (ClickHouse for busy fleets)
 * can stand behind the same methods.
 */
import Database from 'better-sqlite3';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { BytetrailError, StoreError } from '../errors.js';
import type { LogEvent } from '../events.js';
import { FLOW_VALUES, type FlowRecord, type PackedFlows, packFlows } from '../flows/types.js';
import { warn } from '../output.js';
import { createDbFile, damagedError, isCorruption, newerError, noteOpened, refuseUnsafeLink, tightenMode } from './safety.js';
import { MIGRATIONS } from './schema.js';
import { EvidenceReader, type EvidenceRef, type ReadBack } from './evidence.js';
import { decodeAttrs, splitAttrs, type Attrs } from './attrs.js';
import { servicesOfGroup } from '../flows/services.js';
import { LONG_SESSION_SOURCES } from '../sources/index.js';
import type { CounterKind } from '../sources/counters.js';
import { IDENTITY_KINDS } from '../sources/types.js';

/** What a file holds: a log, a capture, a conntrack listing, a vnstat export, or a counter source's kind (src/sources/counters.ts: `openvpn-status`, `wireguard`, ...). */
export type FileKind = 'log' | 'pcap' | 'conntrack' | 'vnstat' | CounterKind;

export interface FileRecord {
  id: number; path: string; dev: number | null; ino: number | null;
  fpHash: string; fpLen: number; kind: FileKind;
  offset: number; tailHash: string | null; lines: number;
  size: number | null; mtime: number | null;
}

export interface StoredEventInput { ev: LogEvent; line: number; raw: string }

/** One column value of a packed row, as read back for binding. */
export type RowValue = string | number | null;

/**
 * Flat rows packed for passing between threads: the strings joined into one, their lengths
 * (-1 for null) and the numbers (with a null mask) in typed arrays. Copying one string and a
 * few arrays costs a fraction of cloning millions of separate values, and commitBatch binds
 * the values a statement at a time straight from the packed form: they die young instead of
 * filling the heap of the thread that writes.
 */
export interface PackedRows {
  /** Column types, `n` (number or null) or `s` (string or null), one letter per column. */
  types: string;
  rows: number;
  /** The strings joined, or null when they travel as `utf8` (see forTransfer). */
  text: string | null;
  /** The strings joined and encoded, with `lens` in bytes (see forTransfer). */
  utf8: Uint8Array | null;
  lens: Int32Array;
  nums: Float64Array;
  numNull: Uint8Array;
  /** Event rows: the attributes' shapes (splitAttrs) their shape column indexes. */
  shapes?: string[];
}

const UTF8 = new TextEncoder();
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Packed rows with their strings as UTF-8 bytes, to transfer to the thread that writes rather
 * than copy. Received as strings, the batches' text lands in the writer's large-object space
 * and stays there until a full collection: 70-140 MB of that thread's peak heap on the
 * benchmark, against about 25 MB this way. Bytes are freed as soon as their small wrapper
 * dies, and every value is cut out of them as a short-lived string. Rows with a lone surrogate
 * (a raw line cut inside an emoji) stay text: SQLite stores such a string bound as it is
 * differently from its UTF-8 encoding, and what is stored must not depend on the thread.
 */
export function forTransfer(p: PackedRows): PackedRows {
  const text = p.text;
  if (text === null) return p;
  const utf8 = UTF8.encode(text);
  if (utf8.length === text.length) return { ...p, text: null, utf8 };
  // Not all ASCII: lengths in characters become lengths in bytes.
  const lens = p.lens.slice();
  let pos = 0;
  for (let i = 0; i < lens.length; i++) {
    const n = lens[i];
    if (n < 0) continue;
    const v = text.slice(pos, pos + n);
    if (LONE_SURROGATE.test(v)) return p;
    lens[i] = Buffer.byteLength(v);
    pos += n;
  }
  return { ...p, text: null, utf8, lens };
}

/**
/**
 * Column types of an event row as packed, in this order: ts, source, host, program, kind, account,
 * rip, rport, lip, lport, session, bytes_in, bytes_out, file_id, line, the attributes' shape (its
 * index in the rows' `shapes`) and values (splitAttrs; both null when none), raw, raw_off,
 * raw_len, raw_check (the line by reference, migration 12: raw is then null). The writer binds
 * the shape's id in place of the index, and SQLite joins id and values into the attrs column
 * (EVENT_ROW): shape texts are looked up once per packed segment, and no string is built per
 * row in the writing thread (joining them in JS and binding the result cost it 10-15%).
 */
export const EVENT_TYPES = 'nssssssnsnsnnnnnssnnn';
/** Where the attributes' shape is in a packed event row; its values follow, then raw and its reference. */
const EVENT_SHAPE_AT = 15;
/**
 * One row's values in INSERT_EVENT: attrs is `[` || shape id || values (NULL when they are: see
 * storedAttrs), then raw, raw_off, raw_len, raw_check. The id is cast: better-sqlite3 binds every
 * JS number as a REAL, which would read `1.0`.
 */
const EVENT_ROW = `(${new Array(EVENT_SHAPE_AT).fill('?').join(', ')}, '[' || CAST(? AS INTEGER) || ?, ?, ?, ?, ?)`;
/**
 * Column types of an aggregate row, in this order: minute, source, kind, rip, lport, detail,
 * count, bytes, first_ts, last_ts, lip, sample_file_id, sample_line, sample_raw, sample_off, sample_len,
 * sample_check (by reference, as for events).
 */
export const AGG_TYPES = 'nsssnsnnnnsnnsnnn';

/**
 * Packs rows as they are made, a value at a time in column order, up to `capacity` rows. No
 * array of row values stands in between: its slots, boxed numbers and strings would live until
 * the rows were packed, and the young-generation collector copies everything that lives.
 */
export class RowPacker {
  private readonly strCols: number;
  private parts: string[] = [];
  private lens: Int32Array;
  private nums: Float64Array;
  private numNull: Uint8Array;
  private si = 0;
  private ni = 0;
  private shapes: Map<string, number> | null = null;
  /** Rows ended so far. */
  rows = 0;

  constructor(readonly types: string, readonly capacity: number) {
    let ns = 0;
    for (let c = 0; c < types.length; c++) if (types.charCodeAt(c) === 115) ns++;
    this.strCols = ns;
    this.lens = new Int32Array(capacity * ns);
    this.nums = new Float64Array(capacity * (types.length - ns));
    this.numNull = new Uint8Array(capacity * (types.length - ns));
  }

  str(v: string | null): void {
    if (v === null) this.lens[this.si++] = -1;
    else { this.lens[this.si++] = v.length; this.parts.push(v); }
  }

  num(v: number | null): void {
    if (v === null) this.numNull[this.ni++] = 1;
    else this.nums[this.ni++] = v;
  }

  /** An attributes shape (splitAttrs) as a number for the row's shape column: its index in the rows' `shapes`. */
  shape(text: string): number {
    this.shapes ??= new Map();
    let i = this.shapes.get(text);
    if (i === undefined) { i = this.shapes.size; this.shapes.set(text, i); }
    return i;
  }

  /** End a row; true when `capacity` rows are in. */
  endRow(): boolean {
    return ++this.rows === this.capacity;
  }

  /** The rows packed (the packer is spent). Throws if a row had the wrong number of values of a type. */
  done(): PackedRows {
    const { rows, strCols } = this;
    const numCols = this.types.length - strCols;
    if (this.si !== rows * strCols || this.ni !== rows * numCols) {
      throw new Error(`RowPacker(${this.types}): ${rows} rows, but ${this.si} strings and ${this.ni} numbers`);
    }
    return {
      types: this.types, rows, text: this.parts.join(''), utf8: null,
      lens: this.lens.subarray(0, this.si), nums: this.nums.subarray(0, this.ni), numNull: this.numNull.subarray(0, this.ni),
      ...(this.shapes ? { shapes: [...this.shapes.keys()] } : {}),
    };
  }
}

interface Utf8Slice { utf8Slice(start: number, end: number): string }

/**
 * `buf` with utf8Slice: Node's own decoder behind toString('utf8', start, end), without its
 * argument checks, which cost as much as the decoding of a short value (the writing thread
 * decodes millions). Not in Node's typings; toString stands in should it ever go.
 */
function withUtf8Slice(buf: Buffer): Buffer & Utf8Slice {
  const b = buf as Buffer & Partial<Utf8Slice>;
  if (typeof b.utf8Slice !== 'function') b.utf8Slice = (start: number, end: number) => buf.toString('utf8', start, end);
  return b as Buffer & Utf8Slice;
}

/** Reads packed rows back, one row at a time into `row`. */
class PackedReader {
  private si = 0;
  private ni = 0;
  private pos = 0;
  private readonly isStr: boolean[];
  private readonly utf8: (Buffer & Utf8Slice) | null;
  constructor(private readonly p: PackedRows) {
    this.isStr = Array.from(p.types, (t) => t === 's');
    this.utf8 = p.utf8 ? withUtf8Slice(Buffer.from(p.utf8.buffer, p.utf8.byteOffset, p.utf8.byteLength)) : null;
  }
  /** Row values into `into` from index `at`. */
  next(into: RowValue[], at: number): void {
    const { text, lens, nums, numNull } = this.p;
    const utf8 = this.utf8;
    const isStr = this.isStr;
    for (let c = 0; c < isStr.length; c++) {
      if (isStr[c]) {
        const n = lens[this.si++];
        if (n < 0) into[at++] = null;
        else {
          into[at++] = utf8 ? utf8.utf8Slice(this.pos, this.pos + n) : text!.slice(this.pos, this.pos + n);
          this.pos += n;
        }
      } else {
        into[at++] = numNull[this.ni] ? null : nums[this.ni];
        this.ni++;
      }
    }
  }
}

/** Rows bound per multi-row INSERT (see writePacked). */
const ROWS_PER_STATEMENT = 32;

export interface AggInput {
  minute: number; source: string; kind: string; rip: string; lport: number; detail: string;
  count: number; bytes: number; firstTs: number; lastTs: number; lip: string | null;
  sampleLine: number; sampleRaw: string;
}

/** IDENTITY_KINDS as SQL, written as the partial indexes' WHERE (migrations 1 and 10) so SQLite uses them. */
const IDENTITY_KIND_LIST = IDENTITY_KINDS.map((k) => `'${k}'`).join(', ');

/**
 * The source term of the long-session identity query: the sources that declare `longSessions`,
 * each sought in the partial index events_identity_source_ts (migration 10).
 */
function longSessionTerm(): string {
  const names = LONG_SESSION_SOURCES.map((n) => `'${n.replace(/'/g, "''")}'`);
  return names.length === 0 ? '0' : `e.source IN (${names.join(', ')})`;
}

/** The VPN services' names as SQL (the sources declare which services are in the `vpn` group). */
function vpnServiceList(): string {
  return servicesOfGroup('vpn').map((n) => `'${n.replace(/'/g, "''")}'`).join(', ') || 'NULL';
}

/** Sessions to follow (eventsForSessions): their keys, their accounts, and the earliest login. */
export interface SessionKeys { sessions: string[]; accounts: string[]; sinceMs: number }

export interface SourceStats { source: string; events: number; skipped: number; unparsed: number }

export interface UnparsedSample {
  line: number; source: string; reason: string; text: string;
  /** The line's bytes when they are not UTF-8 (`text` is then a copy with U+FFFD). */
  raw?: Uint8Array | null;
}

/** Data that could not be read as it was, by reason: counted in `losses`, shown by status. */
export interface LossInput { path: string; reason: string; lines: number; bytes: number }

export interface LeaseInput { account: string; realIp: string; realPort: number | null; vip: string; firstTs: number; lastTs: number; source: string }

export interface IfaceTotalInput { iface: string; granularity: string; start: number; rx: number; tx: number }

/** A conntrack entry of a listing whose start is unknown: its counters since it began, from the server's view. */
export interface OpenConnInput {
  listingTs: number; proto: number; lip: string; lport: number; rip: string; rport: number; service: string;
  bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number;
}

/** Everything one read step produces, committed atomically with the file's new offset. */
export interface Batch {
  fileId: number;
  /** The offset this batch starts at; if the stored offset differs, someone else read it: nothing is written. */
  expectOffset: number;
  newOffset: number;
  newLines: number;
  tailHash: string | null;
  events: StoredEventInput[];
  aggs: AggInput[];
  /** More events, packed (EVENT_TYPES), written after `events`. */
  eventsPacked?: PackedRows[];
  /** More aggregates, packed (AGG_TYPES), merged after `aggs`. */
  aggsPacked?: PackedRows[];
  stats: SourceStats[];
  unparsed: UnparsedSample[];
  /** Every line not understood, counted by source and reason (beyond the samples). */
  reasons?: Array<{ source: string; reason: string; count: number }>;
  /** Added to what `losses` holds for their path and reason. */
  losses?: LossInput[];
  flows?: { source: string; records: FlowRecord[] };
  /**
   * Flow records made while the batch is written: `fill` is called inside the transaction and
   * hands over the records a slice at a time (a capture's records, resolved as they are written).
   */
  flowSlices?: { source: string; fill: (write: (records: FlowRecord[] | PackedFlows) => void) => void };
  leases?: LeaseInput[];
  ifaceTotals?: IfaceTotalInput[];
  openConns?: OpenConnInput[];
  counterState?: Array<{ key: string; value: string }>;
}

export interface StoredEvent extends LogEvent {
  id: number; fileId: number | null; line: number | null; raw: string | null; path: string | null;
  /** Set when the line was stored by reference and could not be read back: why (raw is null then). */
  rawUnreadable?: string;
}

export interface StoreOptions {
  path: string;
  readonly?: boolean;
  /** Create the database when it does not exist (default: when not read-only). */
  create?: boolean;
  /** Warnings about the file (its permissions); default: stderr. */
  onWarning?: (message: string) => void;
}

export interface AggRow {
  minute: number; source: string; kind: string; rip: string; lport: number; detail: string;
  count: number; bytes: number; firstTs: number; lastTs: number; lip: string | null;
  samplePath: string | null; sampleLine: number | null; sampleRaw: string | null;
  /** Set when the sample was stored by reference and could not be read back: why (sampleRaw is null then). */
  sampleUnreadable?: string;
}

export interface FlowRow extends FlowRecord { source: string }

export interface LeaseRow { account: string; realIp: string; realPort: number; vip: string; firstTs: number; lastTs: number; source: string }

/** Default database location: $XDG_DATA_HOME/bytetrail/bytetrail.db, or /var/lib/bytetrail as root. */
export function defaultDbPath(env: NodeJS.ProcessEnv = process.env, uid: number | null = process.getuid?.() ?? null): string {
  if (env.BYTETRAIL_DB) return env.BYTETRAIL_DB;
  if (uid === 0) return '/var/lib/bytetrail/bytetrail.db';
  const base = env.XDG_DATA_HOME || join(env.HOME || homedir(), '.local', 'share');
  return join(base, 'bytetrail', 'bytetrail.db');
}

const MAX_UNPARSED_SAMPLES_PER_FILE_SOURCE = 50;

/**
 * How long a writer waits for another process's write transaction (SQLite's busy timeout).
 * Each holds the lock for one batch at a time, well under a second; a cron `ingest` beside
 * `watch` on a loaded machine must wait rather than fail.
 */
const BUSY_TIMEOUT_MS = 30_000;

/** The newest schema this build knows (highest migration number), kept in user_version too. */
const LATEST_SCHEMA = Math.max(...MIGRATIONS.map((m) => m.version));

/**
 * Above this size a writer does not check the whole file at open (see refuseDamaged): the check
 * reads every page, 0.5 s for a 200 MB database with a warm cache (measured on a loaded 2-core
 * machine), and a cron ingest should not pay seconds each run.
 */
const QUICK_CHECK_MAX_BYTES = 256 << 20;

/*
 * The bulk writes run as multi-row INSERTs. `OR ROLLBACK`: a constraint failure (a bug: every
 * row has its NOT NULL columns) ends the whole batch's transaction at once, as the error would
 * anyway, so SQLite keeps no statement journal to undo one statement's rows on its own.
 */
const INSERT_EVENT = 'INSERT OR ROLLBACK INTO events (ts, source, host, program, kind, account, rip, rport, lip, lport, session, bytes_in, bytes_out, file_id, line, attrs, raw, raw_off, raw_len, raw_check)';
const INSERT_AGG = 'INSERT OR ROLLBACK INTO event_agg (minute, source, kind, rip, lport, detail, count, bytes, first_ts, last_ts, lip, sample_file_id, sample_line, sample_raw, sample_off, sample_len, sample_check)';
const ON_AGG_CONFLICT = `ON CONFLICT (minute, source, kind, rip, lport, detail) DO UPDATE SET
  count = count + excluded.count, bytes = bytes + excluded.bytes,
  first_ts = min(first_ts, excluded.first_ts), last_ts = max(last_ts, excluded.last_ts)`;

const INSERT_FLOW = 'INSERT INTO flows (source, minute, iface, proto, lip, lport, rip, rport, service, bytes_in, bytes_out, packets_in, packets_out)';
const FLOW_WIDTH = 13;
const HOUR_MS = 3_600_000;
const ON_FLOW_CONFLICT = `ON CONFLICT (source, minute, iface, proto, lip, lport, rip, rport) DO UPDATE SET
  bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out,
  packets_in = packets_in + excluded.packets_in, packets_out = packets_out + excluded.packets_out`;

/** `(?, ?, ?), (?, ?, ?)` for `rows` rows of `width` values. */
function rowsOf(width: number, rows: number): string {
  const one = '(' + new Array(width).fill('?').join(', ') + ')';
  return new Array(rows).fill(one).join(', ');
}

/**
 * Write packed rows: ROWS_PER_STATEMENT at a time through `many`, the rest one by one,
 * unpacking one statement's rows at a time into one array. Values go in as arguments, not as
 * one array: better-sqlite3 reads an array element by element through the V8 API, which costs
 * more than the spread (about 8% of the write, measured). `mapRow`, when given, may change a
 * row's values in place (the row starts at `at`) before it is bound.
 */
function writePacked(p: PackedRows, types: string, many: Database.Statement, one: Database.Statement, mapRow?: (values: RowValue[], at: number) => void): void {
  if (p.types !== types) throw new Error(`packed rows of types ${p.types}, expected ${types}`);
  const w = types.length;
  const r = new PackedReader(p);
  const args: RowValue[] = new Array(w * ROWS_PER_STATEMENT);
  let i = 0;
  for (; i + ROWS_PER_STATEMENT <= p.rows; i += ROWS_PER_STATEMENT) {
    for (let j = 0; j < ROWS_PER_STATEMENT; j++) { r.next(args, j * w); mapRow?.(args, j * w); }
    many.run(...args);
  }
  const row: RowValue[] = new Array(w);
  for (; i < p.rows; i++) { r.next(row, 0); mapRow?.(row, 0); one.run(...row); }
}

/**
 * The flow sources present, as table `s(x)`, walked over the flows primary key (source, minute,
 * …) in a few seeks: with no index on minute alone (migration 8), a query across sources by
 * minute reads each source's primary-key range instead of scanning the table.
 */
export const FLOW_SOURCE_WALK = `WITH RECURSIVE s(x) AS (SELECT min(source) FROM flows
  UNION ALL SELECT (SELECT min(source) FROM flows WHERE source > x) FROM s WHERE x IS NOT NULL)`;

export class Store {
  readonly path: string;
  readonly db!: Database.Database;
  private readonly writable: boolean;
  private stmts!: ReturnType<Store['prepare']>;

  constructor(opts: StoreOptions) {
    this.path = opts.path;
    this.writable = !opts.readonly;
    const warnOf = opts.onWarning ?? warn;
    try {
      refuseUnsafeLink(opts.path);
      if (!existsSync(opts.path)) {
        // Only the commands that store data create a database: a mistyped --db for a reading
        // command must not leave an empty one that then reports "no traffic".
        if (opts.readonly || opts.create === false) {
          throw new StoreError(`no database at ${opts.path}`, { hint: 'run `bytetrail ingest` first, or check --db and $BYTETRAIL_DB' });
        }
        mkdirSync(dirname(opts.path), { recursive: true, mode: 0o700 });
        // Logs hold personal data: the database is readable by its owner only.
        createDbFile(opts.path);
      } else tightenMode(opts.path, warnOf);
      noteOpened(opts.path);
      this.db = new Database(opts.path, { readonly: Boolean(opts.readonly), timeout: BUSY_TIMEOUT_MS });
      this.refuseNewer();
      if (!opts.readonly) {
        this.refuseDamaged();
        this.db.pragma('journal_mode = WAL');
        this.db.pragma('synchronous = NORMAL');
      }
      this.db.pragma('cache_size = -65536');
      this.db.pragma('temp_store = MEMORY');
      if (!opts.readonly) this.migrate();
      this.stmts = this.prepare();
    } catch (err) {
      if (this.db?.open) this.db.close();
      if (err instanceof StoreError) throw err;
      if (isCorruption(err)) throw damagedError(opts.path, (err as Error).message, err);
      const e = err as NodeJS.ErrnoException & { code?: string };
      const what = e.code === 'SQLITE_NOTADB' ? 'it is not a bytetrail/SQLite database'
        : e.code === 'EACCES' || e.code === 'SQLITE_CANTOPEN' ? 'permission denied or directory missing'
        : e.code === 'SQLITE_BUSY' ? 'the database is locked by another process' : e.message;
      throw new StoreError(`cannot open database ${opts.path}: ${what}`, { hint: 'pass --db PATH or set BYTETRAIL_DB', cause: err });
    }
  }

  /** False once closed: watch records its state at the end only on an open database. */
  get isOpen(): boolean {
    return this.db.open;
  }

  private writeError(err: unknown): StoreError {
    if (isCorruption(err)) return damagedError(this.path, (err as Error).message, err);
    return new StoreError(`cannot write to ${this.path}: ${(err as Error).message}`, { cause: err });
  }

  /** A database migrated past what this build knows was written by a newer bytetrail: its tables may mean something else. */
  private refuseNewer(): void {
    const known = LATEST_SCHEMA;
    const userVersion = this.db.pragma('user_version', { simple: true }) as number;
    const recorded = this.hasTable('schema_migrations') ? ((this.db.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0) : 0;
    const found = Math.max(userVersion, recorded);
    if (found > known) throw newerError(this.path, found, known);
  }

  /**
   * A writer checks the whole file's structure first (PRAGMA quick_check) when it is small enough,
   * so that it never adds to a damaged database; larger files are checked as they are read
   * (SQLite reports corruption on the pages it touches).
   */
  private refuseDamaged(): void {
    let bytes = 0;
    try { bytes = statSync(this.path).size; } catch { /* checked by SQLite */ }
    if (bytes > QUICK_CHECK_MAX_BYTES) return;
    const rows = this.db.pragma('quick_check(3)', { simple: false }) as Array<{ quick_check: string }>;
    const problems = rows.map((r) => r.quick_check).filter((r) => r !== 'ok');
    if (problems.length) throw damagedError(this.path, problems.join('; '));
  }

  /**
   * Apply the migrations not applied yet. Whether one is applied is read inside its own
   * write transaction: two first runs on a fresh database would otherwise both see it missing
   * and the second would fail on `table meta already exists`.
   */
  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)');
    const isApplied = this.db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?');
    const record = this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of MIGRATIONS) {
      this.db.transaction(() => {
        if (isApplied.get(m.version) !== undefined) return;
        this.db.exec(m.sql);
        record.run(m.version, m.name, Date.now());
        // Also where an older bytetrail (before schema_migrations was read) or sqlite3 sees it.
        this.db.pragma(`user_version = ${m.version}`);
      }).immediate();
    }
    // Databases migrated before user_version was kept.
    if ((this.db.pragma('user_version', { simple: true }) as number) < LATEST_SCHEMA) {
      this.withWriteLock(() => this.db.pragma(`user_version = ${LATEST_SCHEMA}`));
    }
  }

  /**
   * Run `fn` holding the write lock (BEGIN IMMEDIATE, waiting up to the busy timeout for it),
   * for a read that decides a write: in a deferred transaction the write would fail at once
   * with SQLITE_BUSY when another process wrote since the read, and two processes could both
   * decide on the same write. Nested calls run in a savepoint of the outer transaction.
   */
  /** Whether the database has this table: a read-only open of an older database may lack a later migration's. */
  hasTable(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  }

  withWriteLock<T>(fn: () => T): T {
    try {
      return this.db.inTransaction ? this.db.transaction(fn)() : this.db.transaction(fn).immediate();
    } catch (err) {
      if (err instanceof BytetrailError) throw err;
      throw this.writeError(err);
    }
  }

  /** Whether a table has this column: a read-only open of an older database may lack a later migration's. */
  hasColumn(table: string, column: string): boolean {
    return (this.db.prepare(`SELECT 1 FROM pragma_table_info(?) WHERE name = ?`).get(table, column)) !== undefined;
  }

  private prepare() {
    const db = this.db;
    // Before migration 12 (a read-only open of an older database) no line is stored by reference,
    // and nothing is written: the bulk inserts, which name its columns, are then never prepared.
    const refs = this.hasColumn('events', 'raw_off');
    const eventColumns = (raw: 'e.raw' | 'NULL') => eventColumnsOf(raw, refs);
    const ifRefs = (sql: string) => db.prepare(refs ? sql : 'SELECT NULL WHERE 0');
    return {
      fileByFp: db.prepare('SELECT * FROM files WHERE fp_hash = ? AND fp_len = ? ORDER BY offset DESC'),
      latestFileAt: db.prepare('SELECT * FROM files WHERE path = ? AND kind = ? ORDER BY id DESC LIMIT 1'),
      fileById: db.prepare('SELECT * FROM files WHERE id = ?'),
      smallFpLens: db.prepare('SELECT fp_len FROM fp_lengths WHERE fp_len < ? AND kind = ?'),
      noteFpLen: db.prepare('INSERT OR IGNORE INTO fp_lengths (kind, fp_len) VALUES (?, ?)'),
      insertFile: db.prepare(`INSERT INTO files (path, dev, ino, fp_hash, fp_len, kind, offset, tail_hash, lines, size, mtime, first_read, last_read)
        VALUES (@path, @dev, @ino, @fpHash, @fpLen, @kind, 0, NULL, 0, @size, @mtime, @now, @now)`),
      touchFile: db.prepare('UPDATE files SET path = @path, dev = @dev, ino = @ino, fp_hash = @fpHash, fp_len = @fpLen, size = @size, mtime = @mtime, last_read = @now WHERE id = @id'),
      fileOffset: db.prepare('SELECT offset FROM files WHERE id = ?'),
      advanceFile: db.prepare('UPDATE files SET offset = ?, lines = ?, tail_hash = ?, last_read = ? WHERE id = ?'),
      insertEvent: ifRefs(`${INSERT_EVENT} VALUES ${EVENT_ROW}`),
      insertEvents: ifRefs(`${INSERT_EVENT} VALUES ${new Array(ROWS_PER_STATEMENT).fill(EVENT_ROW).join(', ')}`),
      upsertAgg: ifRefs(`${INSERT_AGG} VALUES ${rowsOf(AGG_TYPES.length, 1)} ${ON_AGG_CONFLICT}`),
      upsertAggs: ifRefs(`${INSERT_AGG} VALUES ${rowsOf(AGG_TYPES.length, ROWS_PER_STATEMENT)} ${ON_AGG_CONFLICT}`),
      upsertStats: db.prepare(`INSERT INTO file_stats (file_id, source, events, skipped, unparsed) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (file_id, source) DO UPDATE SET events = events + excluded.events, skipped = skipped + excluded.skipped, unparsed = unparsed + excluded.unparsed`),
      countUnparsedSamples: db.prepare('SELECT count(*) AS n FROM unparsed WHERE file_id = ? AND source = ?'),
      upsertFlow: db.prepare(`${INSERT_FLOW} VALUES ${rowsOf(FLOW_WIDTH, 1)} ${ON_FLOW_CONFLICT}`),
      upsertFlows: db.prepare(`${INSERT_FLOW} VALUES ${rowsOf(FLOW_WIDTH, ROWS_PER_STATEMENT)} ${ON_FLOW_CONFLICT}`),
      // What migration 9's triggers on flows did per row (migration 11): the hour [lo, hi] changed in the current usage.gen.
      markFlowHour: db.prepare(`INSERT INTO usage_dirty (lo, hi, gen) VALUES (?, ?, coalesce((SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'usage.gen'), 0))
        ON CONFLICT (lo, hi) DO UPDATE SET gen = excluded.gen`),
      upsertLease: db.prepare(`INSERT INTO vpn_leases (account, real_ip, real_port, vip, first_ts, last_ts, source) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (account, real_ip, real_port, vip, first_ts) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts)`),
      upsertIfaceTotal: db.prepare(`INSERT INTO iface_totals (iface, granularity, start, rx, tx) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (iface, granularity, start) DO UPDATE SET rx = max(rx, excluded.rx), tx = max(tx, excluded.tx)`),
      insertOpenConn: db.prepare(`INSERT OR REPLACE INTO conntrack_open (listing_ts, proto, lip, lport, rip, rport, service, bytes_in, bytes_out, packets_in, packets_out)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      openConnsInRange: db.prepare('SELECT * FROM conntrack_open WHERE listing_ts >= ? AND listing_ts < ? ORDER BY listing_ts, rip, rport'),
      putState: db.prepare('INSERT INTO counter_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      getState: db.prepare('SELECT value FROM counter_state WHERE key = ?'),
      snapshotSeen: db.prepare('SELECT 1 FROM snapshots WHERE kind = ? AND content_hash = ?'),
      insertSnapshot: db.prepare('INSERT OR IGNORE INTO snapshots (kind, content_hash, path, ts) VALUES (?, ?, ?, ?)'),
      accountIps: db.prepare(`SELECT rip AS ip, min(ts) AS firstSeen, max(ts) AS lastSeen FROM events
        WHERE account = ? AND ts >= ? AND ts < ? AND rip IS NOT NULL GROUP BY rip ORDER BY firstSeen`),
      otherAccountsOnIp: db.prepare(`SELECT DISTINCT account FROM events WHERE rip = ? AND ts >= ? AND ts < ? AND account IS NOT NULL AND account != ? ORDER BY account`),
      unparsedSamples: db.prepare(`SELECT u.line, u.source, u.reason, u.text, f.path FROM unparsed u JOIN files f ON f.id = u.file_id
        WHERE u.file_id IN (SELECT value FROM json_each(?)) ORDER BY u.file_id, u.line`),
      eventsInRange: db.prepare(`SELECT ${eventColumns('e.raw')} FROM events e LEFT JOIN files f ON f.id = e.file_id WHERE e.ts >= ? AND e.ts < ? ORDER BY e.ts, e.id`).raw(),
      eventsOfKindsInRange: db.prepare(`SELECT ${eventColumns('e.raw')} FROM events e LEFT JOIN files f ON f.id = e.file_id
        WHERE e.ts >= ? AND e.ts < ? AND e.kind IN (SELECT value FROM json_each(?)) ORDER BY e.ts, e.id`).raw(),
      // Identities from before a window need no raw text (evidence is quoted from the window).
      identityEvents: db.prepare(`SELECT ${eventColumns('NULL')}
        FROM events e LEFT JOIN files f ON f.id = e.file_id
        WHERE e.ts >= ? AND e.ts < ? AND e.kind IN (${IDENTITY_KIND_LIST}) ORDER BY e.ts, e.id`).raw(),
      vpnIdentityEvents: db.prepare(`SELECT ${eventColumns('NULL')}
        FROM events e LEFT JOIN files f ON f.id = e.file_id
        WHERE e.ts >= ? AND e.ts < ? AND e.kind IN (${IDENTITY_KIND_LIST}) AND ${longSessionTerm()} ORDER BY e.ts, e.id`).raw(),
      lastMailLogin: db.prepare(`SELECT ${eventColumns('e.raw')} FROM events e LEFT JOIN files f ON f.id = e.file_id
        WHERE e.rip = ? AND e.ts < ? AND e.ts >= ? AND e.kind = 'login' ORDER BY e.ts DESC LIMIT 1`).raw(),
      sessionEnded: db.prepare(`SELECT 1 FROM events WHERE account = ? AND ts >= ? AND ts < ? AND session = ? AND kind IN ('logout', 'disconnect') LIMIT 1`),
      eventsForIp: db.prepare(`SELECT ${eventColumns('e.raw')} FROM events e LEFT JOIN files f ON f.id = e.file_id WHERE e.rip = ? AND e.ts >= ? AND e.ts < ? ORDER BY e.ts, e.id`).raw(),
      // Through the account index: a session's events carry its account, and none precede its login.
      eventsForSessions: db.prepare(`SELECT ${eventColumns('e.raw')} FROM events e LEFT JOIN files f ON f.id = e.file_id
        WHERE e.account IN (SELECT value FROM json_each(?)) AND e.ts >= ? AND e.source = ? AND e.session IN (SELECT value FROM json_each(?))
        ORDER BY e.ts, e.id`).raw(),
      aggInRange: db.prepare(`SELECT a.*, f.path AS path FROM event_agg a LEFT JOIN files f ON f.id = a.sample_file_id WHERE a.minute >= ? AND a.minute < ?`),
      // Named as FlowRow's fields: rows come out of SQLite ready to use, without a copy each.
      flowsInRange: db.prepare(`SELECT ${FLOW_ROW_COLUMNS} FROM flows WHERE source = ? AND minute >= ? AND minute < ?`),
      vpnFlowsInRange: db.prepare(`SELECT ${FLOW_ROW_COLUMNS} FROM flows WHERE source = ? AND minute >= ? AND minute < ? AND (service IN (${vpnServiceList()})
        OR lport IN (SELECT value FROM json_each(?)) OR rip IN (SELECT value FROM json_each(?)) OR lip IN (SELECT value FROM json_each(?)))`),
      // The distinct sources by walking the primary key (one seek each), then each source's window
      // as a primary-key range: far cheaper than the minute index plus a key lookup per row.
      flowSourceNames: db.prepare(`${FLOW_SOURCE_WALK} SELECT x FROM s WHERE x IS NOT NULL`).pluck(),
      flowTotalsOfSource: db.prepare(`SELECT count(*) AS n, sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut, min(minute) AS first, max(minute) AS last
        FROM flows WHERE source = ? AND minute >= ? AND minute < ?`),
      flowBytesBetween: db.prepare('SELECT coalesce(sum(bytes_in + bytes_out), 0) AS bytes, count(*) AS n FROM flows WHERE source = ? AND minute >= ? AND minute < ?'),
      flowExtent: db.prepare('SELECT min(minute) AS first, max(minute) AS last FROM flows WHERE source = ?'),
      leasesInRange: db.prepare('SELECT * FROM vpn_leases WHERE last_ts >= ? AND first_ts < ?'),
      ifaceTotalsInRange: db.prepare(`SELECT iface, sum(rx) AS rx, sum(tx) AS tx FROM iface_totals WHERE granularity = ? AND start >= ? AND start < ? GROUP BY iface`),
      // Two subqueries: SQLite reads min() or max() from the index end only when a query has one.
      dataExtent: db.prepare('SELECT (SELECT min(ts) FROM events) AS first, (SELECT max(ts) FROM events) AS last'),
      counts: db.prepare(`SELECT (SELECT count(*) FROM events) AS events, (SELECT coalesce(sum(count), 0) FROM event_agg) AS aggregated,
        (SELECT count(*) FROM flows) AS flows, (SELECT count(*) FROM files) AS files`),
    };
  }

  // ---- files ----

  filesByFingerprint(fpHash: string, fpLen: number): FileRecord[] {
    return (this.stmts.fileByFp.all(fpHash, fpLen) as RawFile[]).map(toFile);
  }

  /** The newest stored stream of this kind read from this path, or null. */
  latestFileAt(path: string, kind: FileKind): FileRecord | null {
    const r = this.stmts.latestFileAt.get(path, kind) as RawFile | undefined;
    return r ? toFile(r) : null;
  }

  fileById(id: number): FileRecord | null {
    const r = this.stmts.fileById.get(id) as RawFile | undefined;
    return r ? toFile(r) : null;
  }

  /** Fingerprint lengths shorter than `max` that files of this kind were recorded with (small files). */
  smallFingerprintLengths(max: number, kind: FileKind): number[] {
    return (this.stmts.smallFpLens.all(max, kind) as Array<{ fp_len: number }>).map((r) => r.fp_len);
  }

  createFile(f: { path: string; dev: number | null; ino: number | null; fpHash: string; fpLen: number; kind: FileKind; size: number | null; mtime: number | null }): FileRecord {
    const now = Date.now();
    return this.withWriteLock(() => {
      this.stmts.noteFpLen.run(f.kind, f.fpLen);
      const info = this.stmts.insertFile.run({ ...f, now });
      return this.fileById(Number(info.lastInsertRowid))!;
    });
  }

  touchFile(f: { id: number; path: string; dev: number | null; ino: number | null; fpHash: string; fpLen: number; size: number | null; mtime: number | null }): void {
    this.withWriteLock(() => {
      const kind = (this.stmts.fileById.get(f.id) as RawFile | undefined)?.kind;
      if (kind) this.stmts.noteFpLen.run(kind, f.fpLen);
      this.stmts.touchFile.run({ ...f, now: Date.now() });
    });
  }

  // ---- writing ----

  /**
   * Settings for a long run of batches on this connection (ingest); returns what puts the
   * previous ones back. A checkpoint every 64 MB of WAL instead of every 4 MB: pages written by
   * many batches (index leaves) are copied into the database once per checkpoint, which saved
   * about a tenth of the system time. A 4 MB page cache: 4, 16 or 128 MB made no measurable
   * difference to ingest's CPU, and it counts in peak memory (16 -> 4 MB took about 10 MB off
   * the peak RSS of a busy day's logs). Durability is unchanged (WAL, synchronous = NORMAL).
   */
  tuneForBulkWrites(): () => void {
    const checkpoint = this.db.pragma('wal_autocheckpoint', { simple: true }) as number;
    const cache = this.db.pragma('cache_size', { simple: true }) as number;
    this.db.pragma('wal_autocheckpoint = 16384');
    this.db.pragma('cache_size = -4096');
    return () => {
      if (!this.db.open) return;
      this.db.pragma(`wal_autocheckpoint = ${Math.trunc(checkpoint)}`);
      this.db.pragma(`cache_size = ${Math.trunc(cache)}`);
    };
  }

  /**
   * Write one batch and advance its file's offset in one transaction. Returns false, writing
   * nothing, when the stored offset is no longer `expectOffset` (another process read the
   * same lines first).
   */
  commitBatch(b: Batch): boolean {
    const s = this.stmts;
    const run = this.db.transaction((): boolean => {
      const cur = s.fileOffset.get(b.fileId) as { offset: number } | undefined;
      if (!cur || cur.offset !== b.expectOffset) return false;
      for (const { ev, line, raw } of b.events) {
        s.insertEvent.run(ev.ts, ev.source, ev.host, ev.program, ev.kind, ev.account, ev.rip, ev.rport, ev.lip, ev.lport, ev.session,
          ev.bytesIn, ev.bytesOut, b.fileId, line, ...this.attrsValues(ev.attrs), raw, null, null, null);
      }
      for (const p of b.eventsPacked ?? []) this.writeEvents(p);
      for (const a of b.aggs) {
        s.upsertAgg.run(a.minute, a.source, a.kind, a.rip, a.lport, a.detail, a.count, a.bytes, a.firstTs, a.lastTs, a.lip, b.fileId, a.sampleLine, a.sampleRaw, null, null, null);
      }
      for (const p of b.aggsPacked ?? []) writePacked(p, AGG_TYPES, s.upsertAggs, s.upsertAgg);
      for (const st of b.stats) s.upsertStats.run(b.fileId, st.source, st.events, st.skipped, st.unparsed);
      if (b.unparsed.length) {
        const have = new Map<string, number>();
        for (const u of b.unparsed) {
          let n = have.get(u.source);
          if (n === undefined) n = (s.countUnparsedSamples.get(b.fileId, u.source) as { n: number }).n;
          if (n < MAX_UNPARSED_SAMPLES_PER_FILE_SOURCE) {
            this.lossStmts.insertUnparsed.run(b.fileId, u.line, u.source, u.reason, u.text, u.raw ? Buffer.from(u.raw.buffer, u.raw.byteOffset, u.raw.byteLength) : null);
            n++;
          }
          have.set(u.source, n);
        }
      }
      for (const r of b.reasons ?? []) this.lossStmts.upsertReason.run(b.fileId, r.source, r.reason, r.count);
      for (const l of b.losses ?? []) this.lossStmts.addLoss.run(l.path, l.reason, l.lines, l.bytes, Date.now());
      if (b.flows) this.writeFlows(b.flows.source, b.flows.records);
      if (b.flowSlices) {
        const src = b.flowSlices.source;
        b.flowSlices.fill((records) => this.writeFlows(src, records));
      }
      // real_port 0 stands for unknown (OpenVPN 2.4 IPv6 clients have none).
      for (const l of b.leases ?? []) s.upsertLease.run(l.account, l.realIp, l.realPort ?? 0, l.vip, l.firstTs, l.lastTs, l.source);
      for (const t of b.ifaceTotals ?? []) s.upsertIfaceTotal.run(t.iface, t.granularity, t.start, t.rx, t.tx);
      for (const c of b.openConns ?? []) s.insertOpenConn.run(c.listingTs, c.proto, c.lip, c.lport, c.rip, c.rport, c.service, c.bytesIn, c.bytesOut, c.packetsIn, c.packetsOut);
      for (const st of b.counterState ?? []) s.putState.run(st.key, st.value);
      s.advanceFile.run(b.newOffset, b.newLines, b.tailHash, Date.now(), b.fileId);
      return true;
    });
    try {
      return run.immediate();
    } catch (err) {
      // A shape inserted by the rolled-back transaction has no id: another writer may take it.
      this.shapeIds.clear();
      throw this.writeError(err);
    }
  }

  /** Shape text (splitAttrs) to its id in attr_shapes: ids only ever committed, or inserted by the transaction under way. */
  private readonly shapeIds = new Map<string, number>();
  private shapeStmts: { id: Database.Statement; insert: Database.Statement } | null = null;

  /** The id of a shape, added to attr_shapes inside the current write transaction when new. */
  private shapeIdOf(shape: string): number {
    let id = this.shapeIds.get(shape);
    if (id === undefined) {
      // Prepared on first use: a read-only open of a database from before migration 13 has no attr_shapes.
      const st = this.shapeStmts ??= {
        id: this.db.prepare('SELECT id FROM attr_shapes WHERE keys = ?').pluck(),
        insert: this.db.prepare('INSERT INTO attr_shapes (keys) VALUES (?)'),
      };
      id = st.id.get(shape) as number | undefined;
      if (id === undefined) id = Number(st.insert.run(shape).lastInsertRowid);
      this.shapeIds.set(shape, id);
    }
    return id;
  }

  /** An attributes object as INSERT_EVENT binds it: its shape's id and its values (EVENT_ROW). */
  private attrsValues(a: Attrs | null): [number | null, string | null] {
    if (!a) return [null, null];
    const [shape, values] = splitAttrs(a);
    return [this.shapeIdOf(shape), values];
  }

  /**
   * Write packed event rows as writePacked does, each row's shape index replaced by the shape's id.
   */
  private writeEvents(p: PackedRows): void {
    const ids = (p.shapes ?? []).map((shape) => this.shapeIdOf(shape));
    writePacked(p, EVENT_TYPES, this.stmts.insertEvents, this.stmts.insertEvent, (v, at) => {
      const k = at + EVENT_SHAPE_AT;
      if (v[k] !== null) v[k] = ids[v[k] as number];
    });
  }

  /** Shape id to its keys, read from attr_shapes as rows need them (another process may add shapes). */
  private readonly shapeKeys = new Map<number, string[]>();
  private shapeKeysStmt: Database.Statement | null = null;

  private keysOfShape = (id: number): string[] => {
    let keys = this.shapeKeys.get(id);
    if (keys === undefined) {
      this.shapeKeysStmt ??= this.db.prepare('SELECT keys FROM attr_shapes WHERE id = ?').pluck();
      const text = this.shapeKeysStmt.get(id) as string | undefined;
      if (text === undefined) throw new StoreError(`${this.path}: attributes of an unknown shape ${id}`, { hint: 'the database is damaged' });
      keys = JSON.parse(text) as string[];
      this.shapeKeys.set(id, keys);
    }
    return keys;
  };

  /** An attrs column as the JSON object text it held before migration 13 (what `ship` sends). */
  attrsJson(text: string | null): string | null {
    return text === null || text.charCodeAt(0) === 123 ? text : JSON.stringify(decodeAttrs(text, this.keysOfShape));
  }

  /** An event row as read (EventTuple) to a StoredEvent, its attributes decoded. */
  private toEvent = (r: EventTuple): StoredEvent => {
    const e: StoredEvent = {
      id: r[0], ts: r[1], source: r[2] as LogEvent['source'], host: r[3], program: r[4], kind: r[5], account: r[6],
      rip: r[7], rport: r[8], lip: r[9], lport: r[10], session: r[11], bytesIn: r[12], bytesOut: r[13],
      attrs: r[16] ? decodeAttrs(r[16], this.keysOfShape) : null, fileId: r[14], line: r[15], raw: r[17], path: r[18],
    };
    // A line stored by reference waits for resolveEvents to read it back.
    if (r[17] === null && r[19] !== null && r[14] !== null) pendingRefs.set(e, { fileId: r[14], off: r[19], len: r[20]!, check: r[21]! });
    return e;
  };

  /**
   * Add flow records to what their keys hold (inside a transaction), ROWS_PER_STATEMENT to a
   * statement as events are: one statement per record made binding a seventh of a capture's
   * writing thread. A key repeated within one statement is added up row by row all the same.
   * Records given as objects (conntrack, status files, `watch --capture`) are packed first: one
   * way to write them.
   */
  private writeFlows(source: string, records: FlowRecord[] | PackedFlows): void {
    const p = Array.isArray(records) ? packFlows(records) : records;
    const args: Array<string | number> = new Array(FLOW_WIDTH * ROWS_PER_STATEMENT);
    const v = p.values;
    let i = 0;
    for (; i + ROWS_PER_STATEMENT <= p.n; i += ROWS_PER_STATEMENT) {
      for (let j = 0, o = 0, s = i * FLOW_VALUES; j < ROWS_PER_STATEMENT; j++) {
        args[o++] = source;
        for (let c = 0; c < FLOW_VALUES; c++) args[o++] = v[s++];
      }
      this.stmts.upsertFlows.run(...args);
    }
    const one: Array<string | number> = new Array(FLOW_WIDTH);
    one[0] = source;
    for (; i < p.n; i++) {
      for (let c = 0; c < FLOW_VALUES; c++) one[c + 1] = v[i * FLOW_VALUES + c];
      this.stmts.upsertFlow.run(...one);
    }
    let last = -1;
    const hours = new Set<number>();
    for (let r = 0; r < p.n; r++) {
      const m = v[r * FLOW_VALUES] as number;
      const h = m - (m % HOUR_MS);
      if (h !== last) { hours.add(h); last = h; }
    }
    for (const h of hours) this.stmts.markFlowHour.run(h, h);
  }

  /** Add to what is known lost at a path for a reason. */
  addLoss(l: LossInput): void {
    this.withWriteLock(() => this.lossStmts.addLoss.run(l.path, l.reason, l.lines, l.bytes, Date.now()));
  }

  /** What is known lost at a path for a reason, replacing what was recorded (a whole file judged again). */
  setLoss(l: LossInput): void {
    this.withWriteLock(() => this.lossStmts.setLoss.run(l.path, l.reason, l.lines, l.bytes, Date.now()));
  }

  /** Losses by reason over the whole database, for status. */
  lossTotals(): Array<{ reason: string; paths: number; lines: number; bytes: number; lastAt: number }> {
    // A database no writer of this version has opened yet has no losses table.
    if (!this.hasTable('losses')) return [];
    return this.db.prepare(`SELECT reason, count(*) AS paths, sum(lines) AS lines, sum(bytes) AS bytes, max(last_at) AS lastAt
      FROM losses GROUP BY reason ORDER BY reason`).all() as Array<{ reason: string; paths: number; lines: number; bytes: number; lastAt: number }>;
  }

  snapshotSeen(kind: string, contentHash: string): boolean {
    return this.stmts.snapshotSeen.get(kind, contentHash) !== undefined;
  }

  recordSnapshot(kind: string, contentHash: string, path: string, ts: number): void {
    this.stmts.insertSnapshot.run(kind, contentHash, path, ts);
  }

  getState(key: string): string | null {
    const r = this.stmts.getState.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  /** Flow records that belong to no file (`watch --capture`), added to what their minutes hold. */
  addFlows(source: string, records: FlowRecord[]): void {
    if (!records.length) return;
    try {
      this.db.transaction(() => this.writeFlows(source, records)).immediate();
    } catch (err) {
      throw this.writeError(err);
    }
  }

  // ---- reading ----

  /** The IPs an account used in [from, to), each with the other accounts seen on it then (NAT). */
  accountIps(account: string, fromMs: number, toMs: number): Array<{ ip: string; firstSeen: number; lastSeen: number; otherAccounts: string[] }> {
    const rows = this.stmts.accountIps.all(account, fromMs, toMs) as Array<{ ip: string; firstSeen: number; lastSeen: number }>;
    return rows.map((r) => ({
      ...r,
      otherAccounts: (this.stmts.otherAccountsOnIp.all(r.ip, fromMs, toMs, account) as Array<{ account: string }>).map((x) => x.account),
    }));
  }

  unparsedSamples(fileIds: number[]): Array<{ line: number; source: string; reason: string; text: string; path: string }> {
    return this.stmts.unparsedSamples.all(JSON.stringify(fileIds)) as Array<{ line: number; source: string; reason: string; text: string; path: string }>;
  }

  /** Events with ts in [from, to), optionally only of some kinds, oldest first. */
  eventsInRange(fromMs: number, toMs: number, kinds?: string[]): StoredEvent[] {
    const rows = kinds ? this.stmts.eventsOfKindsInRange.all(fromMs, toMs, JSON.stringify(kinds)) : this.stmts.eventsInRange.all(fromMs, toMs);
    return (rows as EventTuple[]).map(this.toEvent);
  }

  /** Logins and logouts, VPN connects, leases and disconnects, SASL logins in [from, to): the events that make identities. */
  identityEvents(fromMs: number, toMs: number): StoredEvent[] {
    return (this.stmts.identityEvents.all(fromMs, toMs) as EventTuple[]).map(this.toEvent);
  }

  /** VPN connects, leases and disconnects in [from, to) (sources with `longSessions`): VPN sessions last days. */
  vpnIdentityEvents(fromMs: number, toMs: number): StoredEvent[] {
    return (this.stmts.vpnIdentityEvents.all(fromMs, toMs) as EventTuple[]).map(this.toEvent);
  }

  /**
   * The last mail login (kind `login`, whatever server logged it) from an IP in [since, before) whose session had not ended by
   * `before`, or null: who was most likely behind a long-lived connection with no login in view.
   */
  openMailLoginBefore(ip: string, before: number, since: number): StoredEvent | null {
    const r = this.stmts.lastMailLogin.get(ip, before, since) as EventTuple | undefined;
    if (!r) return null;
    const ev = this.toEvent(r);
    if (ev.session && ev.account && this.stmts.sessionEnded.get(ev.account, ev.ts, before, ev.session)) return null;
    return ev;
  }

  eventsForIp(ip: string, fromMs: number, toMs: number): StoredEvent[] {
    return (this.stmts.eventsForIp.all(ip, fromMs, toMs) as EventTuple[]).map(this.toEvent);
  }

  aggregatesInRange(fromMs: number, toMs: number): AggRow[] {
    return (this.stmts.aggInRange.all(fromMs, toMs) as RawAgg[]).map((r) => {
      const a: AggRow = {
        minute: r.minute, source: r.source, kind: r.kind, rip: r.rip, lport: r.lport, detail: r.detail, count: r.count, bytes: r.bytes,
        firstTs: r.first_ts, lastTs: r.last_ts, lip: r.lip, samplePath: r.path, sampleLine: r.sample_line, sampleRaw: r.sample_raw,
      };
      if (r.sample_raw === null && r.sample_off != null && r.sample_file_id !== null) {
        pendingSamples.set(a, { fileId: r.sample_file_id, off: r.sample_off, len: r.sample_len!, check: r.sample_check! });
      }
      return a;
    });
  }

  // ---- evidence by reference (migration 12) ----

  private evidenceReader: EvidenceReader | null = null;

  /** Reads lines stored by reference back from their files (src/store/evidence.ts). */
  get evidence(): EvidenceReader {
    this.evidenceReader ??= new EvidenceReader((id) => {
      const f = this.fileById(id);
      return f ? { path: f.path, fpHash: f.fpHash, fpLen: f.fpLen } : null;
    });
    return this.evidenceReader;
  }

  /** Fill in `raw` of events handed out by this store whose line was stored by reference (rawUnreadable when it cannot be read). */
  async resolveEvents(events: StoredEvent[]): Promise<StoredEvent[]> {
    await this.readBack(events, pendingRefs, (e, g) => {
      if (g.text !== null) e.raw = g.text; else e.rawUnreadable = g.reason;
    });
    return events;
  }

  /** Fill in `sampleRaw` of aggregates handed out by this store whose sample was stored by reference. */
  async resolveSamples(aggs: AggRow[]): Promise<AggRow[]> {
    await this.readBack(aggs, pendingSamples, (a, g) => { if (g.text !== null) a.sampleRaw = g.text; else a.sampleUnreadable = g.reason; });
    return aggs;
  }

  /** Read the lines of the rows that wait for theirs, all at once (per file in offset order), and `fill` each row. */
  private async readBack<T extends object>(rows: T[], pending: WeakMap<T, EvidenceRef>, fill: (row: T, got: ReadBack) => void): Promise<void> {
    const want: T[] = [];
    const refs: EvidenceRef[] = [];
    for (const r of rows) {
      const ref = pending.get(r);
      if (ref) { want.push(r); refs.push(ref); }
    }
    if (!refs.length) return;
    const got = await this.evidence.read(refs);
    for (let i = 0; i < want.length; i++) {
      pending.delete(want[i]);
      fill(want[i], got[i]);
    }
  }

  /** Which flow sources hold data in [from, to), with their byte totals. */
  flowSources(fromMs: number, toMs: number): Array<{ source: string; bytesIn: number; bytesOut: number; first: number; last: number }> {
    const out: Array<{ source: string; bytesIn: number; bytesOut: number; first: number; last: number }> = [];
    for (const source of this.stmts.flowSourceNames.all() as string[]) {
      const t = this.stmts.flowTotalsOfSource.get(source, fromMs, toMs) as { n: number; bytesIn: number; bytesOut: number; first: number; last: number };
      if (t.n > 0) out.push({ source, bytesIn: t.bytesIn, bytesOut: t.bytesOut, first: t.first, last: t.last });
    }
    return out;
  }

  flowsInRange(source: string, fromMs: number, toMs: number): FlowRow[] {
    return this.stmts.flowsInRange.all(source, fromMs, toMs) as FlowRow[];
  }

  /** Flow records one at a time, without holding a window's worth in memory. */
  iterateFlows(source: string, fromMs: number, toMs: number): IterableIterator<FlowRow> {
    return this.stmts.flowsInRange.iterate(source, fromMs, toMs) as IterableIterator<FlowRow>;
  }

  /** VPN traffic in [from, to): the VPN ports, and anything to or from the given virtual addresses. */
  vpnFlowsInRange(source: string, fromMs: number, toMs: number, vpnPorts: number[], vips: string[]): FlowRow[] {
    return this.stmts.vpnFlowsInRange.all(source, fromMs, toMs, JSON.stringify(vpnPorts), JSON.stringify(vips), JSON.stringify(vips)) as FlowRow[];
  }

  flowBytesBetween(source: string, fromMs: number, toMs: number): { bytes: number; n: number } {
    return this.stmts.flowBytesBetween.get(source, fromMs, toMs) as { bytes: number; n: number };
  }

  flowExtent(source: string): { first: number | null; last: number | null } {
    return this.stmts.flowExtent.get(source) as { first: number | null; last: number | null };
  }

  leasesInRange(fromMs: number, toMs: number): LeaseRow[] {
    return (this.stmts.leasesInRange.all(fromMs, toMs) as Array<Record<string, unknown>>).map((r) => ({
      account: r.account as string, realIp: r.real_ip as string, realPort: r.real_port as number, vip: r.vip as string,
      firstTs: r.first_ts as number, lastTs: r.last_ts as number, source: r.source as string,
    }));
  }

  /** Open connections of listings taken in [from, to) whose start the listing did not give (conntrack_open). */
  openConnections(fromMs: number, toMs: number): OpenConnInput[] {
    return (this.stmts.openConnsInRange.all(fromMs, toMs) as Array<Record<string, number | string>>).map((r) => ({
      listingTs: r.listing_ts as number, proto: r.proto as number, lip: r.lip as string, lport: r.lport as number, rip: r.rip as string, rport: r.rport as number,
      service: r.service as string, bytesIn: r.bytes_in as number, bytesOut: r.bytes_out as number, packetsIn: r.packets_in as number, packetsOut: r.packets_out as number,
    }));
  }

  interfaceTotals(granularity: string, fromMs: number, toMs: number): Array<{ iface: string; rx: number; tx: number }> {
    return this.stmts.ifaceTotalsInRange.all(granularity, fromMs, toMs) as Array<{ iface: string; rx: number; tx: number }>;
  }

  /** First and last event time in the database, or nulls when it is empty. */
  dataExtent(): { first: number | null; last: number | null } {
    return this.stmts.dataExtent.get() as { first: number | null; last: number | null };
  }

  counts(): { events: number; aggregated: number; flows: number; files: number } {
    return this.stmts.counts.get() as { events: number; aggregated: number; flows: number; files: number };
  }

  /**
   * A writer that is the last to close leaves the database in rollback-journal mode: a WAL
   * database cannot be read by a user who may not create its -shm file (another account on a
   * 0444 file), and a rollback-mode one can. With another connection open the switch fails at
   * once (busy timeout 0) and the database stays in WAL mode; the next writer sets WAL again.
   */
  close(): void {
    if (!this.db.open) return;
    if (this.writable) {
      try {
        this.db.pragma('busy_timeout = 0');
        this.db.pragma('journal_mode = DELETE');
      } catch { /* another process has it open */ }
    }
    this.db.close();
  }

  /**
   * Events of one source with any of these session keys, of these accounts, from `sinceMs` on,
   * oldest first (a Dovecot logout has no rip: it joins its login by session).
   */
  eventsForSessions(source: string, keys: SessionKeys): StoredEvent[] {
    if (!keys.sessions.length) return [];
    return (this.stmts.eventsForSessions.all(JSON.stringify(keys.accounts), keys.sinceMs, source, JSON.stringify(keys.sessions)) as EventTuple[]).map(this.toEvent);
  }

  // ---- counter snapshots and the flows view (flows stage) ----

  private lossStmtsCache: ReturnType<Store['prepareLossStatements']> | null = null;

  /**
   * Statements on what migration 5 added, prepared on first use: a read-only connection
   * (which does not migrate) may open a database that does not have them yet.
   */
  private get lossStmts(): ReturnType<Store['prepareLossStatements']> {
    return (this.lossStmtsCache ??= this.prepareLossStatements());
  }

  private prepareLossStatements() {
    const db = this.db;
    return {
      insertUnparsed: db.prepare('INSERT INTO unparsed (file_id, line, source, reason, text, raw) VALUES (?, ?, ?, ?, ?, ?)'),
      upsertReason: db.prepare(`INSERT INTO unparsed_reasons (file_id, source, reason, count) VALUES (?, ?, ?, ?)
        ON CONFLICT (file_id, source, reason) DO UPDATE SET count = count + excluded.count`),
      addLoss: db.prepare(`INSERT INTO losses (path, reason, lines, bytes, last_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (path, reason) DO UPDATE SET lines = lines + excluded.lines, bytes = bytes + excluded.bytes, last_at = excluded.last_at`),
      setLoss: db.prepare(`INSERT INTO losses (path, reason, lines, bytes, last_at) VALUES (?, ?, ?, ?, ?)
        ON CONFLICT (path, reason) DO UPDATE SET lines = excluded.lines, bytes = excluded.bytes, last_at = excluded.last_at`),
    };
  }

  private flowStmtsCache: ReturnType<Store['prepareFlowStatements']> | null = null;

  /** Statements of this section, prepared once, on first use. */
  private get flowStmts(): ReturnType<Store['prepareFlowStatements']> {
    return (this.flowStmtsCache ??= this.prepareFlowStatements());
  }

  private prepareFlowStatements() {
    const db = this.db;
    const sums = 'sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut, sum(packets_in) AS packetsIn, sum(packets_out) AS packetsOut';
    const where = 'WHERE source = ? AND minute >= ? AND minute < ?';
    const top = (col: string) => db.prepare(`SELECT ${col} AS key, ${sums} FROM flows ${where} GROUP BY ${col}
      ORDER BY sum(bytes_in + bytes_out) DESC, ${col} LIMIT ?`);
    const count = (col: string) => db.prepare(`SELECT count(*) AS n FROM (SELECT 1 FROM flows ${where} GROUP BY ${col})`);
    return {
      flowTotals: db.prepare(`SELECT coalesce(sum(bytes_in), 0) AS bytesIn, coalesce(sum(bytes_out), 0) AS bytesOut,
        coalesce(sum(packets_in), 0) AS packetsIn, coalesce(sum(packets_out), 0) AS packetsOut FROM flows ${where}`),
      byRemote: top('rip'), byService: top('service'), byLocalPort: top('lport'),
      countRemote: count('rip'), countService: count('service'), countLocalPort: count('lport'),
      byMinute: db.prepare(`SELECT minute AS key, ${sums} FROM flows ${where} GROUP BY minute ORDER BY minute`),
    };
  }

  /**
   * Store everything one counter snapshot gave (`b`: flows, leases, interface totals, the delta
   * engine's new state) and the snapshot's record in ONE transaction: a crash leaves either all
   * of it or none. `seen` (nothing written) when a snapshot with this content hash is already
   * stored; `raced` (nothing written) when the engine state under `expectState.key` is no longer
   * `expectState.value` or the file's offset moved: another process stored a snapshot meanwhile,
   * and the deltas must be computed again from the new state.
   */
  commitSnapshot(b: Batch, snap: { kind: FileKind; contentHash: string; path: string; ts: number }, expectState?: { key: string; value: string | null }): 'stored' | 'seen' | 'raced' {
    const s = this.stmts;
    const run = this.db.transaction((): 'stored' | 'seen' | 'raced' => {
      if (s.snapshotSeen.get(snap.kind, snap.contentHash) !== undefined) return 'seen';
      if (expectState) {
        const cur = s.getState.get(expectState.key) as { value: string } | undefined;
        if ((cur?.value ?? null) !== expectState.value) return 'raced';
      }
      // Nested: commitBatch runs in a savepoint of this transaction.
      if (!this.commitBatch(b)) return 'raced';
      s.insertSnapshot.run(snap.kind, snap.contentHash, snap.path, snap.ts);
      return 'stored';
    });
    try {
      return run.immediate();
    } catch (err) {
      if (err instanceof StoreError) throw err;
      throw this.writeError(err);
    }
  }

  /** Bytes and packets of one flow source with minute in [from, to). */
  flowTotals(source: string, fromMs: number, toMs: number): FlowTotals {
    return this.flowStmts.flowTotals.get(source, fromMs, toMs) as FlowTotals;
  }

  /**
   * One flow source in [from, to) grouped by remote address, service or local port (the `limit`
   * largest groups by bytes in + out, then by key; `groups` is how many there are in all), or by
   * minute (every minute with data, oldest first).
   */
  flowGroups(source: string, by: 'remote' | 'service' | 'local-port' | 'minute', fromMs: number, toMs: number, limit: number):
    { rows: Array<FlowTotals & { key: string | number }>; groups: number } {
    const f = this.flowStmts;
    if (by === 'minute') {
      const rows = f.byMinute.all(source, fromMs, toMs) as Array<FlowTotals & { key: number }>;
      return { rows, groups: rows.length };
    }
    const [list, count] = by === 'remote' ? [f.byRemote, f.countRemote] : by === 'service' ? [f.byService, f.countService] : [f.byLocalPort, f.countLocalPort];
    return {
      rows: list.all(source, fromMs, toMs, limit) as Array<FlowTotals & { key: string | number }>,
      groups: (count.get(source, fromMs, toMs) as { n: number }).n,
    };
  }

  private unparsedStmts: { bySource: Database.Statement; all: Database.Statement; ofSource: Database.Statement } | null = null;

  /**
   * Lines not understood, for `bytetrail unparsed`: how many per source (every one counted, from
   * file_stats) and the stored samples (a bounded number per file and source), newest files first.
   */
  unparsedReport(source: string | null, limit: number): { counts: Record<string, number>; samples: UnparsedRow[] } {
    this.unparsedStmts ??= {
      bySource: this.db.prepare('SELECT source, SUM(unparsed) AS n FROM file_stats GROUP BY source HAVING n > 0 ORDER BY source'),
      all: this.db.prepare(`SELECT f.path, u.line, u.source, u.reason, u.text FROM unparsed u JOIN files f ON f.id = u.file_id
        ORDER BY u.file_id DESC, u.line LIMIT ?`),
      ofSource: this.db.prepare(`SELECT f.path, u.line, u.source, u.reason, u.text FROM unparsed u JOIN files f ON f.id = u.file_id
        WHERE u.source = ? ORDER BY u.file_id DESC, u.line LIMIT ?`),
    };
    const st = this.unparsedStmts;
    const counts: Record<string, number> = {};
    for (const r of st.bySource.all() as Array<{ source: string; n: number }>) counts[r.source] = r.n;
    const samples = (source === null ? st.all.all(limit) : st.ofSource.all(source, limit)) as UnparsedRow[];
    return { counts, samples };
  }
}

/** A stored sample of a line not understood. */
export interface UnparsedRow { path: string; line: number; source: string; reason: string; text: string }

export interface FlowTotals { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }

/**
 * An event row as SQLite hands it out in raw mode, in eventColumns() order: an array, which
 * better-sqlite3 builds several times faster than an object with named fields.
 */
type EventTuple = [
  id: number, ts: number, source: string, host: string | null, program: string | null, kind: string, account: string | null,
  rip: string | null, rport: number | null, lip: string | null, lport: number | null, session: string | null,
  bytesIn: number | null, bytesOut: number | null, fileId: number | null, line: number | null, attrs: string | null, raw: string | null, path: string | null,
  rawOff: number | null, rawLen: number | null, rawCheck: number | null,
];

/** The columns of an EventTuple, from `events e` joined to `files f`; `raw`: the raw text's expression (NULL when not needed). */
function eventColumnsOf(raw: 'e.raw' | 'NULL', refs: boolean): string {
  const ref = raw === 'NULL' || !refs ? 'NULL, NULL, NULL' : 'e.raw_off, e.raw_len, e.raw_check';
  return `e.id, e.ts, e.source, e.host, e.program, e.kind, e.account, e.rip, e.rport, e.lip, e.lport, e.session,
    e.bytes_in, e.bytes_out, e.file_id, e.line, e.attrs, ${raw} AS raw, f.path AS path, ${ref}`;
}

interface RawAgg {
  minute: number; source: string; kind: string; rip: string; lport: number; detail: string; count: number; bytes: number;
  first_ts: number; last_ts: number; lip: string | null; sample_line: number | null; sample_raw: string | null; path: string | null;
  sample_file_id: number | null; sample_off: number | null; sample_len: number | null; sample_check: number | null;
}

/** The flows table's columns under FlowRow's names: rows come out of SQLite as FlowRows. */
const FLOW_ROW_COLUMNS = `source, minute, iface, proto, lip, lport, rip, rport, service,
  bytes_in AS bytesIn, bytes_out AS bytesOut, packets_in AS packetsIn, packets_out AS packetsOut`;

/** The references of events and of aggregates whose line is to be read back (by the object handed out), until it is. */
const pendingRefs = new WeakMap<StoredEvent, EvidenceRef>();
const pendingSamples = new WeakMap<AggRow, EvidenceRef>();

interface RawFile {
  id: number; path: string; dev: number | null; ino: number | null; fp_hash: string; fp_len: number; kind: FileKind;
  offset: number; tail_hash: string | null; lines: number; size: number | null; mtime: number | null;
}

function toFile(r: RawFile): FileRecord {
  return {
    id: r.id, path: r.path, dev: r.dev, ino: r.ino, fpHash: r.fp_hash, fpLen: r.fp_len, kind: r.kind,
    offset: r.offset, tailHash: r.tail_hash, lines: r.lines, size: r.size, mtime: r.mtime,
  };
}

export function openStore(opts: Partial<StoreOptions> = {}): Store {
  return new Store({ ...opts, path: opts.path ?? defaultDbPath() });
}
