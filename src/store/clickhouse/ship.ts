/**
 * `ship`: send what the local database holds and the central store does not have yet. The
 * local database is the outbox (src/store/outbox.ts); a table's high-water mark moves only
 * after ClickHouse has acknowledged the batch, so `kill -9`, a ClickHouse restart or a cut
 * connection at any moment at worst sends a batch again, and the ReplacingMergeTree tables
 * merge the copy away (see migrations.ts).
 *
 * Batches follow ClickHouse's advice for inserts: thousands of rows each, gzip-compressed, and
 * few of them. A run drains each table in batches of up to `batchRows`; `watch --ship` calls it
 * every few seconds, so a sender makes about one insert per table per interval when it keeps
 * up and larger ones when it is behind.
 */
import type { Store } from '../index.js';
import { Outbox, OUTBOX_TABLES, type LocalValue, type OutboxBatch, type OutboxTable } from '../outbox.js';
import { StoreError } from '../../errors.js';
import { warn } from '../../output.js';
import { Central, type CentralRow, type MigrateResult } from './central.js';
import { CENTRAL_TABLES, ROLLUP_TABLES } from './migrations.js';
import { tsvString } from './sql.js';
import type { ClickHouseTarget } from './url.js';

export interface ShipOptions {
  /** --server; the recorded name (or `defaultServer`) otherwise. */
  server?: string;
  defaultServer: string;
  /** Most log entries per insert. */
  batchRows?: number;
  /** Called after each acknowledged batch (progress on stderr). */
  onBatch?: (table: OutboxTable, rows: number) => void;
  now?: () => number;
}

export interface ShipTableResult { table: OutboxTable; rows: number; batches: number; pending: number }

export interface ShipResult {
  target: string;
  server: string;
  serverVersion: string;
  migrationsApplied: number[];
  tables: ShipTableResult[];
  rows: number;
}

export const DEFAULT_BATCH_ROWS = 40_000;

/**
 * One sender: the outbox, the central store, and whether the schema has been checked (once per
 * process, not once per run, for `watch --ship`).
 */
export class Shipper {
  private readonly outbox: Outbox;
  private readonly central: Central;
  private migrated: MigrateResult | null = null;
  readonly server: string;

  constructor(store: Store, private readonly target: ClickHouseTarget, private readonly opts: ShipOptions) {
    this.outbox = new Outbox(store);
    this.server = this.outbox.serverName(opts.server, opts.defaultServer);
    this.outbox.claimTarget(target.display);
    this.central = new Central(target);
  }

  /** Sends every table until it is drained (or a batch fails: nothing acknowledged is lost). */
  async run(): Promise<ShipResult> {
    const now = this.opts.now ?? Date.now;
    const { outbox, central, server } = this;
    for (const t of OUTBOX_TABLES) {
      if (outbox.idsWentBack(t)) {
        throw new StoreError(`local ids of ${t} are below what was shipped (the table was emptied and started again)`, {
          hint: 'ship a fresh database under a new --server name; reusing ids would overwrite rows already shipped',
        });
      }
    }
    if (!this.migrated) {
      this.migrated = await central.migrate();
      outbox.track(now());
    }
    const limit = Math.max(1, this.opts.batchRows ?? DEFAULT_BATCH_ROWS);
    const tables: ShipTableResult[] = [];
    for (const table of OUTBOX_TABLES) {
      const res: ShipTableResult = { table, rows: 0, batches: 0, pending: 0 };
      // A batch sent by a run that died before the acknowledgement goes again first, as it was.
      let b = outbox.inFlight(table) ?? outbox.batch(table, limit);
      while (b.read > 0) {
        outbox.sending(b);
        const sending = this.send(b);
        // Awaited below: a failure while the next batch is read must not count as unhandled.
        sending.catch(() => {});
        // The next batch is read while this one travels and ClickHouse parses it; it starts
        // after this batch's end, and is acknowledged only after this one.
        // Read giving the event loop back only when nothing else uses the connection: under
        // `watch --ship`, watch's own statements would find it busy with the open read.
        const next = !b.more ? null
          : this.alone ? await outbox.batchAsync(table, limit, undefined, b.highWater) : outbox.batch(table, limit, undefined, b.highWater);
        await sending;
        outbox.ack(b, now());
        res.rows += b.rows.length;
        res.batches++;
        this.opts.onBatch?.(table, b.rows.length);
        if (!next) break;
        b = next;
      }
      tables.push(res);
    }
    const pending = outbox.pending();
    for (const t of tables) t.pending = pending[t.table];
    const m = this.migrated;
    return { target: this.target.display, server, serverVersion: m.serverVersion, migrationsApplied: m.applied, tables, rows: tables.reduce((a, t) => a + t.rows, 0) };
  }

