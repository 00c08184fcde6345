/**
 * The central schema as numbered, idempotent steps, the way Akvorado keeps its ClickHouse schema
 * in code (orchestrator/clickhouse/migrations.go): each step only creates what is missing, so
 * that two senders migrating at once, or a step cut halfway, leave a schema that the next run
 * completes. Applied steps are recorded in `bytetrail_migrations` on the server itself.
 *
 * Shape, after Akvorado's flow tables and OpenTelemetry's ClickHouse log schema:
 * - Raw tables are partitioned by UTC day (toYYYYMMDD), so that retention drops whole partitions
 *   (`store prune`), and ordered time first, then server, then account or address: the
 *   questions are "who, on which server, in this window".
 * - They are ReplacingMergeTree. A row's sorting key holds its identity (server, table, local id
 *   or the local primary key), so a batch sent twice after a crash collapses into one row; rows
 *   that change locally (flows and aggregates add counts in place) carry `ver`, the outbox's
 *   change number, and the newest version wins. Merges run when ClickHouse likes, so readers that
 *   must be exact read with FINAL (or argMax(…, ver)); counts before a merge may hold duplicates.
 * - Per-minute SummingMergeTree roll-ups, monthly partitions, kept longer than the raw rows,
 *   are fed by materialized views from what each insert *added* (the add_* columns): a changed
 *   flow row ships its new totals for the raw table and its increase for the roll-up.
 */
import type { Features } from './sql.js';
import { quoteIdent } from './sql.js';

export interface MigrationStep {
  version: number;
  name: string;
  /** Statements, each idempotent (IF NOT EXISTS), for database `db` (already quoted). */
  statements(db: string, f: Features): string[];
}

/** A column: name and type. `nullable` columns map SQLite NULLs; `lc` ones are few-valued. */
interface Column { name: string; type: 'String' | 'Int64' | 'UInt64'; nullable?: boolean; lc?: boolean; time?: boolean; big?: boolean }

export interface CentralTable {
  name: string;
  columns: Column[];
  /** Partition expression, over a ms time column; null for small tables kept whole (files, losses). */
  partition: string | null;
  orderBy: string;
  /** Version column of a ReplacingMergeTree, or null when rows never change. */
  version: string | null;
  /** Dropped by `store prune --keep` (daily partitions) or kept (monthly, small). */
  daily: boolean;
  /** The migration step that creates it. */
  since: number;
}

const s = (name: string, o: Partial<Column> = {}): Column => ({ name, type: 'String', ...o });
const i = (name: string, o: Partial<Column> = {}): Column => ({ name, type: 'Int64', ...o });
const ns = (name: string, o: Partial<Column> = {}): Column => s(name, { nullable: true, ...o });
const ni = (name: string): Column => i(name, { nullable: true });
const SERVER = s('server', { lc: true });
const VER: Column = { name: 'ver', type: 'UInt64' };

const day = (col: string) => `toYYYYMMDD(toDateTime(intDiv(${col}, 1000)), 'UTC')`;
const month = (col: string) => `toYYYYMM(toDateTime(intDiv(${col}, 1000)), 'UTC')`;

