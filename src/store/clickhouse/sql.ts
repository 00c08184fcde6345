/**
 * ClickHouse SQL text: quoting and the server's version. ClickHouse 18.16 (Debian 12's) has no
 * query parameters, so every value that reaches a statement (an account name from a log, a
 * database name from a URL) goes through these functions; rows themselves travel as
 * TabSeparated (tsvString) or, the small roll-ups, as JSON.
 */

/** Escapes of a ClickHouse string literal ('…'), for the bytes that must not appear raw. */
const ESCAPES: Record<string, string> = { '\\': '\\\\', "'": "\\'", '\0': '\\0', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\b': '\\b', '\f': '\\f' };

/**
 * A string literal that reads back as `s`, byte for byte. Other control characters become
 * \xHH; everything else (UTF-8 included) stays as it is, which ClickHouse reads verbatim.
 */
export function quoteString(s: string): string {
  // eslint-disable-next-line no-control-regex
  return "'" + s.replace(/[\\'\x00-\x1f\x7f]/g, (c) => ESCAPES[c] ?? '\\x' + c.charCodeAt(0).toString(16).padStart(2, '0')) + "'";
}

/**
 * The four bytes that TabSeparated cannot carry raw (the escape character, the field and row
 * separators, and a carriage return, which ClickHouse takes for a DOS line end) and lone UTF-16
 * surrogates, which have no UTF-8 and would make ClickHouse refuse the batch.
 */
const TSV_SPECIAL = /[\\\t\n\r]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const TSV_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * A string as a TabSeparated field that ClickHouse reads back as `s`, byte for byte (18.16 and
 * current releases read the same escapes); a lone surrogate becomes U+FFFD. Everything else,
 * NUL and other control bytes included, travels raw: the format is length-free, only its
 * separators and backslash are special.
 */
export function tsvString(s: string): string {
  TSV_SPECIAL.lastIndex = 0;
  return TSV_SPECIAL.test(s) ? s.replace(TSV_SPECIAL, (c) => TSV_ESCAPES[c] ?? '\ufffd') : s;
}

/** An identifier (database, table) in back quotes, with back quotes and backslashes escaped. */
export function quoteIdent(s: string): string {
  if (s.length === 0 || /[\x00-\x1f]/.test(s)) throw new Error(`not a usable ClickHouse identifier: ${JSON.stringify(s)}`);
  return '`' + s.replace(/[\\`]/g, (c) => '\\' + c) + '`';
}

/** A finite integer as SQL text (numbers are never quoted, so they must be checked). */
export function sqlInt(n: number): string {
  if (!Number.isSafeInteger(n)) throw new Error(`not an integer: ${n}`);
  return String(n);
}

export interface ServerVersion { major: number; minor: number; text: string }

/** `SELECT version()`: "18.16.1", "24.8.4.13". */
export function parseVersion(text: string): ServerVersion {
  const m = /^(\d+)\.(\d+)/.exec(text.trim());
  if (!m) throw new Error(`cannot read the ClickHouse version ${JSON.stringify(text)}`);
  return { major: +m[1], minor: +m[2], text: text.trim() };
}

function atLeast(v: ServerVersion, major: number, minor: number): boolean {
  return v.major > major || (v.major === major && v.minor >= minor);
}

/**
 * What the schema may use on this server. 18.16 has none of these: LowCardinality is there only
 * behind allow_experimental_low_cardinality_type, column codecs and TTL came in 19.x. Each is
 * taken from a release where it was no longer experimental, not from the first that had it.
 */
export interface Features {
  /** LowCardinality(String) for the few-valued columns (server, source, kind): smaller, faster. */
  lowCardinality: boolean;
  /** CODEC(Delta, ZSTD) on time columns, CODEC(ZSTD) on raw lines. */
  codecs: boolean;
  /** Table TTL on the roll-ups, so that they expire without a prune run. */
  ttl: boolean;
}

export function featuresOf(v: ServerVersion): Features {
  return { lowCardinality: atLeast(v, 19, 9), codecs: atLeast(v, 20, 1), ttl: atLeast(v, 20, 1) };
}
