import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import {
  ConntrackDeltas, keyOf, parseConntrackLine, parseConntrackSnapshot,
  type ConntrackDelta, type ConntrackEntry,
} from '../../src/flows/conntrack.js';

const DIR = join(import.meta.dirname, '..', '..', 'fixtures', 'conntrack');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const LOCAL = new Set(['192.0.2.10', '2001:db8::10']);
/** The four snapshots were taken at 09:00, 09:05, 09:10 and 09:15 UTC on a host whose zone is Europe/Berlin. */
const TIMES = [0, 5, 10, 15].map((m) => Date.UTC(2026, 10, 20, 9, m, 0));
const OPTS = { tz: 'Europe/Berlin' };

function entry(line: string): ConntrackEntry {
  const r = parseConntrackLine(line, OPTS);
  if (r === null || 'error' in r) throw new Error(`not an entry: ${JSON.stringify(r)}`);
  return r;
}

describe('parseConntrackLine', () => {
  it('reads an extended TCP entry with timestamps', () => {
    const e = entry(read('snapshot-1.txt').split('\n')[0]);
    expect(e).toEqual({
      family: 4, proto: 'tcp', protoNum: 6, timeout: 431999, state: 'ESTABLISHED',
      orig: { src: '203.0.113.5', dst: '192.0.2.10', sport: 51234, dport: 993, packets: 120, bytes: 9800 },
      reply: { src: '192.0.2.10', dst: '203.0.113.5', sport: 993, dport: 51234, packets: 200, bytes: 2400000 },
      assured: true, unreplied: false, mark: 0, zone: null, id: null,
      start: Date.UTC(2026, 10, 20, 8, 58, 0), deltaTime: 120, icmp: null,
    });
  });

  it('reads the brief example, /proc/net/nf_conntrack style, and takes the start from delta-time when told the time', () => {
    const line = 'ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.5 dst=192.0.2.10 sport=51234 dport=993 packets=120 bytes=9800 ' +
      'src=192.0.2.10 dst=203.0.113.5 sport=993 dport=51234 packets=200 bytes=2400000 [ASSURED] mark=0 zone=0 use=2';
    expect(entry(line)).toMatchObject({ zone: 0, mark: 0, start: null, deltaTime: null });
    const proc = read('proc-nf_conntrack.txt').split('\n')[0];
    const now = Date.UTC(2026, 10, 20, 9, 0, 0);
    expect(parseConntrackLine(proc, { now })).toMatchObject({ deltaTime: 120, start: now - 120_000, zone: 0 });
  });

  it('reads UDP without a state, ICMP ids, IPv6, [UNREPLIED], offloaded flows and accounting off', () => {
    const s1 = read('snapshot-1.txt').split('\n');
    expect(entry(s1[3])).toMatchObject({ proto: 'udp', protoNum: 17, timeout: 179, state: null, assured: true });
    const icmp = entry(s1[4]);
    expect(icmp).toMatchObject({ proto: 'icmp', icmp: { type: 8, code: 0, id: 4711 }, id: null });
    expect(icmp.orig).toMatchObject({ sport: null, dport: null, packets: 1, bytes: 84 });
    expect(entry(s1[5])).toMatchObject({ family: 6, orig: { src: '2001:db8::5', dst: '2001:db8::10' } });
    expect(entry(s1[6])).toMatchObject({ state: 'SYN_SENT', unreplied: true, assured: false, reply: { packets: 0, bytes: 0 } });
    const proc = read('proc-nf_conntrack.txt').split('\n');
    expect(entry(proc[2])).toMatchObject({ timeout: null, state: 'ESTABLISHED', assured: true });
    expect(entry(proc[3])).toMatchObject({ proto: 'gre', orig: { sport: null, dport: null, bytes: 1400 } });
    expect(entry(proc[4]).orig).toMatchObject({ packets: null, bytes: null });
  });

  it('tells the ICMP id from the conntrack id, and reads entries without the layer-3 columns', () => {
    const lines = read('ids.txt').split('\n');
    expect(entry(lines[0]).id).toBe(3145728901);
    expect(entry(lines[1])).toMatchObject({ id: 2886729729, icmp: { type: 8, code: 0, id: 4711 } });
    expect(entry(lines[2])).toMatchObject({ family: 6, proto: 'icmpv6', protoNum: 58, icmp: { type: 128, id: 17 } });
    expect(entry(lines[3])).toMatchObject({ family: 4, timeout: 299, id: 1 });
    expect(entry(lines[4])).toMatchObject({ timeout: null, unreplied: true, id: 5 });
  });

  it('normalises IPv6 and reads [start=] in the zone it is given', () => {
    const line = 'ipv6     10 tcp      6 300 ESTABLISHED src=2001:0DB8:0000:0000:0000:0000:0000:0005 dst=2001:db8:0:0:0:0:0:10 ' +
      'sport=1 dport=2 src=2001:db8::10 dst=2001:db8::5 sport=2 dport=1 [ASSURED] mark=0 delta-time=5 [start=Sun Mar 29 03:30:00 2026] use=1';
    const e = entry(line);
    expect(e.orig.src).toBe('2001:db8::5');
    expect(e.orig.dst).toBe('2001:db8::10');
    // Summer time had begun an hour earlier: UTC+2.
    expect(e.start).toBe(Date.UTC(2026, 2, 29, 1, 30, 0));
    expect((parseConntrackLine(line) as ConntrackEntry).start).toBe(Date.UTC(2026, 2, 29, 3, 30, 0));
  });

  it('returns null for blank lines and an error for the rest', () => {
    expect(parseConntrackLine('')).toBeNull();
    expect(parseConntrackLine('   \t')).toBeNull();
    for (const bad of [
      'this is not a conntrack line',
      'ipv4 2 tcp 6 300 ESTABLISHED src=203.0.113.5 dst=192.0.2.10 sport=1 dport=2',
      'ipv4 2 tcp 6 300 ESTABLISHED src=203.0.113.500 dst=192.0.2.10 sport=1 dport=2 src=192.0.2.10 dst=203.0.113.5 sport=2 dport=1',
      'ipv4 2 tcp 6 300 ESTABLISHED src=203.0.113.5 dst=192.0.2.10 sport=1 dport=99999 src=192.0.2.10 dst=203.0.113.5 sport=2 dport=1',
      'ipv6 10 tcp 6 300 src=203.0.113.5 dst=192.0.2.10 src=192.0.2.10 dst=203.0.113.5',
      'ipv4 2 tcp 6 300 src=203.0.113.5 dst=192.0.2.10 src=192.0.2.10 dst=203.0.113.5 [start=Fri Nov 99 xx]',
      'ipv4 2 tcp 6 300 src=203.0.113.5 dst=192.0.2.10 packets=x bytes=1 src=192.0.2.10 dst=203.0.113.5',
    ]) {
      const r = parseConntrackLine(bad);
      expect(r, bad).not.toBeNull();
      expect((r as { error: string }).error, bad).toMatch(/\S/);
    }
  });

  it('counts errors in a snapshot and skips conntrack\'s trailer', () => {
    const s = parseConntrackSnapshot(read('ids.txt'), OPTS);
    expect(s.entries).toHaveLength(5);
    expect(s.errors).toBe(2);
    expect(s.errorSamples.map((x) => x.line)).toEqual([6, 7]);
    const p = parseConntrackSnapshot(read('proc-nf_conntrack.txt'));
    expect(p.entries).toHaveLength(6);
    expect(p.errorSamples).toEqual([{ line: 7, error: 'entry without a reply tuple' }]);
  });

  it('never throws on garbage', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const parts = ['ipv4', '2', 'tcp', '6', 'src=', 'dst=', '192.0.2.1', 'sport=', '1', 'id=', 'code=', '[start=', 'Fri', ']',
      '[UNREPLIED]', 'packets=', 'bytes=', '99999999999999999999999', ' ', '=', 'delta-time='];
    for (let i = 0; i < 3000; i++) {
      let s = '';
      for (let k = Math.floor(rnd() * 25); k > 0; k--) s += parts[Math.floor(rnd() * parts.length)] + (rnd() < 0.6 ? ' ' : '');
      expect(() => parseConntrackLine(s, { now: 0 })).not.toThrow();
    }
  });
});