/** The raw tables, one per local table that ships. Their columns are the JSON keys `ship` sends. */
export const CENTRAL_TABLES = {
  events: {
    name: 'events',
    columns: [SERVER, { name: 'id', type: 'UInt64' }, i('ts', { time: true }), s('source', { lc: true }), ns('host'), ns('program'), s('kind', { lc: true }),
      ns('account'), ns('rip'), ni('rport'), ns('lip'), ni('lport'), ns('session'), ni('bytes_in'), ni('bytes_out'),
      ni('file_id'), ni('line'), ns('attrs', { big: true }), ns('raw', { big: true })],
    partition: day('ts'),
    orderBy: "intDiv(ts, 60000), server, ifNull(account, ''), ifNull(rip, ''), id",
    version: null, daily: true, since: 1,
  },
  event_agg: {
    name: 'event_agg',
    columns: [SERVER, i('minute', { time: true }), s('source', { lc: true }), s('kind', { lc: true }), s('rip'), i('lport'), s('detail'),
      i('count'), i('bytes'), i('first_ts'), i('last_ts'), ns('lip'), ni('sample_file_id'), ni('sample_line'), ns('sample_raw', { big: true }),
      i('add_count'), i('add_bytes'), VER],
    partition: day('minute'),
    orderBy: 'minute, server, rip, source, kind, lport, detail',
    version: 'ver', daily: true, since: 1,
  },
  flows: {
    name: 'flows',
    columns: [SERVER, s('source', { lc: true }), i('minute', { time: true }), s('iface', { lc: true }), i('proto'), s('lip'), i('lport'), s('rip'), i('rport'),
      s('service', { lc: true }), i('bytes_in'), i('bytes_out'), i('packets_in'), i('packets_out'),
      i('add_bytes_in'), i('add_bytes_out'), i('add_packets_in'), i('add_packets_out'), VER],
    partition: day('minute'),
    orderBy: 'minute, server, rip, source, iface, proto, lip, lport, rport',
    version: 'ver', daily: true, since: 1,
  },
  vpn_leases: {
    name: 'vpn_leases',
    columns: [SERVER, s('account'), s('real_ip'), i('real_port'), s('vip'), i('first_ts', { time: true }), i('last_ts'), s('source', { lc: true }), VER],
    partition: day('first_ts'),
    orderBy: 'first_ts, server, account, real_ip, real_port, vip',
    version: 'ver', daily: true, since: 1,
  },
  iface_totals: {
    name: 'iface_totals',
    columns: [SERVER, s('iface', { lc: true }), s('granularity', { lc: true }), i('start', { time: true }), i('rx'), i('tx'), VER],
    partition: month('start'),
    orderBy: 'start, server, iface, granularity',
    version: 'ver', daily: false, since: 1,
  },
  alerts: {
    name: 'alerts',
    columns: [SERVER, { name: 'id', type: 'UInt64' }, i('ts', { time: true }), s('incident'), s('type', { lc: true }), s('summary'), s('json', { big: true })],
    partition: month('ts'),
    orderBy: 'ts, server, id',
    version: null, daily: false, since: 1,
  },
  // Step 3: what the reading commands need besides the rows above (issue 11's ReadStore): the
  // files that events and samples point into (their paths), the per-file line counts and the
  // samples of lines not understood (`unparsed`, `status`), what was lost, and the open
  // connections of conntrack listings without timestamps. Small except conntrack_open.
  files: {
    name: 'files',
    columns: [SERVER, { name: 'id', type: 'UInt64' }, s('path'), s('kind', { lc: true }), i('lines'), i('first_read'), i('last_read'), VER],
    partition: null,
    orderBy: 'server, id',
    version: 'ver', daily: false, since: 3,
  },
  file_stats: {
    name: 'file_stats',
    columns: [SERVER, i('file_id'), s('source', { lc: true }), i('events'), i('skipped'), i('unparsed'), VER],
    partition: null,
    orderBy: 'server, file_id, source',
    version: 'ver', daily: false, since: 3,
  },
  unparsed: {
    name: 'unparsed',
    columns: [SERVER, { name: 'id', type: 'UInt64' }, i('file_id'), i('line'), s('source', { lc: true }), s('reason'), s('text', { big: true })],
    partition: null,
    orderBy: 'server, id',
    version: null, daily: false, since: 3,
  },
  losses: {
    name: 'losses',
    columns: [SERVER, s('path'), s('reason', { lc: true }), i('lines'), i('bytes'), i('last_at'), VER],
    partition: null,
    orderBy: 'server, path, reason',
    version: 'ver', daily: false, since: 3,
  },
  conntrack_open: {
    name: 'conntrack_open',
    columns: [SERVER, i('listing_ts', { time: true }), i('proto'), s('lip'), i('lport'), s('rip'), i('rport'), s('service', { lc: true }),
      i('bytes_in'), i('bytes_out'), i('packets_in'), i('packets_out'), VER],
    partition: day('listing_ts'),
    orderBy: 'listing_ts, server, rip, rport, proto, lip, lport',
    version: 'ver', daily: true, since: 3,
  },
} satisfies Record<string, CentralTable>;

export type CentralTableName = keyof typeof CENTRAL_TABLES;

