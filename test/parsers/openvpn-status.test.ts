import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ParseContext } from '../../src/events.js';
import { normalizeIp } from '../../src/parsers/common.js';
import type { OpenvpnStatus } from '../../src/parsers/openvpn-status.js';
import { isOpenvpnStatus, parseOpenvpnStatus, parseStatusTime } from '../../src/parsers/openvpn-status.js';

const UTC: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'openvpn-status');
const CORPUS = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'openvpn', 'status');

function parsed(text: string, ctx: ParseContext = UTC): OpenvpnStatus {
  const r = parseOpenvpnStatus(text, ctx);
  if ('error' in r) throw new Error(`unexpected error: ${r.error}`);
  return r;
}

function fixture(name: string): string {
  return readFileSync(join(FIXTURES, name), 'utf8');
}

/** Every IP that comes out is in canonical form, and every time is a finite UTC instant. */
function expectWellFormed(s: OpenvpnStatus): void {
  for (const c of s.clients) {
    expect(normalizeIp(c.realIp)).toBe(c.realIp);
    if (c.virtualIp !== null) expect(normalizeIp(c.virtualIp)).toBe(c.virtualIp);
    if (c.virtualIp6 !== null) expect(normalizeIp(c.virtualIp6)).toBe(c.virtualIp6);
    expect(Number.isFinite(c.bytesIn) && c.bytesIn >= 0).toBe(true);
    expect(Number.isFinite(c.bytesOut) && c.bytesOut >= 0).toBe(true);
    if (c.connectedSince !== null) expect(Number.isFinite(c.connectedSince)).toBe(true);
  }
  for (const r of s.routes) {
    expect(normalizeIp(r.realIp)).toBe(r.realIp);
    if (r.lastRef !== null) expect(Number.isFinite(r.lastRef)).toBe(true);
  }
}

