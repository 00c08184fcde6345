/**
 * The ClickHouse pieces that need no server: literal quoting, the version gate of newer
 * features and the DDL it shapes, and the store URL. (Round trips through a real server are
 * in ship.test.ts.)
 */
import { describe, expect, it } from 'vitest';
import { CENTRAL_TABLES, CLICKHOUSE_MIGRATIONS, createTable } from '../../src/store/clickhouse/migrations.js';
import { featuresOf, parseVersion, quoteIdent, quoteString, sqlInt, tsvString } from '../../src/store/clickhouse/sql.js';
import { parseClickHouseUrl } from '../../src/store/clickhouse/url.js';
import { tsvLines } from '../../src/store/clickhouse/ship.js';
import { utcDay } from '../../src/store/clickhouse/central.js';

describe('quoteString', () => {
  it('escapes quotes, backslashes and control bytes, and leaves UTF-8 alone', () => {
    expect(quoteString("o'brien")).toBe("'o\\'brien'");
    expect(quoteString('a\\b')).toBe("'a\\\\b'");
    expect(quoteString('nul\0 nl\n cr\r tab\t')).toBe("'nul\\0 nl\\n cr\\r tab\\t'");
    expect(quoteString('\u0001\u001f\u007f')).toBe("'\\x01\\x1f\\x7f'");
    expect(quoteString('ünï 😀')).toBe("'ünï 😀'");
    expect(quoteString("'; DROP TABLE events; --")).toBe("'\\'; DROP TABLE events; --'");
  });

  it('quotes identifiers in back quotes and refuses empty or control-character names', () => {
    expect(quoteIdent('fleet')).toBe('`fleet`');
    expect(quoteIdent('we`ird\\')).toBe('`we\\`ird\\\\`');
    expect(() => quoteIdent('')).toThrow();
    expect(() => quoteIdent('a\nb')).toThrow();
    expect(sqlInt(20261120)).toBe('20261120');
    expect(() => sqlInt(1.5)).toThrow();
    expect(() => sqlInt(Number.NaN)).toThrow();
  });
});

describe('the version gate', () => {
  it('reads version() as the servers print it', () => {
    expect(parseVersion('18.16.1')).toEqual({ major: 18, minor: 16, text: '18.16.1' });
    expect(parseVersion('24.8.4.13\n')).toEqual({ major: 24, minor: 8, text: '24.8.4.13' });
    expect(() => parseVersion('unknown')).toThrow();
  });

  it("uses nothing newer on Debian's 18.16, and LowCardinality, codecs and TTL where the server has them", () => {
    expect(featuresOf(parseVersion('18.16.1'))).toEqual({ lowCardinality: false, codecs: false, ttl: false });
    expect(featuresOf(parseVersion('19.8.3'))).toEqual({ lowCardinality: false, codecs: false, ttl: false });
    expect(featuresOf(parseVersion('19.9.2'))).toEqual({ lowCardinality: true, codecs: false, ttl: false });
    expect(featuresOf(parseVersion('20.1.2'))).toEqual({ lowCardinality: true, codecs: true, ttl: true });
    expect(featuresOf(parseVersion('25.3.1'))).toEqual({ lowCardinality: true, codecs: true, ttl: true });
  });

  it('shapes the DDL by those features', () => {
    const old = featuresOf(parseVersion('18.16.1'));
    const cur = featuresOf(parseVersion('24.8.1'));
    const events18 = createTable('`fleet`', CENTRAL_TABLES.events, old);
    expect(events18).not.toMatch(/LowCardinality|CODEC|TTL/);
    expect(events18).toContain('server String,');
    expect(events18).toContain("PARTITION BY toYYYYMMDD(toDateTime(intDiv(ts, 1000)), 'UTC')");
    expect(events18).toContain("ORDER BY (intDiv(ts, 60000), server, ifNull(account, ''), ifNull(rip, ''), id)");
    const events24 = createTable('`fleet`', CENTRAL_TABLES.events, cur);
    expect(events24).toContain('server LowCardinality(String),');
    expect(events24).toContain('ts Int64 CODEC(Delta, ZSTD),');
    expect(events24).toContain('raw Nullable(String) CODEC(ZSTD)');
    expect(createTable('`fleet`', CENTRAL_TABLES.flows, old)).toContain('ENGINE = ReplacingMergeTree(ver)');
    const rollups = (f: typeof old) => CLICKHOUSE_MIGRATIONS[1].statements('`fleet`', f).join('\n');
    expect(rollups(old)).not.toContain('TTL');
    expect(rollups(cur)).toContain('TTL toDateTime(intDiv(minute, 1000)) + INTERVAL 400 DAY');
  });
});