  /** One batch: its raw rows, then what it adds to the per-minute roll-ups (both merge away if sent again). */
  private async send(b: OutboxBatch): Promise<void> {
    const { central, server } = this;
    // Lines stored by reference travel as text (src/store/outbox.ts withEvidence).
    const unreadable = await this.outbox.withEvidence(b);
    if (unreadable) warn(`ship: ${unreadable} line(s) of ${b.table} are no longer readable from their files (rotated away or rewritten) and were sent without their text`);
    // Side by side (two connections): the acknowledgement waits for both.
    await Promise.all([
      b.rows.length ? central.insertLines(b.table, tsvLines(b, server)) : null,
      ...rollupRows(b, server).map(([name, rows]) => central.insertRollup(name, rows)),
    ]);
  }

  /** Whether this shipper has the database connection to itself (a one-shot `ship`). */
  private alone = false;

  /**
   * For a one-shot run that alone uses the connection: a small page cache (Outbox.readOnce), and
   * the next batch read while the previous one travels. Returns what puts the cache back.
   */
  aloneOnConnection(): () => void {
    this.alone = true;
    return this.outbox.readOnce();
  }

  close(): Promise<void> {
    return this.central.close();
  }
}

/**
 * What a batch adds to the per-minute roll-ups, per minute and key, tagged with the batch
 * (`feed`, `batch`): flows add their increase (add_*), events one each with their byte counters,
 * aggregates their added count. Other tables add nothing.
 *
 * A key is one string: the minute (digits), then each name but the last with its length, then
 * the last as it is, so no two keys share it whatever characters an account holds.
 */
export function rollupRows(b: OutboxBatch, server: string): Array<[string, CentralRow[]]> {
  const n = (v: LocalValue | undefined) => (v === null || v === undefined ? 0 : Math.trunc(Number(v)) || 0);
  const str = (v: LocalValue | undefined) => (v === null || v === undefined ? '' : String(v));
  const c = Object.fromEntries(b.columns.map((name, j) => [name, j]).reverse()) as Record<string, number>;
  const sums = new Map<string, CentralRow>();
  const feed = b.table, batch = b.highWater;
  let rollup: string;
  if (b.table === 'flows') {
    rollup = ROLLUP_TABLES.traffic.name;
    for (const r of b.rows) {
      const minute = n(r[c.minute]), source = str(r[c.source]), iface = str(r[c.iface]);
      const k = `${minute}:${source.length}:${source}${iface}`;
      let row = sums.get(k);
      if (!row) sums.set(k, row = { minute, server, source, iface, feed, batch, bytes_in: 0, bytes_out: 0, packets_in: 0, packets_out: 0 });
      (row.bytes_in as number) += n(r[c.add_bytes_in]);
      (row.bytes_out as number) += n(r[c.add_bytes_out]);
      (row.packets_in as number) += n(r[c.add_packets_in]);
      (row.packets_out as number) += n(r[c.add_packets_out]);
    }
  } else if (b.table === 'events' || b.table === 'event_agg') {
    rollup = ROLLUP_TABLES.events.name;
    const events = b.table === 'events';
    for (const r of b.rows) {
      const minute = events ? Math.floor(n(r[c.ts]) / 60_000) * 60_000 : n(r[c.minute]);
      // Aggregated kinds (drops, DNS queries) count as events without an account, as in SQLite's events_hourly.
      const source = str(r[c.source]), kind = str(r[c.kind]), account = events ? str(r[c.account]) : '';
      const k = `${minute}:${source.length}:${source}${kind.length}:${kind}${account}`;
      let row = sums.get(k);
      if (!row) sums.set(k, row = { minute, server, source, kind, account, feed, batch, events: 0, bytes_in: 0, bytes_out: 0 });
      if (events) {
        (row.events as number) += 1;
        (row.bytes_in as number) += n(r[c.bytes_in]);
        (row.bytes_out as number) += n(r[c.bytes_out]);
      } else (row.events as number) += n(r[c.add_count]);
    }
  } else return [];
  const rows = [...sums.values()].filter((row) => row.events || row.bytes_in || row.bytes_out || row.packets_in || row.packets_out);
  return rows.length ? [[rollup, rows]] : [];
}

