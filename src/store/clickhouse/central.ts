/**
 * The central ClickHouse store as `ship`, `store migrate` and `store prune` see it: schema,
 * inserts and partition drops. All ClickHouse SQL lives here and in migrations.ts.
 */
import { Readable } from 'node:stream';
import { ClickHouseLogLevel, createClient, type ClickHouseClient } from '@clickhouse/client';
import { StoreError } from '../../errors.js';
import { CENTRAL_TABLES, CLICKHOUSE_MIGRATIONS, createDatabase, migrationsTable, ROLLUPS, type CentralTableName } from './migrations.js';
import { featuresOf, parseVersion, quoteIdent, quoteString, sqlInt, type Features, type ServerVersion } from './sql.js';
import type { ClickHouseTarget } from './url.js';

export type CentralRow = Record<string, string | number | null>;

export interface MigrateResult { database: string; serverVersion: string; features: Features; applied: number[]; current: number }

export interface PruneResult { database: string; keepDays: number; keepRollupDays: number; dropped: Array<{ table: string; partition: string; rows: number }> }

const DAY_MS = 86_400_000;

export class Central {
  readonly db: string;
  private readonly client: ClickHouseClient;
  private version: ServerVersion | null = null;

  constructor(readonly target: ClickHouseTarget, opts: { requestTimeoutMs?: number } = {}) {
    this.db = quoteIdent(target.database);
    this.client = createClient({
      url: target.url, username: target.username, password: target.password,
      // Inserts are gzip-compressed (ClickHouse's advice for batches over the network), at level 1:
      // on event rows, level 6 took twice the CPU for a body 30% smaller, and the CPU is the
      // sender's, on a busy mail server. Responses stay plain: compressing them asks for
      // enable_http_compression, which a readonly user may not set.
      compression: { request: { codec: 'gzip', level: 1 }, response: false },
      request_timeout: opts.requestTimeoutMs ?? 60_000,
      max_open_connections: 2,
      application: 'bytetrail',
      // Its own log lines would repeat on stderr what the StoreError already says.
      log: { level: ClickHouseLogLevel.OFF },
    });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** The server's version (asked once), or a StoreError saying where we could not get to. */
  async serverVersion(): Promise<ServerVersion> {
    if (!this.version) {
      const rows = await this.rows<{ v: string }>('SELECT version() AS v');
      this.version = parseVersion(rows[0].v);
    }
    return this.version;
  }

  async migrate(): Promise<MigrateResult> {
    const v = await this.serverVersion();
    const f = featuresOf(v);
    await this.exec(createDatabase(this.target.database));
    await this.exec(migrationsTable(this.db));
    const done = new Set((await this.rows<{ version: number }>(`SELECT DISTINCT version FROM ${this.db}.bytetrail_migrations`)).map((r) => Number(r.version)));
    const applied: number[] = [];
    for (const step of CLICKHOUSE_MIGRATIONS) {
      if (done.has(step.version)) continue;
      for (const sql of step.statements(this.db, f)) await this.exec(sql);
      await this.exec(`INSERT INTO ${this.db}.bytetrail_migrations (version, name, server_version, applied_at)
        VALUES (${sqlInt(step.version)}, ${quoteString(step.name)}, ${quoteString(v.text)}, now())`);
      applied.push(step.version);
    }
    return { database: this.target.database, serverVersion: v.text, features: f, applied, current: CLICKHOUSE_MIGRATIONS.at(-1)!.version };
  }

  /**
   * One batch into one raw table, as TabSeparated lines (see tsvString) in one compressed
   * request; resolves once ClickHouse has stored it. The lines are pulled from `lines` as the
   * request is written, so the whole body never sits in memory at once.
   */
  async insertLines(table: CentralTableName, lines: Iterable<string>): Promise<void> {
    try {
      await this.client.insert({
        table: `${this.db}.${CENTRAL_TABLES[table].name}`, format: 'TabSeparated',
        columns: CENTRAL_TABLES[table].columns.map((c) => c.name) as [string, ...string[]],
        values: Readable.from(lines, { objectMode: false }),
      });
    } catch (err) {
      throw this.failure(`insert into ${table}`, err);
    }
  }

  /** A batch's per-minute roll-up rows (see migrations.ts ROLLUP_TABLES). */
  async insertRollup(name: string, rows: CentralRow[]): Promise<void> {
    if (rows.length === 0) return;
    try {
      await this.client.insert({ table: `${this.db}.${quoteIdent(name)}`, values: rows, format: 'JSONEachRow' });
    } catch (err) {
      throw this.failure(`insert into ${name}`, err);
    }
  }

  /**
   * Drops the daily partitions of the raw tables older than `keepDays` (UTC days, counted from
   * `now`), and the monthly roll-up partitions wholly older than `keepRollupDays`.
   */
  async prune(keepDays: number, keepRollupDays: number, now: number): Promise<PruneResult> {
    const dayCut = utcDay(now - keepDays * DAY_MS);
    const monthCut = Math.floor(utcDay(now - keepRollupDays * DAY_MS) / 100);
    const daily = Object.values(CENTRAL_TABLES).filter((t) => t.daily).map((t) => t.name);
    const parts = await this.rows<{ table: string; partition: string; rows: string }>(
      `SELECT table, partition, sum(rows) AS rows FROM system.parts
       WHERE database = ${quoteString(this.target.database)} AND active AND table IN (${[...daily, ...ROLLUPS].map(quoteString).join(', ')})
       GROUP BY table, partition ORDER BY table, partition`);
    const dropped: PruneResult['dropped'] = [];
    for (const p of parts) {
      const id = Number(p.partition.replace(/'/g, ''));
      if (!Number.isSafeInteger(id)) continue;
      const old = (ROLLUPS as readonly string[]).includes(p.table) ? id < monthCut : id < dayCut;
      if (!old) continue;
      await this.exec(`ALTER TABLE ${this.db}.${quoteIdent(p.table)} DROP PARTITION ${sqlInt(id)}`);
      dropped.push({ table: p.table, partition: String(id), rows: Number(p.rows) });
    }
    return { database: this.target.database, keepDays, keepRollupDays, dropped };
  }

  /** Rows of one SELECT, as JSON objects (64-bit integers arrive as strings). */
  async rows<T>(sql: string): Promise<T[]> {
    try {
      const r = await this.client.query({ query: sql, format: 'JSONEachRow' });
      return await r.json<T>();
    } catch (err) {
      throw this.failure('query', err);
    }
  }

  /** Rows of one SELECT one at a time, as they arrive (64-bit integers as strings). */
  async *stream<T>(sql: string): AsyncGenerator<T> {
    let rs;
    try {
      rs = await this.client.query({ query: sql, format: 'JSONEachRow' });
    } catch (err) {
      throw this.failure('query', err);
    }
    try {
      for await (const rows of rs.stream<T>()) for (const r of rows) yield r.json<T>();
    } catch (err) {
      throw this.failure('query', err);
    } finally {
      rs.close();
    }
  }

  async exec(sql: string): Promise<void> {
    try {
      await this.client.command({ query: sql });
    } catch (err) {
      throw this.failure('statement', err);
    }
  }

  private failure(what: string, err: unknown): StoreError {
    const e = err as NodeJS.ErrnoException;
    const unreachable = ['ECONNREFUSED', 'ECONNRESET', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'EPIPE'].includes(e?.code ?? '');
    const hints = [
      unreachable ? 'is ClickHouse running and reachable?' : null,
      // The outbox's mark did not move: the same rows go again next time.
      what.startsWith('insert') ? 'Nothing was lost: the next run sends the same rows again' : null,
    ].filter(Boolean);
    return new StoreError(`ClickHouse ${what} at ${this.target.display} failed: ${e?.message ?? String(err)}`, {
      hint: hints.length ? hints.join(' ') : null,
      cause: err,
    });
  }
}

/** yyyymmdd of a UTC instant, as ClickHouse's toYYYYMMDD(…, 'UTC') writes a partition. */
export function utcDay(ms: number): number {
  const d = new Date(ms);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}
