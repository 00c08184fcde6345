/**
 * Flow aggregation: which end is the server, services, per-minute flushing and the live API.
 * Frames are built with src/flows/pcap-write.ts and pushed as raw packets.
 */
import { describe, expect, it } from 'vitest';
import { FlowAggregator, RowSpill } from '../../src/flows/aggregate.js';
import { formatIp, isGroupOrUnspecified, parseIp } from '../../src/flows/pcap-decode.js';
import { IPPROTO, ethernet, icmpEcho, ipv4, ipv6, sll, tcp, udp } from '../../src/flows/pcap-write.js';
import { SERVICES, ServiceTable, serviceFor } from '../../src/flows/services.js';
import type { FlowRecord } from '../../src/flows/types.js';
import { UserError } from '../../src/errors.js';
import { normalizeIp } from '../../src/parsers/common.js';

const T = Date.UTC(2026, 10, 20, 9, 0, 0);
const MIN = 60_000;

function frame(src: string, dst: string, proto: 'tcp' | 'udp' | 'icmp', sport = 0, dport = 0, size = 100): Uint8Array {
  const v6 = src.includes(':');
  const l4 = proto === 'tcp' ? tcp({ sport, dport, payload: size }) : proto === 'udp' ? udp({ sport, dport, payload: size }) : icmpEcho(v6 ? 128 : 8, 1, 1);
  const p = proto === 'tcp' ? IPPROTO.TCP : proto === 'udp' ? IPPROTO.UDP : v6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP;
  return ethernet(v6 ? ipv6({ src, dst, nextHeader: p, payload: l4 }) : ipv4({ src, dst, proto: p, payload: l4 }));
}

function push(agg: FlowAggregator, ts: number, f: Uint8Array, iface?: string): void {
  agg.pushPacket(ts, 1, f, f.length, iface);
}

const brief = (f: FlowRecord) => `${f.lip}:${f.lport} ${f.rip}:${f.rport} ${f.service} in=${f.packetsIn} out=${f.packetsOut}`;

describe('serviceFor', () => {
  it.each([
    [6, 993, 51234, 'imaps'], [6, 143, 40000, 'imap'], [6, 110, 40000, 'pop3'], [6, 995, 40000, 'pop3s'],
    [6, 25, 40000, 'smtp'], [6, 587, 40000, 'submission'], [6, 465, 40000, 'smtps'], [17, 1194, 40000, 'openvpn'],
    [6, 1194, 40000, 'openvpn'], [17, 53, 40000, 'dns'], [6, 53, 40000, 'dns'], [6, 80, 40000, 'http'],
    [6, 443, 40000, 'https'], [17, 443, 40000, 'https'], [6, 22, 40000, 'ssh'],
    // The server relaying mail out: ephemeral local port, remote 25.
    [6, 43122, 25, 'smtp'], [17, 40000, 53, 'dns'],
    // Both well-known: the local port wins.
    [17, 53, 1194, 'dns'],
    [6, 40000, 40001, 'other'], [17, 993, 40000, 'other'], [1, 0, 0, 'other'], [58, 0, 0, 'other'],
  ] as const)('proto %i, lport %i, rport %i → %s', (proto, lport, rport, want) => {
    expect(serviceFor(proto, lport, rport)).toBe(want);
  });

  it('takes extra ports per service; rejects nonsense', () => {
    const t = new ServiceTable({ openvpn: [1195, 443], imaps: [10993] });
    expect(serviceFor(17, 1195, 40000, t)).toBe('openvpn');
    expect(serviceFor(6, 443, 40000, t)).toBe('openvpn');
    expect(serviceFor(6, 10993, 40000, t)).toBe('imaps');
    expect(serviceFor(6, 10993, 40000)).toBe('other');
    expect(() => new ServiceTable({ imaps: [70000] })).toThrow('bad port 70000 for imaps');
    expect(() => new ServiceTable({ nonsense: [1] } as never)).toThrow('unknown service "nonsense"');
    expect(() => new FlowAggregator({ localIps: ['mail.example.org'] })).toThrow(UserError);
    expect(SERVICES).toContain('other');
  });
});