describe('OpenVPN status: own fixtures', () => {
  it('reads version 1, taking virtual addresses from the routing table', () => {
    const s = parsed(fixture('v1.status'));
    expectWellFormed(s);
    expect(s.version).toBe(1);
    expect(s.updated).toBe(Date.UTC(2026, 10, 20, 9, 20, 2));
    expect(s.clients.map((c) => [c.cn, c.realIp, c.realPort])).toEqual([
      ['client1', '203.0.113.5', 51234],
      ['vpn client 02', '203.0.113.7', 40000],
      ['client6', '2001:db8::5', 51235],
      ['client1', '203.0.113.8', 41000],
      ['UNDEF', '203.0.113.9', 61000],
    ]);
    const [c1, c2, c6, c1b, undef] = s.clients;
    expect(c1).toEqual({
      cn: 'client1', realIp: '203.0.113.5', realPort: 51234, virtualIp: '198.51.100.6', virtualIp6: null,
      bytesIn: 1048576, bytesOut: 8388608, connectedSince: Date.UTC(2026, 10, 20, 8, 0, 0),
      username: null, clientId: null, peerId: null,
    });
    // The iroute subnet and the host route cached from it (`C`) are not the client's own address.
    expect(c2.virtualIp).toBe('198.51.100.10');
    expect(c6.virtualIp).toBe('198.51.100.14');
    expect(c6.virtualIp6).toBe('2001:db8:0:123::1002');
    // Same CN from another address (--duplicate-cn): a separate client with its own counters.
    expect(c1b.virtualIp).toBe('198.51.100.18');
    expect(c1b.bytesIn).toBe(90194313216);
    expect(undef.virtualIp).toBeNull();
    expect(s.routes).toHaveLength(7);
    expect(s.routes.map((r) => r.virtualIp)).toContain('192.0.2.128/25');
    expect(s.routes.map((r) => r.virtualIp)).toContain('192.0.2.130');
    expect(s.routes[0]).toEqual({ virtualIp: '198.51.100.6', cn: 'client1', realIp: '203.0.113.5', realPort: 51234, lastRef: Date.UTC(2026, 10, 20, 9, 20, 1) });
    expect(s.warnings).toEqual([]);
  });

  it('reads version 1 local times in the zone it is given', () => {
    const s = parsed(fixture('v1.status'), { tz: 'Europe/Berlin', refTime: Date.UTC(2026, 10, 21) });
    expect(s.updated).toBe(Date.UTC(2026, 10, 20, 8, 20, 2)); // CET is UTC+1 in November
    expect(s.clients[0].connectedSince).toBe(Date.UTC(2026, 10, 20, 7, 0, 0));
  });

  it('reads version 2 (2.6 columns, ISO times), preferring time_t, with a comma in a CN', () => {
    const s = parsed(fixture('v2.status'), { tz: 'Pacific/Auckland', refTime: Date.UTC(2026, 10, 21) });
    expectWellFormed(s);
    expect(s.version).toBe(2);
    expect(s.updated).toBe(1795166402000);
    expect(s.clients).toHaveLength(4);
    expect(s.clients[0]).toEqual({
      cn: 'client1', realIp: '203.0.113.5', realPort: 51234, virtualIp: '198.51.100.6', virtualIp6: '2001:db8:0:123::1000',
      bytesIn: 1048576, bytesOut: 8388608, connectedSince: 1795161600000, username: 'alice', clientId: 3, peerId: 0,
    });
    expect(s.clients[1]).toMatchObject({ cn: 'client1', realIp: '203.0.113.8', virtualIp6: null, username: null, bytesIn: 90194313216, bytesOut: 6442450944 });
    expect(s.clients[2]).toMatchObject({ cn: 'Smith, John', realIp: '203.0.113.11', realPort: 50000, virtualIp: '198.51.100.22', clientId: 7, peerId: 2 });
    expect(s.clients[3]).toMatchObject({ cn: 'client6', realIp: '2001:db8::5', realPort: 51235, virtualIp6: '2001:db8:0:123::1002' });
    expect(s.routes).toHaveLength(5);
    expect(s.routes[3]).toEqual({ virtualIp: '198.51.100.22', cn: 'Smith, John', realIp: '203.0.113.11', realPort: 50000, lastRef: 1795166340000 });
    expect(s.warnings).toEqual([]);
  });

  it('reads version 3 (tabs, 2.4 columns, CRLF), IPv6 real address without a port; a counter above 2^53-1 is the row\'s failure', () => {
    const s = parsed(fixture('v3.status'));
    expectWellFormed(s);
    expect(s.version).toBe(3);
    expect(s.updated).toBe(1795166402000);
    expect(s.clients.map((c) => c.cn)).toEqual(['Smith, John', 'old24']);
    expect(s.clients[0]).toMatchObject({ username: 'jsmith', realIp: '203.0.113.11', realPort: 50000, connectedSince: 1795165200000 });
    expect(s.rejected).toEqual([{ line: 5, reason: 'client laptop-7 has byte counters unreadable or above 2^53-1', text: expect.stringContaining('4611686018427387904') }]);
    expect(s.clients[1]).toMatchObject({ realIp: '2001:db8::7', realPort: null, virtualIp: '198.51.100.16', virtualIp6: '2001:db8:0:123::2000' });
    expect(s.routes.find((r) => r.cn === 'old24')).toMatchObject({ realIp: '2001:db8::7', realPort: null });
    expect(s.warnings).toEqual(['line 5: client laptop-7 has byte counters unreadable or above 2^53-1']);
  });

  it('reads the same clients from v2 and from its tab-separated twin', () => {
    const v2 = parsed(fixture('v2.status'));
    const v3 = parsed(fixture('v2.status').replace(/,(?! John)/g, '\t'));
    expect(v3.version).toBe(3);
    expect(v3.clients).toEqual(v2.clients);
    expect(v3.routes).toEqual(v2.routes);
  });
});