describe('the store URL', () => {
  it('reads user, host, port and database; clickhouses:// is HTTPS', () => {
    expect(parseClickHouseUrl('clickhouse://central.example.net/bytetrail', {})).toEqual({
      url: 'http://central.example.net:8123', username: 'default', password: '', database: 'bytetrail', passwordInUrl: false,
      display: 'clickhouse://central.example.net:8123/bytetrail',
    });
    expect(parseClickHouseUrl('clickhouses://ship@[2001:db8::1]:9443/fleet', { BYTETRAIL_CLICKHOUSE_PASSWORD: 'pw' })).toMatchObject({
      url: 'https://[2001:db8::1]:9443', username: 'ship', password: 'pw', database: 'fleet', passwordInUrl: false,
      display: 'clickhouses://ship@[2001:db8::1]:9443/fleet',
    });
  });

  it('takes a password from the URL, flags it, and never shows it', () => {
    const t = parseClickHouseUrl('clickhouse://ship:p%40ss%27w@192.0.2.5/fleet', { BYTETRAIL_CLICKHOUSE_PASSWORD: 'env' });
    expect(t).toMatchObject({ password: "p@ss'w", passwordInUrl: true, display: 'clickhouse://ship@192.0.2.5:8123/fleet' });
  });

  it('refuses what is not a ClickHouse URL, without echoing a password', () => {
    expect(() => parseClickHouseUrl('http://192.0.2.5/fleet', {})).toThrow(/not a ClickHouse URL \(scheme http\)/);
    expect(() => parseClickHouseUrl('clickhouse://192.0.2.5/', {})).toThrow(/no database name/);
    expect(() => parseClickHouseUrl('clickhouse://u:secret@192.0.2.5/', {})).toThrow(/u:\*\*\*@/);
    expect(() => parseClickHouseUrl('nonsense', {})).toThrow(/not a ClickHouse URL/);
  });
});

describe('rows as the central store takes them', () => {
  it('writes TabSeparated in the central column order: the server added, NULLs where the column allows them, what SQLite let through mended', () => {
    const columns = ['id', 'ts', 'source', 'host', 'program', 'kind', 'account', 'rip', 'rport', 'lip', 'lport', 'session', 'bytes_in', 'bytes_out', 'file_id', 'line', 'attrs', 'raw'];
    const row = [7, 1_763_625_600_000, 'dovecot', null, 'imap', 'login', 'jan\ud800\t\\N', '192.0.2.7', '993x', null, 993.0, '', null, 12.7, 1, 3, null, 'a\nb\r\\\u0000'];
    const b = { table: 'events' as const, columns, rows: [row], after: 0, highWater: 7, read: 1, more: false };
    expect(CENTRAL_TABLES.events.columns.map((c) => c.name)).toEqual(['server', ...columns]);
    expect([...tsvLines(b, "mx'1\t")]).toEqual([[
      "mx'1\\t", '7', '1763625600000', 'dovecot', '\\N', 'imap', 'login', 'jan\ufffd\\t\\\\N', '192.0.2.7', '\\N', '\\N', '993', '', '\\N', '12',
      '1', '3', '\\N', 'a\\nb\\r\\\\\u0000',
    ].join('\t') + '\n']);
    // Chunks of 1,000 lines, pulled one by one by the request.
    expect([...tsvLines({ ...b, rows: Array.from({ length: 2001 }, () => row) }, 'mx1')].map((c) => c.split('\n').length - 1)).toEqual([1000, 1000, 1]);
  });

  it('escapes in TabSeparated only what the format gives a meaning to', () => {
    expect(tsvString('a\\b\tc\nd\re')).toBe('a\\\\b\\tc\\nd\\re');
    expect(tsvString('\\N')).toBe('\\\\N');
    expect(tsvString('nul\u0000 \u0001 ünï 😀 \'"')).toBe('nul\u0000 \u0001 ünï 😀 \'"');
    expect(tsvString('\udc00x\ud83d')).toBe('\ufffdx\ufffd');
  });

  it('names UTC days as the partitions do', () => {
    expect(utcDay(Date.UTC(2026, 10, 20, 23, 59))).toBe(20261120);
    expect(utcDay(Date.UTC(2026, 0, 1))).toBe(20260101);
  });
});
