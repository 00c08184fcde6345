/**
 * The SQL behind `watch` and `status`: followed paths, the watch's own state, alerts, traffic
 * per window and per hour, and retention. Kept beside the Store (same database, same
 * connection) so that all SQL stays in the store stage; the tables come from migration 2.
 */
import { FLOW_SOURCE_WALK, type FileKind, type Store } from './index.js';

export interface WatchPathRow {
  path: string; fileId: number | null; kind: FileKind | null; state: string; message: string | null;
  size: number | null; lastReadAt: number | null; lastLineAt: number | null; updatedAt: number;
}

export interface WatchPathView extends WatchPathRow {
  /** From the files row: content bytes consumed and lines read. */
  offset: number | null; lines: number | null;
}

export interface FileView { id: number; path: string; kind: FileKind; offset: number; lines: number; size: number | null; lastRead: number }

export interface AlertRow { id: number; ts: number; incident: string; type: string; summary: string; json: string }

export interface IfaceBytes { iface: string; bytesIn: number; bytesOut: number; n: number }

export const HOUR_MS = 3_600_000;
const MINUTE_MS = 60_000;

export class WatchStore {
  private readonly s: ReturnType<WatchStore['prepare']>;

  constructor(readonly store: Store) {
    this.s = this.prepare();
  }

  /** Whether the database has the watch tables (migration 2); a read-only open of an older one has not. */
  static available(store: Store): boolean {
    return store.hasTable('watch_paths');
  }

  private prepare() {
    const db = this.store.db;
    return {
      upsertPath: db.prepare(`INSERT INTO watch_paths (path, file_id, kind, state, message, size, last_read_at, last_line_at, updated_at)
        VALUES (@path, @fileId, @kind, @state, @message, @size, @lastReadAt, @lastLineAt, @updatedAt)
        ON CONFLICT (path) DO UPDATE SET file_id = excluded.file_id, kind = excluded.kind, state = excluded.state, message = excluded.message,
          size = excluded.size, last_read_at = excluded.last_read_at, last_line_at = excluded.last_line_at, updated_at = excluded.updated_at`),
      clearPaths: db.prepare('DELETE FROM watch_paths'),
      paths: db.prepare(`SELECT w.*, f.offset AS offset, f.lines AS lines FROM watch_paths w LEFT JOIN files f ON f.id = w.file_id ORDER BY w.path`),
      recentFiles: db.prepare('SELECT id, path, kind, offset, lines, size, last_read FROM files ORDER BY last_read DESC LIMIT ?'),
      fileByInode: db.prepare('SELECT id, kind, offset, lines FROM files WHERE dev = ? AND ino = ? ORDER BY last_read DESC, id DESC LIMIT 1'),
      putState: db.prepare(`INSERT INTO watch_state (key, value, updated_at) VALUES (?, ?, ?)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`),
      getState: db.prepare('SELECT value FROM watch_state WHERE key = ?'),
      deleteState: db.prepare('DELETE FROM watch_state WHERE key = ?'),
      insertAlert: db.prepare('INSERT INTO alerts (ts, incident, type, summary, json) VALUES (?, ?, ?, ?, ?)'),
      lastAlert: db.prepare('SELECT * FROM alerts ORDER BY id DESC LIMIT 1'),
      alertCount: db.prepare('SELECT count(*) AS n FROM alerts'),
      flowTraffic: db.prepare(`SELECT iface, coalesce(sum(bytes_in), 0) AS bytesIn, coalesce(sum(bytes_out), 0) AS bytesOut, count(*) AS n
        FROM flows WHERE source = ? AND minute >= ? AND minute < ? GROUP BY iface ORDER BY iface`),
      // The WHERE matches the partial index events_counters_ts.
      counterTraffic: db.prepare(`SELECT coalesce(sum(bytes_in), 0) AS bytesIn, coalesce(sum(bytes_out), 0) AS bytesOut, count(*) AS n
        FROM events WHERE ts >= ? AND ts < ? AND (bytes_in IS NOT NULL OR bytes_out IS NOT NULL)`),
      hourlyTraffic: db.prepare('SELECT iface, bytes_in AS bytesIn, bytes_out AS bytesOut, 1 AS n FROM traffic_hourly WHERE source = ? AND hour = ? ORDER BY iface'),
      newestEvent: db.prepare('SELECT max(ts) AS t FROM events'),
      newestFlow: db.prepare(`${FLOW_SOURCE_WALK} SELECT max((SELECT max(minute) FROM flows WHERE source = x)) AS t FROM s`),
      oldestEvent: db.prepare('SELECT min(ts) AS t FROM events'),
      oldestAgg: db.prepare('SELECT min(minute) AS t FROM event_agg'),
      oldestFlow: db.prepare(`${FLOW_SOURCE_WALK} SELECT min((SELECT min(minute) FROM flows WHERE source = x)) AS t FROM s`),
      // Roll-ups replace an hour from the raw rows, so running one twice changes nothing.
      clearTrafficHour: db.prepare('DELETE FROM traffic_hourly WHERE hour = ?'),
      rollTrafficFlows: db.prepare(`${FLOW_SOURCE_WALK} INSERT INTO traffic_hourly (hour, source, iface, bytes_in, bytes_out)
        SELECT ?, source, iface, sum(bytes_in), sum(bytes_out) FROM s JOIN flows ON source = x WHERE minute >= ? AND minute < ? GROUP BY source, iface`),
      rollTrafficCounters: db.prepare(`INSERT INTO traffic_hourly (hour, source, iface, bytes_in, bytes_out)
        SELECT ?, 'log-counters', 'logs', coalesce(sum(bytes_in), 0), coalesce(sum(bytes_out), 0) FROM events
        WHERE ts >= ? AND ts < ? AND (bytes_in IS NOT NULL OR bytes_out IS NOT NULL) HAVING count(*) > 0`),
      clearEventsHour: db.prepare('DELETE FROM events_hourly WHERE hour = ?'),
      rollEvents: db.prepare(`INSERT INTO events_hourly (hour, source, kind, account, count, bytes_in, bytes_out)
        SELECT ?, source, kind, coalesce(account, ''), count(*), coalesce(sum(bytes_in), 0), coalesce(sum(bytes_out), 0) FROM events
        WHERE ts >= ? AND ts < ? GROUP BY source, kind, coalesce(account, '')`),
      rollAggs: db.prepare(`INSERT INTO events_hourly (hour, source, kind, account, count, bytes_in, bytes_out)
        SELECT ?, source, kind, '', sum(count), 0, 0 FROM event_agg WHERE minute >= ? AND minute < ? GROUP BY source, kind
        ON CONFLICT (hour, source, kind, account) DO UPDATE SET count = count + excluded.count`),
      deleteEvents: db.prepare('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE ts < ? ORDER BY ts LIMIT ?)'),
      deleteAggs: db.prepare('DELETE FROM event_agg WHERE minute >= ? AND minute < ?'),
      deleteFlows: db.prepare(`${FLOW_SOURCE_WALK} DELETE FROM flows WHERE source IN s AND minute >= ? AND minute < ?`),
      deleteLeases: db.prepare('DELETE FROM vpn_leases WHERE last_ts < ?'),
      deleteSnapshots: db.prepare('DELETE FROM snapshots WHERE ts < ?'),
      deleteTrafficHourly: db.prepare('DELETE FROM traffic_hourly WHERE hour < ?'),
      deleteEventsHourly: db.prepare('DELETE FROM events_hourly WHERE hour < ?'),
      deleteAlerts: db.prepare('DELETE FROM alerts WHERE ts < ?'),
      deleteIfaceTotals: db.prepare('DELETE FROM iface_totals WHERE start < ?'),
      pageBytes: db.prepare('SELECT page_count * page_size AS bytes FROM pragma_page_count(), pragma_page_size()'),
    };
  }