describe('OpenVPN status: edge cases', () => {
  it('gives a clear error for text that is not a server status file, and never throws', () => {
    expect(parseOpenvpnStatus('', UTC)).toEqual({ error: 'empty status file' });
    expect(parseOpenvpnStatus('\n\n  \n', UTC)).toEqual({ error: 'empty status file' });
    const stats = parseOpenvpnStatus('OpenVPN STATISTICS\nUpdated,Fri Nov 20 09:20:02 2026\nTUN/TAP read bytes,100\nEND\n', UTC);
    expect('error' in stats && stats.error).toMatch(/client or point-to-point status file/);
    const junk = parseOpenvpnStatus('Nov 20 09:20:02 vpn ovpn-server[1]: hello\n', UTC);
    expect('error' in junk && junk.error).toMatch(/^not an OpenVPN server status file/);
  });

  it('warns about a truncated file (no END), and keeps the rows it has', () => {
    const text = fixture('v2.status').split('\n').slice(0, 5).join('\n');
    const s = parsed(text);
    expect(s.clients).toHaveLength(2);
    expect(s.warnings.some((w) => w.startsWith('no END line'))).toBe(true);
  });

  it('keeps unreadable rows out, with a warning naming the line', () => {
    const s = parsed([
      'OpenVPN CLIENT LIST',
      'Updated,not a date',
      'Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since',
      'good,203.0.113.5:1,10,20,Fri Nov 20 08:00:00 2026',
      'badbytes,203.0.113.6:1,foo,20,Fri Nov 20 08:00:00 2026',
      'badaddr,not-an-address,10,20,Fri Nov 20 08:00:00 2026',
      'short,203.0.113.7:1',
      'ROUTING TABLE',
      'Virtual Address,Common Name,Real Address,Last Ref',
      '198.51.100.9,ghost,203.0.113.99:1,Fri Nov 20 08:00:00 2026',
      'GLOBAL STATS',
      'END',
    ].join('\n'));
    expect(s.updated).toBeNull();
    expect(s.clients.map((c) => c.cn)).toEqual(['good']);
    expect(s.warnings).toEqual([
      'line 2: unreadable Updated time',
      'line 5: client badbytes has byte counters unreadable or above 2^53-1',
      'line 6: client badaddr has an unreadable real address',
      'line 7: client row without 5 fields',
      'route 198.51.100.9 (ghost, 203.0.113.99:1) matches no client row',
    ]);
  });

  it('reads status rows without a HEADER by their field count (2.3, 2.4, 2.5+)', () => {
    const s = parsed([
      'TITLE,OpenVPN 2.3.2 x86_64-pc-linux-gnu',
      'TIME,Fri Nov 20 09:20:02 2026,1795166402',
      'CLIENT_LIST,a,203.0.113.1:1,198.51.100.1,1,2,Fri Nov 20 09:00:00 2026,1795165200,UNDEF',
      'CLIENT_LIST,b,203.0.113.2:2,198.51.100.2,2001:db8::2,1,2,Fri Nov 20 09:00:00 2026,1795165200,bob,5,6',
      'CLIENT_LIST,c,203.0.113.3:3,198.51.100.3,,1,2,Fri Nov 20 09:00:00 2026,1795165200,UNDEF,5,6,AES-256-GCM',
      'END',
    ].join('\n'));
    expect(s.clients.map((c) => [c.cn, c.virtualIp, c.virtualIp6, c.username, c.clientId])).toEqual([
      ['a', '198.51.100.1', null, null, null],
      ['b', '198.51.100.2', '2001:db8::2', 'bob', 5],
      ['c', '198.51.100.3', null, null, 5],
    ]);
  });

  it('parses both status time formats and rejects nonsense', () => {
    expect(parseStatusTime('Fri Jun  5 09:03:05 2020', 'UTC')).toBe(Date.UTC(2020, 5, 5, 9, 3, 5));
    expect(parseStatusTime('2026-08-03 17:49:55', 'UTC')).toBe(Date.UTC(2026, 7, 3, 17, 49, 55));
    expect(parseStatusTime('test', 'UTC')).toBeNull();
    expect(parseStatusTime('Fri Foo 99 09:03:05 2020', 'UTC')).toBeNull();
    expect(parseStatusTime('2026-13-03 17:49:55', 'UTC')).toBeNull();
    expect(parseStatusTime('2026-08-03 17:49:55', 'Not/AZone')).toBeNull();
  });

  it('never throws on garbage or mangled status files', () => {
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const sources = ['v1.status', 'v2.status', 'v3.status'].map(fixture);
    const alphabet = ',\t\n:.[]0123456789abcdefUNDEF CLIENT_LIST HEADER ROUTING_TABLE END TITLE TIME \u0000\u00e9\ud83d';
    for (let i = 0; i < 3000; i++) {
      const base = sources[i % sources.length];
      const chars = base.split('');
      const edits = 1 + Math.floor(rnd() * 20);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rnd() * chars.length);
        const op = rnd();
        if (op < 0.4) chars.splice(at, 1 + Math.floor(rnd() * 10));
        else if (op < 0.8) chars.splice(at, 0, alphabet[Math.floor(rnd() * alphabet.length)]);
        else chars[at] = alphabet[Math.floor(rnd() * alphabet.length)];
      }
      const text = rnd() < 0.1 ? chars.join('').slice(0, Math.floor(rnd() * 200)) : chars.join('');
      const r = parseOpenvpnStatus(text, UTC);
      if (!('error' in r)) expectWellFormed(r);
    }
  });

  it('recognises status files by their first bytes', () => {
    for (const f of ['v1.status', 'v2.status', 'v3.status']) expect(isOpenvpnStatus(fixture(f).slice(0, 64))).toBe(true);
    expect(isOpenvpnStatus('\ufeffOpenVPN CLIENT LIST\r\nUpdated,')).toBe(true);
    expect(isOpenvpnStatus('OpenVPN CLIENT LISTING')).toBe(false);
    expect(isOpenvpnStatus('OpenVPN STATISTICS\n')).toBe(false);
    expect(isOpenvpnStatus('2026-11-20 09:20:02 OpenVPN 2.6.8 x86_64-pc-linux-gnu')).toBe(false);
    expect(isOpenvpnStatus('TITLE,Some spreadsheet')).toBe(false);
    expect(isOpenvpnStatus('')).toBe(false);
  });
});

