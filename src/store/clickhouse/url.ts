/**
 * `clickhouse://[user[:password]@]host[:port]/database` (HTTP, port 8123) and `clickhouses://…`
 * (HTTPS, port 8443): where the central store is. A password in the URL shows in `ps`; the
 * environment (BYTETRAIL_CLICKHOUSE_PASSWORD) is the place for it.
 */
import { UserError } from '../../errors.js';

export interface ClickHouseTarget {
  /** http(s)://host:port, without credentials. */
  url: string;
  username: string;
  password: string;
  database: string;
  /** True when the password came from the URL (a command line): the caller warns. */
  passwordInUrl: boolean;
  /** The target without the password, for messages and for the outbox's record. */
  display: string;
}

export const PASSWORD_ENV = 'BYTETRAIL_CLICKHOUSE_PASSWORD';

export function parseClickHouseUrl(text: string, env: NodeJS.ProcessEnv = process.env): ClickHouseTarget {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UserError(`not a ClickHouse URL: ${text}`, { hint: 'clickhouse://[user@]host[:port]/database, or clickhouses:// for HTTPS' });
  }
  const secure = u.protocol === 'clickhouses:';
  if (!secure && u.protocol !== 'clickhouse:') {
    throw new UserError(`not a ClickHouse URL (scheme ${u.protocol.replace(/:$/, '')}): ${redact(text)}`, { hint: 'use clickhouse://host/database, or clickhouses:// for HTTPS' });
  }
  if (!u.hostname) throw new UserError(`no host in ${redact(text)}`);
  const database = decodeURIComponent(u.pathname.replace(/^\/+/, '').replace(/\/+$/, ''));
  if (!database || database.includes('/')) throw new UserError(`no database name in ${redact(text)}`, { hint: 'e.g. clickhouse://central.example.net/bytetrail' });
  const port = u.port || (secure ? '8443' : '8123');
  const username = u.username ? decodeURIComponent(u.username) : 'default';
  const passwordInUrl = u.password !== '';
  const password = passwordInUrl ? decodeURIComponent(u.password) : (env[PASSWORD_ENV] ?? '');
  const host = u.hostname;
  const url = `${secure ? 'https' : 'http'}://${host}:${port}`;
  const display = `${secure ? 'clickhouses' : 'clickhouse'}://${u.username ? `${u.username}@` : ''}${host}:${port}/${database}`;
  return { url, username, password, database, passwordInUrl, display };
}

/** A store URL as it may be shown: any password in it replaced by ***. */
export function redactStoreUrl(text: string): string {
  return redact(text);
}

function redact(text: string): string {
  return text.replace(/\/\/([^:/@]*):[^@/]*@/, '//$1:***@');
}

/** The target of a command's flag, with the warning a password in it deserves (it shows in `ps`). */
export function targetFromFlag(text: string, flag: string, warn: (m: string) => void): ClickHouseTarget {
  const t = parseClickHouseUrl(text);
  if (t.passwordInUrl) warn(`a password in --${flag} shows in ps and in shell history; set ${PASSWORD_ENV} instead`);
  return t;
}
