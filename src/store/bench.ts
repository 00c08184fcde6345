/**
 * The benchmark's own questions of a database (src/bench/): what an ingest stored, read
 * directly and read-only after the store has closed it (dbstat's page counts), an index left
 * out to see what it costs, and a soak's view of the events as watch writes them. Not something
 * bytetrail asks; here because all SQL lives in the store.
 */
import Database from 'better-sqlite3';
import { statSync } from 'node:fs';
import type { Store } from './index.js';

/** What a database holds: rows per kind, and bytes in total and per table or index (dbstat). */
export interface DbFigures {
  events: number;
  aggRows: number;
  /** Lines folded into the aggregates. */
  aggLines: number;
  flows: number;
  /** The database file and its WAL. */
  bytes: number;
  /** Bytes of each table and index, largest first. */
  objects: Array<[string, number]>;
}

export function dbFigures(path: string): DbFigures {
  const bytes = ['', '-wal'].reduce((a, x) => { try { return a + statSync(path + x).size; } catch { return a; } }, 0);
  const db = new Database(path, { readonly: true });
  try {
    const c = db.prepare(`SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM event_agg) AS aggRows,
      (SELECT coalesce(sum(count), 0) FROM event_agg) AS aggLines, (SELECT count(*) FROM flows) AS flows`).get() as Omit<DbFigures, 'bytes' | 'objects'>;
    const objects = (db.prepare('SELECT name, sum(pgsize) AS b FROM dbstat GROUP BY name ORDER BY b DESC').raw().all() as Array<[string, number]>)
      .filter(([, b]) => b > 0);
    return { ...c, bytes, objects };
  } finally {
    db.close();
  }
}

/** Drop indexes by name on a fresh database (profile.ts: what each costs the writing thread). */
export function dropIndexes(store: Store, names: string[]): void {
  for (const name of names) store.db.exec(`DROP INDEX ${name}`);
}

/**
 * The events a running watch has stored, read from another connection, read-only: the soak's
 * lag samples (each line carries its write time) and its final count. Opens on first use, as
 * watch creates the database.
 */
export class EventTail {
  private db: Database.Database | null = null;
  constructor(private readonly path: string) {}

  /** Rows after `afterId` as [id, raw], oldest first; throws while the database does not exist yet. */
  rawsAfter(afterId: number): Array<[number, string]> {
    this.db ??= new Database(this.path, { readonly: true, fileMustExist: true });
    return this.db.prepare('SELECT id, raw FROM events WHERE id > ? ORDER BY id').raw().all(afterId) as Array<[number, string]>;
  }

  /** Events stored so far, and how many distinct lines they are; zeros before the first read. */
  counts(): { n: number; d: number } {
    if (!this.db) return { n: 0, d: 0 };
    return this.db.prepare('SELECT count(*) AS n, count(DISTINCT raw) AS d FROM events').get() as { n: number; d: number };
  }

  /** Events stored so far (0 before the first read). */
  count(): number {
    return (this.db?.prepare('SELECT count(*) AS n FROM events').get() as { n: number } | undefined)?.n ?? 0;
  }

  close(): void {
    this.db?.close();
  }
}