function run(engine: ConntrackDeltas, i: number): ConntrackDelta[] {
  const s = parseConntrackSnapshot(read(`snapshot-${i + 1}.txt`), OPTS);
  expect(s.errors).toBe(0);
  return engine.ingest(TIMES[i], s.entries);
}

const pick = (ds: ConntrackDelta[], rip: string, lport?: number) =>
  ds.filter((d) => d.rip === rip && (lport === undefined || d.lport === lport));

describe('ConntrackDeltas', () => {
  it('reports every connection of the first snapshot in full, from the server\'s side', () => {
    const d = run(new ConntrackDeltas(LOCAL), 0);
    expect(d).toHaveLength(7);
    expect(pick(d, '203.0.113.5')[0]).toMatchObject({
      kind: 'new', direction: 'in', nat: false, since: Date.UTC(2026, 10, 20, 8, 58, 0), ts: TIMES[0],
      rip: '203.0.113.5', rport: 51234, lip: '192.0.2.10', lport: 993,
      bytesIn: 9800, bytesOut: 2400000, packetsIn: 120, packetsOut: 200,
    });
    expect(pick(d, '198.51.100.25')[0]).toMatchObject({
      direction: 'out', rip: '198.51.100.25', rport: 25, lip: '192.0.2.10', lport: 40000, bytesOut: 52000000, bytesIn: 2000,
    });
    // A VPN client's HTTPS, masqueraded behind the server: described in its original direction and marked.
    expect(pick(d, '198.51.100.130')[0]).toMatchObject({
      direction: 'fwd', nat: true, lip: '203.0.113.80', lport: 443, bytesIn: 80000, bytesOut: 4000000,
    });
    expect(pick(d, '203.0.113.9')[0]).toMatchObject({ proto: 'icmp', icmpId: 4711, rport: null, lport: null, bytesIn: 84 });
    expect(pick(d, '2001:db8::5')[0]).toMatchObject({ family: 6, lip: '2001:db8::10', bytesOut: 120000 });
  });

  it('gives growth per snapshot, a reset as a new connection, and a reappearance without double counting', () => {
    const engine = new ConntrackDeltas(LOCAL);
    run(engine, 0);
    const d2 = run(engine, 1);
    expect(pick(d2, '203.0.113.5')).toEqual([expect.objectContaining({ kind: 'update', since: TIMES[0], bytesIn: 11200, bytesOut: 500000, packetsIn: 180, packetsOut: 1800 })]);
    expect(pick(d2, '198.51.100.25')).toEqual([expect.objectContaining({ kind: 'update', bytesOut: 52000000, bytesIn: 2000 })]);
    expect(pick(d2, '2001:db8::5')).toEqual([]); // no traffic since the last snapshot
    expect(pick(d2, '203.0.113.9')).toEqual([]); // gone

    const d3 = run(engine, 2);
    // Same tuple, but the start time moved and the counters went down: another connection, counted from zero.
    expect(pick(d3, '203.0.113.5')).toEqual([expect.objectContaining({
      kind: 'reset', since: Date.UTC(2026, 10, 20, 9, 9, 30), bytesIn: 1200, bytesOut: 40000,
    })]);
    expect(pick(d3, '198.51.100.25')).toEqual([]); // missing from this listing
    expect(pick(d3, '198.51.100.130')).toEqual([]); // no traffic

    const d4 = run(engine, 3);
    // B is back with the same start and larger counters: only what it moved since 09:05.
    expect(pick(d4, '198.51.100.25')).toEqual([expect.objectContaining({
      kind: 'update', since: TIMES[1], bytesOut: 26000000, bytesIn: 800,
    })]);
    expect(pick(d4, '203.0.113.5')).toEqual([expect.objectContaining({ kind: 'update', since: TIMES[2], bytesIn: 3800, bytesOut: 560000 })]);
    expect(pick(d4, '198.51.100.130')).toEqual([expect.objectContaining({ bytesIn: 40000, bytesOut: 1000000 })]);
    expect(pick(d4, '203.0.113.7')).toEqual([]);
  });

  it('adds up to each connection\'s final counters, whatever the snapshots missed', () => {
    const engine = new ConntrackDeltas(LOCAL);
    const all = [0, 1, 2, 3].flatMap((i) => run(engine, i));
    const sum = (rip: string, f: 'bytesIn' | 'bytesOut') => pick(all, rip).reduce((a, d) => a + (d[f] ?? 0), 0);
    // Two connections on A's tuple: 21000 + 2900000 for the first (as last seen), 5000 + 600000 for the second.
    expect(sum('203.0.113.5', 'bytesIn')).toBe(21000 + 5000);
    expect(sum('203.0.113.5', 'bytesOut')).toBe(2900000 + 600000);
    expect(sum('198.51.100.25', 'bytesOut')).toBe(130000000);
    expect(sum('198.51.100.130', 'bytesOut')).toBe(21000000);
    expect(sum('203.0.113.7', 'bytesIn')).toBe(110000);
  });

  it('does not count a snapshot twice, and refuses one older than the last', () => {
    const engine = new ConntrackDeltas(LOCAL);
    run(engine, 0);
    run(engine, 1);
    expect(run(engine, 1)).toEqual([]);
    expect(() => run(engine, 0)).toThrow(InputError);
  });

  it('keeps its state as plain JSON and picks up where it left off', () => {
    const a = new ConntrackDeltas(LOCAL);
    run(a, 0);
    run(a, 1);
    const json = JSON.parse(JSON.stringify(a.toJSON()));
    const b = ConntrackDeltas.fromJSON(json, LOCAL);
    const c = new ConntrackDeltas(LOCAL);
    [0, 1].forEach((i) => run(c, i));
    expect(run(b, 2)).toEqual(run(c, 2));
    expect(run(b, 3)).toEqual(run(c, 3));
    expect(json.version).toBe(1);
    expect(() => ConntrackDeltas.fromJSON({ version: 2 } as never, LOCAL)).toThrow(InputError);
  });

  it('forgets connections gone longer than forgetAfterMs, and then counts a reappearance as new', () => {
    const engine = new ConntrackDeltas(LOCAL, { forgetAfterMs: 4 * 60_000 });
    run(engine, 0);
    run(engine, 1);
    run(engine, 2); // B missing for 5 minutes: forgotten
    expect(engine.toJSON().conns).not.toHaveProperty(keyOf(parseConntrackSnapshot(read('snapshot-2.txt'), OPTS).entries[1]));
    expect(pick(run(engine, 3), '198.51.100.25')).toEqual([expect.objectContaining({ kind: 'new', bytesOut: 130000000 })]);
  });

  it('keys by conntrack id when there is one, and handles DNAT to the server and accounting off', () => {
    const ids = parseConntrackSnapshot(read('ids.txt'), OPTS).entries;
    expect(keyOf(ids[0])).toBe('id:3145728901');
    const proc = parseConntrackSnapshot(read('proc-nf_conntrack.txt')).entries;
    expect(keyOf(proc[0])).toBe('6|0|203.0.113.5|192.0.2.10|51234|993');
    const engine = new ConntrackDeltas(new Set([...LOCAL, '192.0.2.30']));
    const d = engine.ingest(TIMES[0], proc);
    // Port 8443 on a service address, forwarded to the server's 192.0.2.30:443.
    expect(d.find((x) => x.lport === 443 && x.direction === 'in')).toMatchObject({ nat: true, rip: '203.0.113.5', lip: '192.0.2.30', bytesIn: 4000, bytesOut: 90000 });
    const off = d.filter((x) => x.bytesIn === null);
    expect(off).toHaveLength(1);
    expect(off[0]).toMatchObject({ kind: 'new', family: 6, rip: '2001:db8::5', lport: 53 });
    // Without accounting, later sightings give nothing.
    expect(engine.ingest(TIMES[1], proc).filter((x) => x.bytesIn === null)).toEqual([]);
  });
});
