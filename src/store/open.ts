/**
 * Which store a reading command reads (issue 11 §3): the local SQLite file (--db), or a fleet
 * store named by URL (--store, $BYTETRAIL_STORE), limited to some servers (--server).
 */
import { UserError } from '../errors.js';
import { PASSWORD_ENV, parseClickHouseUrl } from './clickhouse/url.js';
import type { ReadStore } from './read.js';
import { openSqliteReadStore } from './sqlite-read.js';

export interface ReadStoreOptions {
  /** The SQLite file (--db); the default location when undefined. */
  db?: string;
  /** A store URL (--store): clickhouse:// or clickhouses://. When set, `db` is not read. */
  store?: string;
  /** --server: only these servers' rows (a SQLite file answers for its own server only). */
  servers?: string[];
}

/** True when `url` names a ClickHouse store (clickhouse:// over HTTP, clickhouses:// over HTTPS). */
export function isClickHouseUrl(url: string): boolean {
  return /^clickhouses?:\/\//i.test(url);
}

export async function openReadStore(o: ReadStoreOptions): Promise<ReadStore> {
  const servers = o.servers ?? [];
  if (!o.store) return openSqliteReadStore(o.db, servers);
  if (!isClickHouseUrl(o.store)) {
    throw new UserError(`--store: not a store URL: ${o.store.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@')}`, {
      hint: 'clickhouse://[user@]host[:port]/database (clickhouses:// for HTTPS); for a local SQLite file use --db',
    });
  }
  // A malformed URL is told as such, before anything else.
  parseClickHouseUrl(o.store);
  // Loaded only here: the ClickHouse client costs a single-server run nothing.
  const { openClickHouseReadStore } = await import('./clickhouse/read.js');
  return openClickHouseReadStore(o.store, { servers, password: process.env[PASSWORD_ENV] });
}