  // ---- followed paths ----

  /** The watch's view of its paths, replaced as a whole (a path no longer followed disappears). */
  replacePaths(rows: WatchPathRow[]): void {
    this.store.withWriteLock(() => {
      this.s.clearPaths.run();
      for (const r of rows) this.s.upsertPath.run(r);
    });
  }

  paths(): WatchPathView[] {
    return (this.s.paths.all() as Array<Record<string, unknown>>).map((r) => ({
      path: r.path as string, fileId: r.file_id as number | null, kind: r.kind as FileKind | null, state: r.state as string,
      message: r.message as string | null, size: r.size as number | null, lastReadAt: r.last_read_at as number | null,
      lastLineAt: r.last_line_at as number | null, updatedAt: r.updated_at as number,
      offset: r.offset as number | null, lines: r.lines as number | null,
    }));
  }

  /** Files read by any run (ingest or watch), most recently read first. */
  recentFiles(limit: number): FileView[] {
    return (this.s.recentFiles.all(limit) as Array<Record<string, unknown>>).map((r) => ({
      id: r.id as number, path: r.path as string, kind: r.kind as FileKind, offset: r.offset as number, lines: r.lines as number,
      size: r.size as number | null, lastRead: r.last_read as number,
    }));
  }

  /** The stream most recently read from this inode (ingest touches the files row it reads). */
  fileByInode(dev: number, ino: number): { id: number; kind: FileKind; offset: number; lines: number } | null {
    return (this.s.fileByInode.get(dev, ino) as { id: number; kind: FileKind; offset: number; lines: number } | undefined) ?? null;
  }

  // ---- state ----

