import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseVnstatJson, type VnstatReport } from '../../src/flows/vnstat.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'vnstat');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
/** The fixtures come from a host in Europe/Berlin (UTC+1 in November, +2 in October's first weeks). */
const TZ = 'Europe/Berlin';
const utc = (mo: number, d: number, h = 0, mi = 0) => Date.UTC(2026, mo - 1, d, h, mi);

function report(text: string, tz = TZ): VnstatReport {
  const r = parseVnstatJson(text, tz);
  if ('error' in r) throw new Error(r.error);
  return r;
}

describe('parseVnstatJson, vnstat 2.x', () => {
  it('reads vnstat 2.10 output (with timestamps) in bytes', () => {
    const r = report(read('v2-2.10.json'));
    expect(r.version).toBe(2);
    expect(r.interfaces.map((i) => [i.name, i.alias])).toEqual([['eth0', 'uplink'], ['wg0', null]]);
    const eth0 = r.interfaces[0];
    expect(eth0.totals).toEqual({ rx: 987654321000, tx: 123456789000 });
    const five = eth0.series.filter((p) => p.granularity === 'fiveminute');
    expect(five.map((p) => p.start)).toEqual([utc(11, 20, 8, 0), utc(11, 20, 8, 5), utc(11, 20, 8, 10), utc(11, 20, 8, 15)]);
    expect(five[2]).toEqual({ granularity: 'fiveminute', start: utc(11, 20, 8, 10), rx: 4294967296, tx: 20971520 });
    expect(eth0.series.filter((p) => p.granularity === 'hour').map((p) => [p.start, p.rx])).toEqual([
      [utc(11, 20, 7), 524288000], [utc(11, 20, 8), 4610588672],
    ]);
    expect(eth0.series.filter((p) => p.granularity === 'day').map((p) => p.start)).toEqual([utc(11, 18, 23), utc(11, 19, 23)]);
    // October 1st began at 00:00 CEST (UTC+2).
    expect(eth0.series.filter((p) => p.granularity === 'month').map((p) => p.start)).toEqual([utc(9, 30, 22), utc(10, 31, 23)]);
    expect(eth0.series.map((p) => p.granularity)).toEqual([
      'fiveminute', 'fiveminute', 'fiveminute', 'fiveminute', 'hour', 'hour', 'day', 'day', 'month', 'month',
    ]);
  });

  it('reads older 2.x output without timestamps the same way, from date and time in the zone given', () => {
    const withTs = report(read('v2-2.10.json'));
    const without = report(read('v2-2.6-no-timestamps.json'));
    expect(without).toEqual(withTs);
    // Read in the wrong zone, the local times move; the 2.10 timestamps do not.
    const utcRead = report(read('v2-2.6-no-timestamps.json'), 'UTC');
    expect(utcRead.interfaces[0].series[0].start).toBe(utc(11, 20, 9, 0));
    expect(report(read('v2-2.10.json'), 'UTC')).toEqual(withTs);
  });
});

describe('parseVnstatJson, vnstat 1.x', () => {
  it('reads vnstat 1.18 output in KiB, with hours as 24 dated slots', () => {
    const r = report(read('v1-1.18.json'));
    expect(r.version).toBe(1);
    expect(r.interfaces.map((i) => [i.name, i.alias])).toEqual([['eth0', 'uplink'], ['eth1', null]]);
    const eth0 = r.interfaces[0];
    expect(eth0.totals).toEqual({ rx: 964506172 * 1024, tx: 120563270 * 1024 });
    const hours = eth0.series.filter((p) => p.granularity === 'hour');
    expect(hours).toHaveLength(24);
    // Slot 11 last held 11:00-12:00 on the 19th (local), slot 10 10:00-11:00 on the 20th.
    expect(hours[0].start).toBe(utc(11, 19, 10));
    expect(hours[23].start).toBe(utc(11, 20, 9));
    expect(hours.find((p) => p.start === utc(11, 20, 8))).toEqual({ granularity: 'hour', start: utc(11, 20, 8), rx: 4502528 * 1024, tx: 35840 * 1024 });
    expect(eth0.series.filter((p) => p.granularity === 'day').map((p) => [p.start, p.rx])).toEqual([
      [utc(11, 18, 23), 10485760 * 1024], [utc(11, 19, 23), 5014528 * 1024],
    ]);
    expect(eth0.series.filter((p) => p.granularity === 'month').map((p) => p.start)).toEqual([utc(9, 30, 22), utc(10, 31, 23)]);
    expect(r.interfaces[1]).toEqual({ name: 'eth1', alias: null, totals: { rx: 0, tx: 0 }, series: [] });
  });

  it('gives the same hour of traffic from 1.x and 2.x for the same data', () => {
    const v1 = report(read('v1-1.18.json')).interfaces[0].series.find((p) => p.granularity === 'hour' && p.start === utc(11, 20, 8));
    const v2 = report(read('v2-2.10.json')).interfaces[0].series.find((p) => p.granularity === 'hour' && p.start === utc(11, 20, 8));
    expect(v1).toEqual(v2);
  });
});

describe('parseVnstatJson, what it refuses', () => {
  it('names the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['', /not JSON/],
      ['{"interfaces":', /not JSON/],
      ['[1,2]', /not a vnstat/],
      [read('v2-traffic-tr.json'), /rate sample/],
      ['{"jsonversion":"3","interfaces":[]}', /unsupported vnstat jsonversion/],
      ['{"jsonversion":"2","interfaces":[{"name":"eth0","traffic":{"total":{"rx":1,"tx":1},"hour":[{"date":{"year":2026,"month":13,"day":1},"time":{"hour":1,"minute":0},"rx":1,"tx":1}]}}]}',
        /interfaces\[0\]\.traffic\.hour\[0\]\.month/],
      ['{"jsonversion":"2","interfaces":[{"name":"eth0","traffic":{"total":{"rx":1,"tx":1},"day":[{"timestamp":1,"rx":"1","tx":1}]}}]}',
        /interfaces\[0\]\.traffic\.day\[0\]: rx or tx/],
      ['{"jsonversion":"1","interfaces":[{"nick":"x","traffic":{}}]}', /interfaces\[0\]\.id/],
      ['{"jsonversion":"2","interfaces":[{"name":"eth0"}]}', /traffic is missing/],
    ];
    for (const [text, re] of cases) {
      const r = parseVnstatJson(text, TZ);
      expect('error' in r ? r.error : 'parsed', text.slice(0, 60)).toMatch(re);
    }
  });

  it('guesses the version when jsonversion is missing', () => {
    const v1 = JSON.parse(read('v1-1.18.json'));
    delete v1.jsonversion;
    expect(report(JSON.stringify(v1)).version).toBe(1);
    const v2 = JSON.parse(read('v2-2.10.json'));
    delete v2.jsonversion;
    expect(report(JSON.stringify(v2)).version).toBe(2);
  });
});
