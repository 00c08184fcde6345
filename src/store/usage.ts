/**
 * The SQL behind `usage` and the hourly roll-ups (migration 9): which closed hours need rolling
 * up, replacing one hour's rows, and the sums per period that the report reads. Kept beside the
 * Store (same database, same connection) so that all SQL stays in the store stage.
 */
import { IDENTITY_KINDS } from '../sources/types.js';
import { LONG_SESSION_SOURCES } from '../sources/index.js';
import { FLOW_SOURCE_WALK, type Store } from './index.js';

const HOUR = 3_600_000;
/** investigate reads events up to 5 minutes past a window (late logouts). */
const EVENT_SLACK = 5 * 60_000;
/** How far an identity event reaches forward: investigate looks 24 h back for logins, 7 days for VPN sessions. */
const IDENTITY_REACH = 24 * HOUR;
const LONG_REACH = 7 * 24 * HOUR;
/** Set by retention (src/watch/traffic.ts ROLLED_KEY): raw rows below it are pruned, or about to be. */
const ROLLED_KEY = 'retention:rolled-through';

/** One roll-up row: an account's bytes in a service group, or a reason's bytes without an account (`account` ''). */
export interface UsageRow {
  account: string; service: string; reason: string;
  bytesIn: number; bytesOut: number;
  exact: number; sharedIp: number; ipOnly: number; logCounters: number; estimated: number;
}

export interface UsageHour {
  hour: number;
  flowSource: string;
  bytesIn: number; bytesOut: number;
  fingerprint: string;
  rows: UsageRow[];
  ifaces: Array<{ iface: string; rx: number; tx: number }>;
}

/** Sums of one period (its start), as the report reads them. */
export interface PeriodRow extends UsageRow { period: number }
export interface PeriodIface { period: number; iface: string; rx: number; tx: number; hours: number }
export interface PeriodHours { period: number; hours: number; bytesIn: number; bytesOut: number }

const ROW_SUMS = `sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut, sum(exact) AS exact, sum(shared_ip) AS sharedIp,
  sum(ip_only) AS ipOnly, sum(log_counters) AS logCounters, sum(estimated) AS estimated`;
/** The periods as [start, end) pairs in a JSON array, joined to the hours they hold. */
const PERIODS = `p(start, stop) AS (SELECT value ->> 0, value ->> 1 FROM json_each(?))`;

export class UsageStore {
  private readonly s: ReturnType<UsageStore['prepare']>;

  constructor(readonly store: Store) {
    this.s = this.prepare();
  }

  /** Whether the database has the usage tables (migration 9); a read-only open of an older one has not. */
  static available(store: Store): boolean {
    return store.hasTable('usage_hours');
  }