const haveCorpus = existsSync(CORPUS);

/** The Go test file's raw-string constants: `const name = \`...\``. */
function goConstants(src: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of src.matchAll(/const (\w+) = `([^`]*)`/g)) out[m[1]] = m[2];
  return out;
}

describe('OpenVPN status: corpus conformance', () => {
  it.skipIf(!haveCorpus)(`reads every file in ${CORPUS} without throwing (skipped: corpus absent)`, () => {
    const files = readdirSync(CORPUS).filter((f) => f.endsWith('.status')).sort();
    expect(files.length).toBeGreaterThanOrEqual(7);
    for (const f of files) {
      const text = readFileSync(join(CORPUS, f), 'utf8');
      expect(isOpenvpnStatus(text.slice(0, 256)), f).toBe(true);
      const r = parseOpenvpnStatus(text, UTC);
      expect('error' in r, `${f}: ${JSON.stringify(r).slice(0, 200)}`).toBe(false);
      expectWellFormed(r as OpenvpnStatus);
    }
  });

  it.skipIf(!haveCorpus)('agrees with patrickjahns/openvpn_exporter parser_test.go', () => {
    const go = goConstants(readFileSync(join(CORPUS, 'patrickjahns-openvpn_exporter-parser_test.go.txt'), 'utf8'));
    expect(Object.keys(go).sort()).toEqual(['badFields', 'connectedClientsV1', 'connectedClientsV2', 'connectedClientsV3', 'noConnectedClientsV1', 'noConnectedClientsV2', 'noConnectedClientsV3']);

    // TestParsingEmptyFile
    expect('error' in parseOpenvpnStatus('', UTC)).toBe(true);

    // TestNoConnectedClientsAreParsedCorrectly
    for (const name of ['noConnectedClientsV1', 'noConnectedClientsV2', 'noConnectedClientsV3']) {
      const s = parsed(go[name]);
      expect(s.clients, name).toEqual([]);
      expect(s.warnings, name).toEqual([]);
    }

    // TestConnectedClientsParsedCorrectly (the Go test runs in the local zone; ours is UTC)
    const cases: Array<[string, 1 | 2 | 3, number, number, string, string, number]> = [
      ['connectedClientsV1', 1, Date.UTC(2020, 3, 23, 20, 14, 31), 4, 'user1', '1.2.3.4', Date.UTC(2020, 3, 22, 12, 36, 42)],
      ['connectedClientsV2', 2, 1588254944000, 2, 'test@localhost', '1.2.3.4', 1588254938000],
      ['connectedClientsV3', 3, 1588254944000, 2, 'test@localhost', '1.2.3.4', 1588254938000],
    ];
    for (const [name, version, updated, n, cn, ip, since] of cases) {
      const s = parsed(go[name]);
      expect(s.version, name).toBe(version);
      expect(s.updated, name).toBe(updated);
      expect(s.clients, name).toHaveLength(n);
      expect(s.clients[0].cn, name).toBe(cn);
      expect(s.clients[0].realIp, name).toBe(ip);
      expect(s.clients[0].connectedSince, name).toBe(since);
    }

    // TestParsingWrongValuesIsNotAnIssue: no error, no time; the bad rows become warnings.
    const bad = parsed(go.badFields);
    expect(bad.updated).toBeNull();
    expect(bad.clients).toEqual([]);
    expect(bad.warnings).toContain('line 2: unreadable Updated time');
    expect(bad.warnings).toContain('line 4: client user1 has byte counters unreadable or above 2^53-1');
    expect(bad.warnings).toContain('line 7: route for user4 has an unreadable real address');
  });

  it.skipIf(!haveCorpus)('reads the patrickjahns example files', () => {
    const read = (f: string) => parsed(readFileSync(join(CORPUS, `patrickjahns-openvpn_exporter-${f}.status`), 'utf8'));
    const v1 = read('version1');
    expect(v1.clients.map((c) => [c.cn, c.realIp, c.realPort, c.bytesIn, c.bytesOut])).toEqual([
      ['user1', '1.2.3.4', 60102, 7883858, 7762340],
      ['user2', '1.2.3.5', 50976, 1673200, 2065632],
      ['user3@test.de', '1.2.3.6', 57688, 19602844, 23599532],
      ['user4', '1.2.3.7', 40832, 582207, 575193],
    ]);
    // The sample's routing rows for user1 and user2 have the other one's port: only exact matches are joined.
    expect(v1.clients.map((c) => c.virtualIp)).toEqual([null, null, '10.240.37.214', '10.240.1.222']);
    expect(v1.warnings).toHaveLength(2);
    expect(v1.routes).toHaveLength(4);

    for (const [f, version] of [['version2', 2], ['version3', 3]] as const) {
      const s = read(f);
      expect(s.version).toBe(version);
      expect(s.clients[1]).toEqual({
        cn: 'test1@localhost', realIp: '1.2.3.5', realPort: 51053, virtualIp: '10.68.0.25', virtualIp6: null,
        bytesIn: 3871, bytesOut: 3924, connectedSince: 1588254940000, username: 'test1@localhost', clientId: 1, peerId: 1,
      });
      expect(s.routes[1]).toEqual({ virtualIp: '10.68.0.25', cn: 'test1@localhost', realIp: '1.2.3.5', realPort: 51053, lastRef: 1588254942000 });
      expect(s.warnings).toEqual([]);
    }

    // Same CN twice at the same real address is one client written twice; `UNDEF` from two addresses are two.
    const dup = read('duplicate');
    expect(dup.clients.map((c) => [c.cn, c.realIp, c.realPort])).toEqual([
      ['foo_foo', '1.1.1.1', null], ['bar_bar', '2.2.2.2', null], ['UNDEF', '3.3.3.3', null], ['UNDEF', '4.4.4.4', null],
    ]);
    expect(dup.warnings[0]).toMatch(/^line 6: client row repeated word for word \(bar_bar, 2\.2\.2\.2\)/);

    // error.status is the exporter's duplicate-label case (two UNDEF clients); as a file it only lacks
    // its ROUTING TABLE section. Its clients are kept and the gap is reported.
    const err = read('error');
    expect(err.clients).toHaveLength(4);
    expect(err.warnings).toEqual([expect.stringMatching(/^no ROUTING TABLE section/)]);
  });

  it.skipIf(!haveCorpus)('reads the kumina examples: 2.3 columns, repeated rows, counters above 2^32', () => {
    const v2 = parsed(readFileSync(join(CORPUS, 'kumina-openvpn_exporter-server2.status'), 'utf8'));
    const v3 = parsed(readFileSync(join(CORPUS, 'kumina-openvpn_exporter-server3.status'), 'utf8'));
    expect(v2.version).toBe(2);
    expect(v3.version).toBe(3);
    expect(v2.updated).toBe(1490089154000);
    for (const s of [v2, v3]) {
      expect(s.clients.map((c) => c.cn)).toEqual(['redacted1', 'redacted2', 'redacted3', 'redacted4', 'redacted5']);
      expect(s.clients[3]).toEqual({
        cn: 'redacted4', realIp: '0.0.0.0', realPort: 52335, virtualIp: '0.0.0.0', virtualIp6: null,
        bytesIn: 24289622392, bytesOut: 70914674697, connectedSince: 1489745789000, username: null, clientId: null, peerId: null,
      });
      expect(s.routes).toHaveLength(5);
    }
    expect(v2.warnings).toEqual([
      'line 9: client row repeated word for word (redacted1, 0.0.0.0); counted once',
      'line 16: routing row repeated word for word (0.0.0.0); counted once',
    ]);
    expect(v3.warnings).toEqual([]);
  });
});