/** Roll-ups kept this long by TTL where the server has TTL (and by `store prune --keep-rollups`). */
export const ROLLUP_KEEP_DAYS = 400;

function columnType(c: Column, f: Features): string {
  let t: string = c.type;
  if (c.lc && f.lowCardinality) t = `LowCardinality(${t})`;
  if (c.nullable) t = `Nullable(${t})`;
  if (f.codecs && c.time) t += ' CODEC(Delta, ZSTD)';
  else if (f.codecs && c.big) t += ' CODEC(ZSTD)';
  return t;
}

export function createTable(db: string, t: CentralTable, f: Features): string {
  const cols = t.columns.map((c) => `  ${c.name} ${columnType(c, f)}`).join(',\n');
  const partition = t.partition ? `\nPARTITION BY ${t.partition}` : '';
  return `CREATE TABLE IF NOT EXISTS ${db}.${t.name} (\n${cols}\n) ENGINE = ReplacingMergeTree(${t.version ?? ''})${partition}
ORDER BY (${t.orderBy})`;
}

function rollupTable(db: string, name: string, keys: Column[], sums: string[], f: Features): string {
  const cols = [...keys, ...sums.map((n) => i(n))].map((c) => `  ${c.name} ${columnType(c, f)}`).join(',\n');
  const ttl = f.ttl ? `\nTTL toDateTime(intDiv(minute, 1000)) + INTERVAL ${ROLLUP_KEEP_DAYS} DAY` : '';
  return `CREATE TABLE IF NOT EXISTS ${db}.${name} (\n${cols}\n) ENGINE = SummingMergeTree
PARTITION BY ${month('minute')}
ORDER BY (${keys.map((k) => k.name).join(', ')})${ttl}`;
}

/**
 * The per-minute roll-ups since step 4, which `ship` writes itself: one row per minute, key and
 * batch (`feed`: the raw table; `batch`: the batch's high-water mark, which names its extent of
 * local rows), ReplacingMergeTree on all of that. A batch sent again after a crash is sent with
 * the same extent (the outbox records it before sending), so its roll-up rows are the same rows
 * and merge away; readers sum with FINAL. Step 2's materialized views summed whatever arrived,
 * so a re-sent batch counted twice there, and a view cannot tell a copy from new rows.
 */
export const ROLLUP_TABLES = {
  traffic: { name: 'traffic_by_minute', keys: ['minute', 'server', 'source', 'iface'], sums: ['bytes_in', 'bytes_out', 'packets_in', 'packets_out'] },
  events: { name: 'events_by_minute', keys: ['minute', 'server', 'source', 'kind', 'account'], sums: ['events', 'bytes_in', 'bytes_out'] },
} as const;

/** Roll-up tables (monthly partitions, kept longer than the raw rows): step 2's, still pruned, and step 4's. */
export const ROLLUPS = ['traffic_minute', 'events_minute', ROLLUP_TABLES.traffic.name, ROLLUP_TABLES.events.name] as const;

const FEW_VALUED = new Set(['server', 'source', 'kind', 'iface']);

function rollupByBatch(db: string, r: (typeof ROLLUP_TABLES)[keyof typeof ROLLUP_TABLES], f: Features): string {
  const keys: Column[] = [...r.keys.map((k) => (k === 'minute' ? i(k, { time: true }) : s(k, { lc: FEW_VALUED.has(k) }))), s('feed', { lc: true }), { name: 'batch', type: 'UInt64' }];
  const cols = [...keys, ...r.sums.map((n) => i(n))].map((c) => `  ${c.name} ${columnType(c, f)}`).join(',\n');
  const ttl = f.ttl ? `\nTTL toDateTime(intDiv(minute, 1000)) + INTERVAL ${ROLLUP_KEEP_DAYS} DAY` : '';
  return `CREATE TABLE IF NOT EXISTS ${db}.${r.name} (\n${cols}\n) ENGINE = ReplacingMergeTree
PARTITION BY ${month('minute')}
ORDER BY (${keys.map((k) => k.name).join(', ')})${ttl}`;
}

