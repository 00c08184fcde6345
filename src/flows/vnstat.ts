/**
 * `vnstat --json` as flow input: traffic per interface and per five minutes, hour, day and
 * month. Pure: the zone vnstat's local times are read in comes in as an argument.
 *
 * Two schemas (vnstat's src/dbjson.c):
 *
 * jsonversion "1" (vnstat 1.x), counters in KiB, hours as a ring of 24 slots whose `id` is the
 * hour of the day and whose `date` is the day that slot last belonged to:
 *   {"vnstatversion":"1.18","jsonversion":"1","interfaces":[{"id":"eth0","nick":"uplink",...,
 *    "traffic":{"total":{"rx":964506172,"tx":120563270},"days":[{"id":0,"date":{"year":2026,
 *    "month":11,"day":20},"rx":5014528,"tx":87040}],"months":[...],"tops":[...],"hours":[{"id":9,
 *    "date":{"year":2026,"month":11,"day":20},"rx":4502528,"tx":35840}]}}]}
 *
 * jsonversion "2" (vnstat 2.x), counters in bytes, one entry per period with `date` and `time`,
 * and from 2.10 on also `timestamp` (Unix seconds of the local start of the period):
 *   {"vnstatversion":"2.10","jsonversion":"2","interfaces":[{"name":"eth0","alias":"uplink",...,
 *    "traffic":{"total":{"rx":987654321000,"tx":123456789000},"fiveminute":[{"id":1,"date":{"year":
 *    2026,"month":11,"day":20},"time":{"hour":9,"minute":0},"timestamp":1795161600,"rx":104857600,
 *    "tx":5242880}],"hour":[...],"day":[...],"month":[...],"year":[...],"top":[...]}}]}
 *
 * `--json` with `-tr` or `--live` prints a rate sample with no `interfaces` (also jsonversion "1"):
 * that is refused. `year` and `top` (the busiest days again) are not kept.
 */
import { zonedToUtc } from '../time.js';

export type VnstatGranularity = 'fiveminute' | 'hour' | 'day' | 'month';

export interface VnstatPoint {
  granularity: VnstatGranularity;
  /** Start of the period, UTC ms. */
  start: number;
  /** Bytes received and sent on the interface in the period. */
  rx: number;
  tx: number;
}

export interface VnstatInterface {
  name: string;
  alias: string | null;
  /** Bytes since vnstat began watching the interface. */
  totals: { rx: number; tx: number };
  /** Ordered by granularity (fiveminute, hour, day, month), then by start. */
  series: VnstatPoint[];
}

export interface VnstatReport {
  version: 1 | 2;
  interfaces: VnstatInterface[];
}

type Json = Record<string, unknown>;
const isObj = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;

class Bad extends Error {}

function int(o: Json, key: string, path: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new Bad(`${path}.${key} is not a number from ${min} to ${max}`);
  return v;
}

function obj(o: Json, key: string, path: string): Json {
  const v = o[key];
  if (!isObj(v)) throw new Bad(`${path}.${key} is missing`);
  return v;
}

function counts(o: Json, path: string, scale: number): { rx: number; tx: number } {
  if (!isCount(o.rx) || !isCount(o.tx)) throw new Bad(`${path}: rx or tx is not a counter`);
  return { rx: o.rx * scale, tx: o.tx * scale };
}

/** vnstat 1.x: `days`, `months`, `hours` (24 slots, see above); KiB. */
function v1Interface(it: Json, path: string, tz: string): VnstatInterface {
  if (typeof it.id !== 'string') throw new Bad(`${path}.id is not an interface name`);
  const traffic = obj(it, 'traffic', path);
  const series: VnstatPoint[] = [];
  const list = (key: string) => {
    const v = traffic[key];
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new Bad(`${path}.traffic.${key} is not a list`);
    return v.map((e, i) => {
      if (!isObj(e)) throw new Bad(`${path}.traffic.${key}[${i}] is not an object`);
      return { e, p: `${path}.traffic.${key}[${i}]` };
    });
  };
  const hours: VnstatPoint[] = [];
  for (const { e, p } of list('hours')) {
    const d = obj(e, 'date', p);
    const h = int(e, 'id', p, 0, 23);
    hours.push({ granularity: 'hour', start: zonedToUtc(tz, int(d, 'year', p, 1970, 9999), int(d, 'month', p, 1, 12), int(d, 'day', p, 1, 31), h, 0, 0), ...counts(e, p, 1024) });
  }
  const days: VnstatPoint[] = [];
  for (const { e, p } of list('days')) {
    const d = obj(e, 'date', p);
    days.push({ granularity: 'day', start: zonedToUtc(tz, int(d, 'year', p, 1970, 9999), int(d, 'month', p, 1, 12), int(d, 'day', p, 1, 31), 0, 0, 0), ...counts(e, p, 1024) });
  }
  const months: VnstatPoint[] = [];
  for (const { e, p } of list('months')) {
    const d = obj(e, 'date', p);
    months.push({ granularity: 'month', start: zonedToUtc(tz, int(d, 'year', p, 1970, 9999), int(d, 'month', p, 1, 12), 1, 0, 0, 0), ...counts(e, p, 1024) });
  }
  for (const part of [hours, days, months]) series.push(...part.sort((a, b) => a.start - b.start));
  const nick = typeof it.nick === 'string' && it.nick !== '' && it.nick !== it.id ? it.nick : null;
  return { name: it.id, alias: nick, totals: counts(obj(traffic, 'total', `${path}.traffic`), `${path}.traffic.total`, 1024), series };
}