export async function ship(store: Store, target: ClickHouseTarget, opts: ShipOptions): Promise<ShipResult> {
  const s = new Shipper(store, target, opts);
  const restore = s.aloneOnConnection();
  try {
    return await s.run();
  } finally {
    restore();
    await s.close();
  }
}

/**
 * `watch --ship`: a run every `intervalMs` (one insert per table per interval once caught up,
 * full batches back to back while behind). A failure is reported once and retried with a
 * growing pause, up to a minute; rows wait in the outbox meanwhile. Not async: a wrong
 * --server throws here, when watch starts, rather than when it stops.
 */
export function shipContinuously(store: Store, target: ClickHouseTarget, opts: ShipOptions & { intervalMs: number; notice: (m: string) => void }, signal: AbortSignal): Promise<void> {
  return shipLoop(new Shipper(store, target, opts), target, opts, signal);
}

async function shipLoop(s: Shipper, target: ClickHouseTarget, opts: { intervalMs: number; notice: (m: string) => void }, signal: AbortSignal): Promise<void> {
  let failing = false;
  let pause = opts.intervalMs;
  try {
    while (!signal.aborted) {
      try {
        const r = await s.run();
        if (failing) opts.notice(`shipping to ${target.display} works again (${r.rows} row(s) sent)`);
        failing = false;
        pause = opts.intervalMs;
      } catch (err) {
        if (!failing) opts.notice(`shipping to ${target.display} failed, retrying: ${(err as Error).message}`);
        failing = true;
        pause = Math.min(60_000, pause * 2);
      }
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, pause);
        function done() { clearTimeout(t); signal.removeEventListener('abort', done); resolve(); }
        signal.addEventListener('abort', done, { once: true });
      });
    }
  } finally {
    await s.close();
  }
}

type CentralColumn = (typeof CENTRAL_TABLES)[OutboxTable]['columns'][number];

/** Rows per chunk of a TabSeparated body: large enough that the stream's per-chunk cost vanishes, small beside a batch. */
const LINES_PER_CHUNK = 1000;

/**
 * A batch's rows as TabSeparated text in the central table's column order, in chunks of
 * LINES_PER_CHUNK lines, each built only when the request asks for it. Text straight from the
 * row arrays: no object and no JSON per row, which took a third of the sender's CPU. Values
 * are checked against the column's type, since SQLite keeps whatever it was given: a number
 * column holding text sends NULL (or 0), a fraction its integer part.
 */
export function* tsvLines(b: OutboxBatch, server: string): Generator<string> {
  const cols = CENTRAL_TABLES[b.table].columns as readonly CentralColumn[];
  const at = cols.map((c) => b.columns.indexOf(c.name));
  const nullable = cols.map((c) => 'nullable' in c && c.nullable === true);
  const text = cols.map((c) => c.type === 'String');
  const srv = tsvString(server);
  const n = cols.length;
  let chunk = '';
  for (let i = 0; i < b.rows.length; i++) {
    const r = b.rows[i];
    for (let j = 0; j < n; j++) {
      if (j > 0) chunk += '\t';
      const k = at[j];
      const v = k < 0 ? null : r[k];
      if (cols[j].name === 'server') chunk += srv;
      else if (v === null || v === undefined) chunk += nullable[j] ? '\\N' : text[j] ? '' : '0';
      else if (text[j]) chunk += tsvString(typeof v === 'string' ? v : String(v));
      else {
        const x = typeof v === 'number' && Number.isSafeInteger(v) ? v : Math.trunc(Number(v));
        chunk += Number.isFinite(x) ? String(x) : nullable[j] ? '\\N' : '0';
      }
    }
    chunk += '\n';
    if ((i + 1) % LINES_PER_CHUNK === 0) { yield chunk; chunk = ''; }
  }
  if (chunk) yield chunk;
}