describe('addresses', () => {
  it.each([
    '192.0.2.1', '0.0.0.0', '255.255.255.255', '2001:db8::1', '2001:db8:0:1:0:0:0:1', '::', '::1', 'fe80::1:2:3:4',
    '2001:db8:1:2:3:4:5:6', '2001:0:0:1::1', '::ffff:192.0.2.7', '64:ff9b::192.0.2.1', '2001:db8::', 'ff02::1:ff00:2',
  ])('%s formats like normalizeIp', (ip) => {
    const w = parseIp(ip)!;
    expect(w).not.toBeNull();
    expect(formatIp(...w)).toBe(normalizeIp(ip));
  });

  it('rejects what is not an address', () => {
    for (const s of ['', '1.2.3', '256.1.1.1', '1::2::3', 'gg::1', '1:2:3:4:5:6:7:8:9', 'host']) expect(parseIp(s), s).toBeNull();
  });

  it('knows group and unspecified addresses', () => {
    for (const [ip, want] of [['224.0.0.251', true], ['239.1.1.1', true], ['255.255.255.255', true], ['0.0.0.0', true],
      ['ff02::16', true], ['::', true], ['192.0.2.1', false], ['2001:db8::1', false], ['fe80::1', false]] as const) {
      expect(isGroupOrUnspecified(...parseIp(ip)!), ip).toBe(want);
    }
  });
});

describe('which end is the server', () => {
  it('given localIps, the local end is local whatever the ports', () => {
    const agg = new FlowAggregator({ localIps: ['198.51.100.10'] });
    push(agg, T, frame('198.51.100.10', '203.0.113.5', 'tcp', 50000, 8080));
    push(agg, T + 1, frame('203.0.113.5', '198.51.100.10', 'tcp', 8080, 50000, 1000));
    expect(agg.finish().map(brief)).toEqual(['198.51.100.10:50000 203.0.113.5:8080 other in=1 out=1']);
  });

  it('infers the centre of a star: the server talks to many clients, each client to it alone', () => {
    const agg = new FlowAggregator();
    for (let i = 1; i <= 5; i++) {
      push(agg, T + i, frame(`203.0.113.${i}`, '198.51.100.10', 'tcp', 40000 + i, 993));
      push(agg, T + i, frame('198.51.100.10', `203.0.113.${i}`, 'tcp', 993, 40000 + i, 1400));
      push(agg, T + i, frame(`2001:db8:200::${i}`, '2001:db8:100::10', 'tcp', 40000 + i, 443));
    }
    // The server's own outbound mail from an ephemeral port: still the server's end.
    push(agg, T + 9, frame('198.51.100.10', '192.0.2.25', 'tcp', 39000, 25, 1400));
    // A client that also talks to a second server (seen only by it) is not a centre.
    push(agg, T + 10, frame('203.0.113.1', '192.0.2.99', 'udp', 5000, 5001));
    expect(agg.localAddresses().sort()).toEqual(['198.51.100.10', '2001:db8:100::10']);
    const flows = agg.finish();
    expect(flows.filter((f) => f.service === 'imaps').every((f) => f.lip === '198.51.100.10' && f.lport === 993 && f.packetsOut === 1 && f.bytesOut > f.bytesIn)).toBe(true);
    expect(flows.find((f) => f.rport === 25)).toMatchObject({ lip: '198.51.100.10', lport: 39000, service: 'smtp', packetsOut: 1 });
    expect(flows.filter((f) => f.service === 'https').every((f) => f.lip === '2001:db8:100::10')).toBe(true);
    // Neither end local: the lower port.
    expect(flows.find((f) => f.proto === 17)).toMatchObject({ lip: '203.0.113.1', lport: 5000, rip: '192.0.2.99' });
  });

  it('a capture on a client makes the client local', () => {
    const agg = new FlowAggregator();
    for (const [ip, port] of [['192.0.2.10', 443], ['192.0.2.20', 993], ['192.0.2.30', 53]] as const) {
      push(agg, T, frame('203.0.113.50', ip, port === 53 ? 'udp' : 'tcp', 51000, port));
    }
    expect(agg.localAddresses()).toEqual(['203.0.113.50']);
    expect(agg.finish().every((f) => f.lip === '203.0.113.50' && f.packetsOut === 1)).toBe(true);
  });

  it('multicast and broadcast are never local, nor counted as peers', () => {
    const agg = new FlowAggregator();
    for (let i = 1; i <= 4; i++) push(agg, T, frame(`192.0.2.${i}`, '224.0.0.251', 'udp', 5353, 5353));
    push(agg, T, frame('192.0.2.1', '255.255.255.255', 'udp', 68, 67));
    expect(agg.localAddresses()).toEqual([]);
  });

  it('one conversation, no hint: the service port, then the lower port, then the end with more peers', () => {
    const agg = new FlowAggregator();
    push(agg, T, frame('203.0.113.5', '198.51.100.10', 'tcp', 1025, 587));
    push(agg, T, frame('203.0.113.6', '198.51.100.11', 'tcp', 7000, 6000));
    push(agg, T, frame('203.0.113.7', '198.51.100.12', 'icmp'));
    const flows = agg.finish();
    expect(flows.map((f) => `${f.lip}:${f.lport} ${f.rip}:${f.rport}`)).toEqual([
      '198.51.100.10:587 203.0.113.5:1025', '198.51.100.11:6000 203.0.113.6:7000', '198.51.100.12:0 203.0.113.7:0',
    ]);
  });

  it('a cooked capture\'s direction marks the host', () => {
    const agg = new FlowAggregator();
    const out = sll(ipv4({ src: '198.51.100.10', dst: '203.0.113.5', proto: IPPROTO.TCP, payload: tcp({ sport: 50000, dport: 8080 }) }), 4);
    agg.pushPacket(T, 113, out, out.length);
    expect(agg.localAddresses()).toEqual(['198.51.100.10']);
  });
});