  private prepare() {
    const db = this.store.db;
    const kinds = IDENTITY_KINDS.map((k) => `'${k}'`).join(', ');
    const long = LONG_SESSION_SOURCES.map((n) => `'${n.replace(/'/g, "''")}'`).join(', ') || "''";
    return {
      getMeta: db.prepare('SELECT value FROM meta WHERE key = ?').pluck(),
      putMeta: db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
      getWatchState: db.prepare("SELECT value FROM watch_state WHERE key = ?").pluck(),
      maxEventId: db.prepare('SELECT coalesce(max(id), 0) FROM events').pluck(),
      // New events per hour: whether one falls in the first minutes (the hour before reads it too),
      // and whether one makes identities (read by later hours' look-backs).
      newEventHours: db.prepare(`SELECT ts - ts % ${HOUR} AS h, max(ts % ${HOUR} < ${EVENT_SLACK}) AS early,
        max(kind IN (${kinds})) AS ident, max(kind IN (${kinds}) AND source IN (${long})) AS long
        FROM events WHERE id > ? AND id <= ? GROUP BY h`),
      markDirty: db.prepare('INSERT INTO usage_dirty (lo, hi, gen) VALUES (?, ?, ?) ON CONFLICT (lo, hi) DO UPDATE SET gen = max(gen, excluded.gen)'),
      dirty: db.prepare('SELECT lo, hi, gen FROM usage_dirty'),
      staleIn: db.prepare('SELECT hour FROM usage_hours WHERE hour >= ? AND hour <= ? AND gen <= ?').pluck(),
      computedIn: db.prepare('SELECT hour FROM usage_hours WHERE hour >= ? AND hour < ?').pluck(),
      // A dirty range is spent once no hour in it is older than the range's mark (hours not rolled
      // up yet are computed anyway), or when it lies below the pruned raw rows.
      dropSpent: db.prepare(`DELETE FROM usage_dirty WHERE hi < ? OR NOT EXISTS
        (SELECT 1 FROM usage_hours h WHERE h.hour >= usage_dirty.lo AND h.hour <= usage_dirty.hi AND h.gen <= usage_dirty.gen)`),
      firstData: db.prepare(`${FLOW_SOURCE_WALK} SELECT min(t) FROM (SELECT min(ts) AS t FROM events
        UNION ALL SELECT min((SELECT min(minute) FROM flows WHERE source = x)) FROM s
        UNION ALL SELECT min(minute) FROM event_agg UNION ALL SELECT min(start) FROM iface_totals WHERE granularity IN ('fiveminute', 'hour'))`).pluck(),
      lastData: db.prepare(`${FLOW_SOURCE_WALK} SELECT max(t) FROM (SELECT max(ts) AS t FROM events
        UNION ALL SELECT max((SELECT max(minute) FROM flows WHERE source = x)) FROM s
        UNION ALL SELECT max(minute) FROM event_agg UNION ALL SELECT max(start) FROM iface_totals WHERE granularity IN ('fiveminute', 'hour'))`).pluck(),
      fpEvents: db.prepare('SELECT count(*) AS n, coalesce(max(id), 0) AS maxId FROM events WHERE ts >= ? AND ts < ?'),
      fpFlows: db.prepare(`${FLOW_SOURCE_WALK} SELECT count(*) AS n, coalesce(sum(bytes_in + bytes_out), 0) AS bytes
        FROM s JOIN flows ON source = x WHERE minute >= ? AND minute < ?`),
      fpAggs: db.prepare('SELECT count(*) AS n, coalesce(sum(count), 0) AS lines FROM event_agg WHERE minute >= ? AND minute < ?'),
      fpIface: db.prepare("SELECT count(*) AS n, coalesce(sum(rx + tx), 0) AS bytes FROM iface_totals WHERE start >= ? AND start < ? AND granularity IN ('fiveminute', 'hour')"),
      clearHourly: db.prepare('DELETE FROM usage_hourly WHERE hour = ?'),
      clearIface: db.prepare('DELETE FROM usage_iface WHERE hour = ?'),
      putHour: db.prepare(`INSERT INTO usage_hours (hour, gen, computed_at, flow_source, bytes_in, bytes_out, fingerprint) VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (hour) DO UPDATE SET gen = excluded.gen, computed_at = excluded.computed_at, flow_source = excluded.flow_source,
          bytes_in = excluded.bytes_in, bytes_out = excluded.bytes_out, fingerprint = excluded.fingerprint`),
      putRow: db.prepare(`INSERT INTO usage_hourly (hour, account, service, reason, bytes_in, bytes_out, exact, shared_ip, ip_only, log_counters, estimated)
        VALUES (@hour, @account, @service, @reason, @bytesIn, @bytesOut, @exact, @sharedIp, @ipOnly, @logCounters, @estimated)`),
      putIface: db.prepare('INSERT INTO usage_iface (hour, iface, rx, tx) VALUES (?, ?, ?, ?)'),
      periodRows: db.prepare(`WITH ${PERIODS} SELECT p.start AS period, account, service, reason, ${ROW_SUMS}
        FROM p JOIN usage_hourly u ON u.hour >= p.start AND u.hour < p.stop GROUP BY p.start, account, service, reason ORDER BY p.start`),
      periodRowsOf: db.prepare(`WITH ${PERIODS} SELECT p.start AS period, account, service, reason, ${ROW_SUMS}
        FROM p JOIN usage_hourly u ON u.account = ? AND u.hour >= p.start AND u.hour < p.stop GROUP BY p.start, account, service, reason ORDER BY p.start`),
      periodIfaces: db.prepare(`WITH ${PERIODS} SELECT p.start AS period, iface, sum(rx) AS rx, sum(tx) AS tx, count(*) AS hours
        FROM p JOIN usage_iface u ON u.hour >= p.start AND u.hour < p.stop GROUP BY p.start, iface ORDER BY p.start, iface`),
      periodHours: db.prepare(`WITH ${PERIODS} SELECT p.start AS period, count(*) AS hours, sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut
        FROM p JOIN usage_hours u ON u.hour >= p.start AND u.hour < p.stop GROUP BY p.start ORDER BY p.start`),
      rolledExtent: db.prepare('SELECT min(hour) AS first, max(hour) AS last, count(*) AS n FROM usage_hours'),
      quotaAlerted: db.prepare('SELECT 1 FROM usage_quota_alerts WHERE period = ? AND account = ? AND quota = ?'),
      quotaRecord: db.prepare('INSERT OR IGNORE INTO usage_quota_alerts (period, account, quota, bytes, alerted_at) VALUES (?, ?, ?, ?, ?)'),
      pruneHours: db.prepare('DELETE FROM usage_hours WHERE hour < ?'),
      pruneHourly: db.prepare('DELETE FROM usage_hourly WHERE hour < ?'),
      pruneIface: db.prepare('DELETE FROM usage_iface WHERE hour < ?'),
      pruneQuota: db.prepare('DELETE FROM usage_quota_alerts WHERE period < ?'),
    };
  }

  /** The server name `ship` records (meta ship.server), if any. */
  serverName(): string | null {
    return (this.s.getMeta.get('ship.server') as string | undefined) ?? null;
  }

  /** Raw rows below this hour may be pruned: their roll-ups are final. */
  frozenBefore(): number {
    const v = Number(this.s.getWatchState.get(ROLLED_KEY) ?? 'NaN');
    return Number.isFinite(v) ? v : -Infinity;
  }

