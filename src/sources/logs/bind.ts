/** BIND's query log: one line per query, kept as per-minute aggregates by query type. */
import type { ParseContext } from '../../events.js';
import { bind as parser } from '../../parsers/bind.js';
import { d2, d4, fractionAt, isDigit, isHms, nativeEnvelope, validDate, type EnvelopeResult } from '../../parsers/syslog.js';
import { monthNumberAt, zonedToUtc } from '../../time.js';
import type { LogSource, StampReader } from '../types.js';

/*
 * A file's lines come in runs that share a stamp down to the second: the last one read is kept
 * with its UTC time (without the fraction), valid for one zone and reference time.
 */
let cacheTz = '';
let cacheRef = NaN;
let lastKey = '';
let lastTs = 0;

/** `20-Nov-2026 09:30:01.123 queries: info: ...`: BIND's own channel (`print-time yes`); Roundcube writes it too. */
function readDmy(line: string, i: number, ctx: ParseContext): EnvelopeResult | null {
  if (ctx.tz !== cacheTz || ctx.refTime !== cacheRef) { cacheTz = ctx.tz; cacheRef = ctx.refTime; lastKey = ''; }
  if (lastKey !== '' && line.startsWith(lastKey)) {
    const [ms, end] = fractionAt(line, lastKey.length);
    return nativeEnvelope(lastTs + ms, line.slice(end).trimStart());
  }
  if (!(isDigit(line.charCodeAt(i)) && isDigit(line.charCodeAt(i + 1)) && line.charCodeAt(i + 2) === 45 && line.charCodeAt(i + 6) === 45)) return null;
  const d = d2(line, i), mo = monthNumberAt(line, i + 3, i + 6), y = d4(line, i + 7);
  if (!mo || line.charCodeAt(i + 11) !== 32 || !isHms(line, i + 12)) return null;
  const h = d2(line, i + 12), mi = d2(line, i + 15), s = d2(line, i + 18);
  if (!validDate(mo, d, h, mi, s)) return { error: 'timestamp out of range' };
  const ts0 = zonedToUtc(ctx.tz, y, mo, d, h, mi, s === 60 ? 59 : s, 0);
  if (i === 0) { lastKey = line.slice(0, 20); lastTs = ts0; }
  const [ms, end] = fractionAt(line, i + 20);
  return nativeEnvelope(ts0 + ms, line.slice(end).trimStart());
}

const DMY: StampReader = { name: 'dmy-bind', example: '20-Nov-2026 09:30:01.123 msg', read: readDmy };

export const source: LogSource = {
  name: 'bind',
  title: 'BIND',
  rank: 40,
  tags: ['named', 'bind9', 'queries', '…'],
  nativeStamps: ['dmy-bind'],
  stampReaders: [DMY],
  parser,
  aggregate: (ev) => (ev.kind === 'query' || ev.kind === 'reply' ? String(ev.attrs?.qtype ?? '') : null),
  aggregateFact: (kind) => (kind === 'query' ? 'dns-query' : null),
  ports: [['dns', 53, ['tcp', 'udp'], 'dns']],
  groups: [{ name: 'dns', label: 'DNS' }],
  standardPaths: ['/var/log/named', '/var/log/bind'],
  corpusDirs: ['bind'],
  fact: () => null,
  service: () => 'bind',
};