describe('minutes and flushing', () => {
  it('counts per UTC minute; flushes a minute once the capture is lagMinutes past it', () => {
    const batches: FlowRecord[][] = [];
    const agg = new FlowAggregator({ localIps: ['198.51.100.10'], onFlush: (b) => batches.push(b) });
    const f = frame('203.0.113.5', '198.51.100.10', 'tcp', 40000, 993);
    push(agg, T + 59_999, f);
    push(agg, T + MIN, f);
    push(agg, T + 2 * MIN + 5, f);
    expect(batches).toEqual([]);
    push(agg, T + 3 * MIN, f); // 09:03: 09:00 is two minutes behind now
    expect(batches.map((b) => b.map((x) => new Date(x.minute).toISOString()))).toEqual([['2026-11-20T09:00:00.000Z']]);
    // A packet one minute late still lands in its open minute.
    push(agg, T + MIN + 1, f);
    agg.advance(T + 10 * MIN);
    expect(batches.length).toBe(2);
    expect(batches[1].map((x) => [new Date(x.minute).toISOString(), x.packetsIn])).toEqual([
      ['2026-11-20T09:01:00.000Z', 2], ['2026-11-20T09:02:00.000Z', 1], ['2026-11-20T09:03:00.000Z', 1],
    ]);
    expect(agg.finish()).toEqual([]);
    expect(batches.length).toBe(2);
  });

  it('a packet later than the lag makes a second, additive record; finish() without onFlush merges them', () => {
    const f = frame('203.0.113.5', '198.51.100.10', 'udp', 40000, 53, 10);
    const batches: FlowRecord[][] = [];
    const live = new FlowAggregator({ localIps: ['198.51.100.10'], lagMinutes: 0, onFlush: (b) => batches.push(b) });
    const file = new FlowAggregator({ localIps: ['198.51.100.10'], lagMinutes: 0 });
    for (const agg of [live, file]) {
      push(agg, T, f);
      push(agg, T + 2 * MIN, f);
      push(agg, T + 1, f); // 09:00 again, after it was flushed
    }
    live.finish();
    const first = batches.flat().filter((x) => x.minute === T);
    expect(first.map((x) => x.packetsIn)).toEqual([1, 1]);
    expect(file.finish().map((x) => [x.minute, x.packetsIn])).toEqual([[T, 2], [T + 2 * MIN, 1]]);
  });

  it('holds at most maxOpenFlows open; an early flush loses nothing', () => {
    const batches: FlowRecord[][] = [];
    const agg = new FlowAggregator({ localIps: ['198.51.100.10'], maxOpenFlows: 1024, onFlush: (b) => batches.push(b) });
    const plain = new FlowAggregator({ localIps: ['198.51.100.10'], maxOpenFlows: 1024 });
    for (let i = 0; i < 3000; i++) {
      const f = frame(`203.0.113.${i % 200}`, '198.51.100.10', 'tcp', 10000 + i, 993, 10);
      push(agg, T + i, f);
      push(plain, T + i, f);
      push(plain, T + i, f);
    }
    expect(batches.length).toBeGreaterThanOrEqual(2);
    expect(batches.flat().length).toBeLessThan(3000);
    agg.finish();
    expect(batches.flat().length).toBe(3000);
    const merged = plain.finish();
    expect(merged.length).toBe(3000);
    expect(merged.every((x) => x.packetsIn === 2)).toBe(true);
  });

  it('keeps interfaces apart, non-IP frames as proto 0, and a summary of everything', () => {
    const agg = new FlowAggregator({ localIps: ['198.51.100.10'], iface: 'eth0' });
    const f = frame('203.0.113.5', '198.51.100.10', 'tcp', 40000, 993);
    push(agg, T, f);
    push(agg, T, f, 'tun0');
    const arp = ethernet(new Uint8Array(28), { etherType: 0x0806, pad: true });
    push(agg, T + 500.25, arp);
    const flows = agg.finish();
    expect(flows.map((x) => `${x.iface} ${x.proto} ${x.packetsIn}`)).toEqual(['eth0 0 1', 'eth0 6 1', 'tun0 6 1']);
    expect(agg.summary()).toEqual({
      packets: 3, bytes: 2 * f.length + 60, firstTs: T, lastTs: T + 500.25, truncated: false, warnings: [],
      linkTypes: [1], unknownProtocols: { 2054: { packets: 1, bytes: 60 } },
    });
  });

  it('makes no record per packet: a million packets of one flow are one record', () => {
    const agg = new FlowAggregator({ localIps: ['198.51.100.10'] });
    const f = frame('198.51.100.10', '203.0.113.5', 'tcp', 993, 40000, 1400);
    for (let i = 0; i < 1_000_000; i++) agg.pushPacket(T + i / 100, 1, f, f.length);
    const flows = agg.finish();
    expect(flows.length).toBe(1);
    expect(flows[0]).toMatchObject({ packetsOut: 1_000_000, bytesOut: 1_000_000 * f.length });
  });
});