  /**
   * Start a roll-up pass: mark the hours that the events stored since the last pass touch, and
   * open a new generation; hours computed in it carry it. Returns the generation.
   */
  beginPass(): number {
    return this.store.withWriteLock(() => {
      const gen = Number(this.s.getMeta.get('usage.gen') ?? '0');
      const seen = Number(this.s.getMeta.get('usage.events_id') ?? '0');
      const newest = this.s.maxEventId.get() as number;
      if (newest > seen) {
        for (const r of this.s.newEventHours.all(seen, newest) as Array<{ h: number; early: number; ident: number; long: number }>) {
          const lo = r.early ? r.h - HOUR : r.h;
          const hi = r.h + (r.long ? LONG_REACH : r.ident ? IDENTITY_REACH : 0);
          this.s.markDirty.run(lo, hi - (hi % HOUR), gen);
        }
        this.s.putMeta.run('usage.events_id', String(newest));
      }
      this.s.putMeta.run('usage.gen', String(gen + 1));
      return gen + 1;
    });
  }

  /**
   * The hours in [from, to) to roll up in a pass of generation `gen`: those with data around them
   * that were never rolled up, and those whose inputs changed since they were. Never hours below
   * the pruned raw rows.
   */
  hoursToRoll(from: number, to: number, gen: number): number[] {
    const lo = Math.max(from, this.frozenBefore());
    const first = this.s.firstData.get() as number | null;
    const last = this.s.lastData.get() as number | null;
    if (first === null || last === null) return [];
    const start = Math.max(lo, first - (first % HOUR));
    const end = Math.min(to, last - (last % HOUR) + HOUR);
    const out = new Set<number>();
    if (start < end) {
      const done = new Set(this.s.computedIn.all(start, end) as number[]);
      for (let h = start; h < end; h += HOUR) if (!done.has(h)) out.add(h);
    }
    for (const d of this.s.dirty.all() as Array<{ lo: number; hi: number; gen: number }>) {
      if (d.gen >= gen) continue;
      for (const h of this.s.staleIn.all(Math.max(d.lo, lo), Math.min(d.hi, to - HOUR), d.gen) as number[]) out.add(h);
    }
    return [...out].sort((a, b) => a - b);
  }

  /** What an hour was computed from: counts and max ids or sums of its own rows. */
  fingerprint(hour: number): string {
    const end = hour + HOUR;
    return JSON.stringify({
      events: this.s.fpEvents.get(hour, end + EVENT_SLACK), flows: this.s.fpFlows.get(hour, end),
      aggregates: this.s.fpAggs.get(hour, end), iface: this.s.fpIface.get(hour, end),
    });
  }

  /** Replace an hour's roll-up (never add to it), in one transaction. */
  putHour(h: UsageHour, gen: number, now: number): void {
    const s = this.s;
    this.store.withWriteLock(() => {
      s.clearHourly.run(h.hour);
      s.clearIface.run(h.hour);
      for (const r of h.rows) s.putRow.run({ hour: h.hour, ...r });
      for (const i of h.ifaces) s.putIface.run(h.hour, i.iface, i.rx, i.tx);
      s.putHour.run(h.hour, gen, now, h.flowSource, h.bytesIn, h.bytesOut, h.fingerprint);
    });
  }

  /** End a pass: forget the dirty ranges every hour of which has been rolled up since. */
  endPass(): void {
    this.store.withWriteLock(() => this.s.dropSpent.run(this.frozenBefore()));
  }

  periodRows(periods: Array<[number, number]>, account?: string): PeriodRow[] {
    const p = JSON.stringify(periods);
    return (account === undefined ? this.s.periodRows.all(p) : this.s.periodRowsOf.all(p, account)) as PeriodRow[];
  }

  periodIfaces(periods: Array<[number, number]>): PeriodIface[] {
    return this.s.periodIfaces.all(JSON.stringify(periods)) as PeriodIface[];
  }

  periodHours(periods: Array<[number, number]>): PeriodHours[] {
    return this.s.periodHours.all(JSON.stringify(periods)) as PeriodHours[];
  }

  rolledExtent(): { first: number | null; last: number | null; n: number } {
    return this.s.rolledExtent.get() as { first: number | null; last: number | null; n: number };
  }

  // ---- quotas ----

  /** Record a quota alert; false when this account was already alerted for this period and quota. */
  claimQuotaAlert(period: number, account: string, quota: number, bytes: number, now: number): boolean {
    return this.store.withWriteLock(() => this.s.quotaRecord.run(period, account, quota, bytes, now).changes > 0);
  }

  quotaAlerted(period: number, account: string, quota: number): boolean {
    return this.s.quotaAlerted.get(period, account, quota) !== undefined;
  }

  /** Roll-ups and quota marks older than `before` (a year by default: see retention). */
  prune(before: number): number {
    const s = this.s;
    return this.store.withWriteLock(() => s.pruneHourly.run(before).changes + s.pruneIface.run(before).changes
      + s.pruneHours.run(before).changes + s.pruneQuota.run(before).changes);
  }
}