export const CLICKHOUSE_MIGRATIONS: readonly MigrationStep[] = [
  {
    version: 1,
    name: 'raw tables: events, aggregates, flows, leases, interface totals, alerts',
    statements: (db, f) => tablesOfStep(1).map((t) => createTable(db, t, f)),
  },
  {
    version: 2,
    name: 'per-minute roll-ups of traffic and events, fed by materialized views',
    statements: (db, f) => [
      rollupTable(db, 'traffic_minute', [i('minute', { time: true }), SERVER, s('source', { lc: true }), s('iface', { lc: true })],
        ['bytes_in', 'bytes_out', 'packets_in', 'packets_out'], f),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.traffic_minute_mv TO ${db}.traffic_minute AS
SELECT minute, server, source, iface, add_bytes_in AS bytes_in, add_bytes_out AS bytes_out,
  add_packets_in AS packets_in, add_packets_out AS packets_out FROM ${db}.flows`,
      rollupTable(db, 'events_minute', [i('minute', { time: true }), SERVER, s('source', { lc: true }), s('kind', { lc: true }), s('account')],
        ['events', 'bytes_in', 'bytes_out'], f),
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.events_minute_mv TO ${db}.events_minute AS
SELECT intDiv(ts, 60000) * 60000 AS minute, server, source, kind, ifNull(account, '') AS account, toInt64(1) AS events,
  ifNull(bytes_in, toInt64(0)) AS bytes_in, ifNull(bytes_out, toInt64(0)) AS bytes_out FROM ${db}.events`,
      // Aggregated kinds (drops, DNS queries) count as events without an account, as in SQLite's events_hourly.
      `CREATE MATERIALIZED VIEW IF NOT EXISTS ${db}.events_minute_agg_mv TO ${db}.events_minute AS
SELECT minute, server, source, kind, '' AS account, add_count AS events, toInt64(0) AS bytes_in, toInt64(0) AS bytes_out FROM ${db}.event_agg`,
    ],
  },
  {
    version: 3,
    name: 'what reading needs: files, per-file counts, unparsed samples, losses, open conntrack entries',
    statements: (db, f) => tablesOfStep(3).map((t) => createTable(db, t, f)),
  },
  {
    version: 4,
    name: 'per-minute roll-ups written by ship per batch, so that a batch sent twice counts once',
    statements: (db, f) => [
      rollupByBatch(db, ROLLUP_TABLES.traffic, f),
      rollupByBatch(db, ROLLUP_TABLES.events, f),
      // The views first: nothing may reach step 2's tables after their rows are copied.
      `DROP TABLE IF EXISTS ${db}.traffic_minute_mv`,
      `DROP TABLE IF EXISTS ${db}.events_minute_mv`,
      `DROP TABLE IF EXISTS ${db}.events_minute_agg_mv`,
      // What step 2's tables hold, as one batch 0 per key (a re-run replaces it with the same rows).
      `INSERT INTO ${db}.${ROLLUP_TABLES.traffic.name} SELECT minute, server, source, iface, 'step2' AS feed, toUInt64(0) AS batch,
  sum(bytes_in), sum(bytes_out), sum(packets_in), sum(packets_out) FROM ${db}.traffic_minute GROUP BY minute, server, source, iface`,
      `INSERT INTO ${db}.${ROLLUP_TABLES.events.name} SELECT minute, server, source, kind, account, 'step2' AS feed, toUInt64(0) AS batch,
  sum(events), sum(bytes_in), sum(bytes_out) FROM ${db}.events_minute GROUP BY minute, server, source, kind, account`,
    ],
  },
];

/** The raw tables a step creates. */
function tablesOfStep(step: number): CentralTable[] {
  return Object.values(CENTRAL_TABLES).filter((t: CentralTable) => t.since === step);
}

/** The table that records applied steps, on the central server. */
export function migrationsTable(db: string): string {
  return `CREATE TABLE IF NOT EXISTS ${db}.bytetrail_migrations (version UInt32, name String, server_version String, applied_at DateTime)
ENGINE = ReplacingMergeTree ORDER BY version`;
}

export function createDatabase(database: string): string {
  return `CREATE DATABASE IF NOT EXISTS ${quoteIdent(database)}`;
}