describe('finished rows spilled to a temporary file (capture ingest)', () => {
  // Minute 0 holds more rows than are kept in memory, among them the server talking to one
  // client from a high port; only the later minutes make the server the centre of a star.
  function feed(agg: FlowAggregator): void {
    for (let i = 0; i < 1100; i++) {
      const x = `203.0.113.${1 + (i % 250)}`, y = `2001:db8::${(i + 1).toString(16)}`;
      if (i % 2) push(agg, T + i, frame(x, `198.51.100.${1 + (i % 200)}`, 'udp', 30000 + i, 31000 + i));
      else push(agg, T + i, frame(y, `2001:db8:1::${(i + 1).toString(16)}`, 'udp', 30000 + i, 31000 + i));
    }
    push(agg, T + 2000, frame('192.0.2.10', '198.51.100.250', 'udp', 50000, 40000));
    push(agg, T + 2001, frame('198.51.100.250', '192.0.2.10', 'udp', 40000, 50000));
    for (let m = 1; m <= 4; m++) {
      for (let c = 0; c < 30; c++) push(agg, T + m * MIN + c, frame('192.0.2.10', `198.51.100.${100 + c}`, 'udp', 50000, 40000 + c));
    }
  }
  const key = (f: FlowRecord) => `${f.minute} ${f.iface} ${f.proto} ${f.lip}:${f.lport} ${f.rip}:${f.rport} ${f.service} ${f.bytesIn}/${f.bytesOut} ${f.packetsIn}/${f.packetsOut}`;

  it('resolves spilled rows with the inference of the whole capture, as held rows are', () => {
    const held = new FlowAggregator();
    feed(held);
    const want: FlowRecord[] = [];
    expect(held.finishEach((r) => want.push(...r))).toBe(want.length);

    const spill = new RowSpill();
    try {
      const spilled = new FlowAggregator({ spill, holdRows: 1024 });
      feed(spilled);
      // The first minutes were parked in the file before the rest was read.
      expect(spill.rows).toBeGreaterThanOrEqual(1024);
      const got: FlowRecord[] = [];
      expect(spilled.finishEach((r) => got.push(...r))).toBe(want.length);
      expect(got.map(key).sort()).toEqual(want.map(key).sort());
    } finally {
      spill.close();
    }
    const early = want.find((f) => f.minute === T && (f.lip === '192.0.2.10' || f.rip === '192.0.2.10'))!;
    expect(brief(early)).toBe('192.0.2.10:50000 198.51.100.250:40000 other in=1 out=1');
  });
});