const V2_KEYS: Array<[string, VnstatGranularity]> = [['fiveminute', 'fiveminute'], ['hour', 'hour'], ['day', 'day'], ['month', 'month']];

/** vnstat 2.x: one entry per period; `timestamp` (2.10+) when there is one, else `date`/`time` read in `tz`. */
function v2Interface(it: Json, path: string, tz: string): VnstatInterface {
  if (typeof it.name !== 'string') throw new Bad(`${path}.name is not an interface name`);
  const traffic = obj(it, 'traffic', path);
  const series: VnstatPoint[] = [];
  for (const [key, granularity] of V2_KEYS) {
    const v = traffic[key];
    if (v === undefined) continue;
    if (!Array.isArray(v)) throw new Bad(`${path}.traffic.${key} is not a list`);
    const part: VnstatPoint[] = v.map((e, i) => {
      const p = `${path}.traffic.${key}[${i}]`;
      if (!isObj(e)) throw new Bad(`${p} is not an object`);
      let start: number;
      if (typeof e.timestamp === 'number' && Number.isInteger(e.timestamp)) start = e.timestamp * 1000;
      else {
        const d = obj(e, 'date', p);
        const t = isObj(e.time) ? e.time : {};
        const day = granularity === 'month' ? 1 : int(d, 'day', p, 1, 31);
        const hour = granularity === 'fiveminute' || granularity === 'hour' ? int(t, 'hour', `${p}.time`, 0, 23) : 0;
        const minute = granularity === 'fiveminute' ? int(t, 'minute', `${p}.time`, 0, 59) : 0;
        start = zonedToUtc(tz, int(d, 'year', p, 1970, 9999), int(d, 'month', p, 1, 12), day, hour, minute, 0);
      }
      return { granularity, start, ...counts(e, p, 1) };
    });
    series.push(...part.sort((a, b) => a.start - b.start));
  }
  const alias = typeof it.alias === 'string' && it.alias !== '' ? it.alias : null;
  return { name: it.name, alias, totals: counts(obj(traffic, 'total', `${path}.traffic`), `${path}.traffic.total`, 1), series };
}

/**
 * Parse `vnstat --json` (any mode: a, f, h, d, m, y, t, s). `tz` is the zone of the host that
 * ran vnstat, in which its dates are local. Counters beyond 2^53 bytes (8 PiB) lose precision
 * in JSON.parse.
 */
export function parseVnstatJson(text: string, tz: string): VnstatReport | { error: string } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    return { error: `not JSON: ${(e as Error).message}` };
  }
  if (!isObj(doc)) return { error: 'not a vnstat --json document' };
  if (!Array.isArray(doc.interfaces)) {
    return { error: doc.sampletime !== undefined || doc.interface !== undefined
      ? 'a vnstat --json rate sample (-tr or --live), not a database dump'
      : 'no interfaces list: not a vnstat --json document' };
  }
  const jv = doc.jsonversion;
  let version: 1 | 2;
  if (jv === '1' || jv === 1) version = 1;
  else if (jv === '2' || jv === 2) version = 2;
  else if (jv === undefined) {
    // Guess from the first interface: 1.x has `id` and `traffic.days`, 2.x `name` and `traffic.day`.
    const first = doc.interfaces[0];
    version = isObj(first) && typeof first.id === 'string' ? 1 : 2;
  } else return { error: `unsupported vnstat jsonversion ${JSON.stringify(jv).slice(0, 20)}` };
  try {
    const interfaces = doc.interfaces.map((it, i) => {
      const path = `interfaces[${i}]`;
      if (!isObj(it)) throw new Bad(`${path} is not an object`);
      return version === 1 ? v1Interface(it, path, tz) : v2Interface(it, path, tz);
    });
    return { version, interfaces };
  } catch (e) {
    if (e instanceof Bad) return { error: e.message };
    throw e;
  }
}