  putState(key: string, value: string, now = Date.now()): void {
    this.s.putState.run(key, value, now);
  }

  putStates(entries: Array<[string, string]>, now = Date.now()): void {
    this.store.withWriteLock(() => { for (const [k, v] of entries) this.s.putState.run(k, v, now); });
  }

  state(key: string): string | null {
    return (this.s.getState.get(key) as { value: string } | undefined)?.value ?? null;
  }

  deleteState(key: string): void {
    this.s.deleteState.run(key);
  }

  // ---- alerts ----

  recordAlert(a: { ts: number; incident: string; type: string; summary: string; json: string }): void {
    this.s.insertAlert.run(a.ts, a.incident, a.type, a.summary, a.json);
  }

  lastAlert(): AlertRow | null {
    return (this.s.lastAlert.get() as AlertRow | undefined) ?? null;
  }

  alertCount(): number {
    return (this.s.alertCount.get() as { n: number }).n;
  }

  // ---- traffic ----

  /** Flow bytes per interface of one source with minute in [from, to). */
  flowTraffic(source: string, fromMs: number, toMs: number): IfaceBytes[] {
    return this.s.flowTraffic.all(source, fromMs, toMs) as IfaceBytes[];
  }

  /** The logs' own byte counters (Dovecot in=/out= at logout) of events in [from, to). */
  counterTraffic(fromMs: number, toMs: number): IfaceBytes {
    const r = this.s.counterTraffic.get(fromMs, toMs) as { bytesIn: number; bytesOut: number; n: number };
    return { iface: 'logs', ...r };
  }

  /** One rolled-up hour of a source, per interface. */
  hourlyTraffic(source: string, hour: number): IfaceBytes[] {
    return this.s.hourlyTraffic.all(source, hour) as IfaceBytes[];
  }

  /** The newest moment the stored data reaches: last event, or the end of the last flow minute. */
  newestDataTime(): number | null {
    const e = (this.s.newestEvent.get() as { t: number | null }).t;
    const f = (this.s.newestFlow.get() as { t: number | null }).t;
    const fe = f === null ? null : f + MINUTE_MS;
    if (e === null) return fe;
    return fe === null ? e : Math.max(e, fe);
  }

  oldestRawTime(): number | null {
    const ts = [this.s.oldestEvent, this.s.oldestAgg, this.s.oldestFlow].map((q) => (q.get() as { t: number | null }).t).filter((t): t is number => t !== null);
    return ts.length ? Math.min(...ts) : null;
  }

  // ---- retention ----

  /** Replace the hourly roll-ups of [hour, hour + 1h) from the raw rows, and mark the hour rolled, in one transaction. */
  rollUpHour(hour: number, markKey: string): void {
    const s = this.s;
    const end = hour + HOUR_MS;
    this.store.db.transaction(() => {
      s.clearTrafficHour.run(hour);
      s.rollTrafficFlows.run(hour, hour, end);
      s.rollTrafficCounters.run(hour, hour, end);
      s.clearEventsHour.run(hour);
      s.rollEvents.run(hour, hour, end);
      s.rollAggs.run(hour, hour, end);
      s.putState.run(markKey, String(end), Date.now());
    }).immediate();
  }

  /** Delete up to `limit` raw events older than `before`; returns how many went. */
  deleteEventsBefore(before: number, limit: number): number {
    return this.s.deleteEvents.run(before, limit).changes;
  }

  /** Delete aggregates and flows with minute in [from, to); returns rows deleted. */
  deleteMinutes(fromMs: number, toMs: number): number {
    return this.store.db.transaction(() => this.s.deleteAggs.run(fromMs, toMs).changes + this.s.deleteFlows.run(fromMs, toMs).changes).immediate();
  }

  oldestMinute(): number | null {
    const ts = [this.s.oldestAgg, this.s.oldestFlow].map((q) => (q.get() as { t: number | null }).t).filter((t): t is number => t !== null);
    return ts.length ? Math.min(...ts) : null;
  }

  /** Leases and snapshot marks older than `before`; roll-ups, alerts and interface totals older than `hourlyBefore`. */
  pruneSmall(before: number, hourlyBefore: number): number {
    const s = this.s;
    return this.store.db.transaction(() =>
      s.deleteLeases.run(before).changes + s.deleteSnapshots.run(before).changes
      + s.deleteTrafficHourly.run(hourlyBefore).changes + s.deleteEventsHourly.run(hourlyBefore).changes
      + s.deleteAlerts.run(hourlyBefore).changes + s.deleteIfaceTotals.run(hourlyBefore).changes).immediate();
  }

  /** Bytes the database pages take (the main file once checkpointed). */
  pageBytes(): number {
    return (this.s.pageBytes.get() as { bytes: number }).bytes;
  }
}
