/**
 * Deterministic generator of the small captures in fixtures/pcap/. Every fixture comes with
 * the list of packets it holds (time, interface, addresses, ports, original length), so tests
 * can compute the expected flow counts without our decoder. Only documentation addresses.
 *
 * Rewrite the files with `UPDATE_FIXTURES=1 npx vitest run test/flows/pcap.test.ts`.
 */
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import {
  ETHERTYPE, IPPROTO, PcapWriter, PcapngWriter, TCP_FLAGS, ethernet, icmpEcho, ipv4, ipv4Fragments, ipv6,
  ipv6Fragments, nullLoopback, sll, sll2, tcp, udp,
} from '../../src/flows/pcap-write.js';

export const PCAP_FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'pcap');

/** 2026-11-20T09:00:00Z in nanoseconds. */
export const T0 = BigInt(Date.UTC(2026, 10, 20, 9, 0, 0)) * 1_000_000n;
const S = 1_000_000_000n;
const MS = 1_000_000n;

/** What one frame in a fixture is, as the generator made it. */
export interface GenPacket {
  tsNs: bigint;
  iface: string;
  /** 0 for non-IP frames. */
  proto: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  origLen: number;
}

export interface Fixture {
  /** File name under fixtures/pcap/. */
  name: string;
  /** What it exercises, one line. */
  about: string;
  bytes: Buffer;
  packets: GenPacket[];
  /** The server's addresses, passed as localIps in the tests. */
  localIps: string[];
  /** For cut captures: how many of `packets` are complete in the file. */
  completePackets?: number;
}

const SERVER4 = '198.51.100.10';
const SERVER6 = '2001:db8:100::10';

/** Collects frames with their descriptions. */
class Capture {
  readonly frames: Array<{ tsNs: bigint; frame: Uint8Array; iface: number; kind: 'epb' | 'opb' | 'spb' }> = [];
  readonly packets: GenPacket[] = [];

  add(tsNs: bigint, frame: Uint8Array, p: Omit<GenPacket, 'tsNs' | 'origLen'>, iface = 0, kind: 'epb' | 'opb' | 'spb' = 'epb'): void {
    this.frames.push({ tsNs, frame, iface, kind });
    this.packets.push({ tsNs, origLen: frame.length, ...p });
  }
}

type Link = (ip: Uint8Array, outgoing: boolean) => Uint8Array;

const ETH: Link = (ip) => ethernet(ip, { pad: true });

interface Conv { src: string; dst: string; sport: number; dport: number }

/** A TCP connection: handshake, `segments` data segments each way as given, close. */
function tcpSession(c: Capture, link: Link, iface: string, t: bigint, conn: Conv, data: Array<[boolean, number]>, ifaceIndex = 0): bigint {
  const v6 = conn.src.includes(':');
  const ip = (fwd: boolean, l4: Uint8Array) => {
    const src = fwd ? conn.src : conn.dst;
    const dst = fwd ? conn.dst : conn.src;
    return v6 ? ipv6({ src, dst, nextHeader: IPPROTO.TCP, payload: l4 }) : ipv4({ src, dst, proto: IPPROTO.TCP, payload: l4 });
  };
  const seg = (fwd: boolean, flags: number, payload: number) => {
    const l4 = tcp({
      sport: fwd ? conn.sport : conn.dport, dport: fwd ? conn.dport : conn.sport, flags, payload,
    });
    c.add(t, link(ip(fwd, l4), fwd), {
      iface, proto: IPPROTO.TCP, src: fwd ? conn.src : conn.dst, dst: fwd ? conn.dst : conn.src,
      sport: fwd ? conn.sport : conn.dport, dport: fwd ? conn.dport : conn.sport,
    }, ifaceIndex);
    t += 7n * MS;
  };
  seg(true, TCP_FLAGS.SYN, 0);
  seg(false, TCP_FLAGS.SYN | TCP_FLAGS.ACK, 0);
  seg(true, TCP_FLAGS.ACK, 0);
  for (const [fwd, n] of data) {
    seg(fwd, TCP_FLAGS.ACK | TCP_FLAGS.PSH, n);
    seg(!fwd, TCP_FLAGS.ACK, 0);
  }
  seg(true, TCP_FLAGS.FIN | TCP_FLAGS.ACK, 0);
  seg(false, TCP_FLAGS.FIN | TCP_FLAGS.ACK, 0);
  seg(true, TCP_FLAGS.ACK, 0);
  return t;
}

function udpPacket(c: Capture, link: Link, iface: string, t: bigint, conv: Conv, size: number, ifaceIndex = 0, kind: 'epb' | 'opb' | 'spb' = 'epb'): void {
  const l4 = udp({ sport: conv.sport, dport: conv.dport, payload: size });
  const ip = conv.src.includes(':')
    ? ipv6({ src: conv.src, dst: conv.dst, nextHeader: IPPROTO.UDP, payload: l4 })
    : ipv4({ src: conv.src, dst: conv.dst, proto: IPPROTO.UDP, payload: l4 });
  c.add(t, link(ip, true), { iface, proto: IPPROTO.UDP, ...conv }, ifaceIndex, kind);
}

function udpExchange(c: Capture, link: Link, iface: string, t: bigint, conv: Conv, sizes: number[], ifaceIndex = 0): bigint {
  let fwd = true;
  for (const n of sizes) {
    udpPacket(c, link, iface, t, fwd ? conv : { src: conv.dst, dst: conv.src, sport: conv.dport, dport: conv.sport }, n, ifaceIndex);
    fwd = !fwd;
    t += 3n * MS;
  }
  return t;
}

function ping(c: Capture, link: Link, iface: string, t: bigint, src: string, dst: string, count: number): bigint {
  const v6 = src.includes(':');
  for (let i = 0; i < count; i++) {
    for (const [a, b, type] of [[src, dst, v6 ? 128 : 8], [dst, src, v6 ? 129 : 0]] as const) {
      const l4 = icmpEcho(type, 0x77, i);
      const ip = v6 ? ipv6({ src: a, dst: b, nextHeader: IPPROTO.ICMPV6, payload: l4 }) : ipv4({ src: a, dst: b, proto: IPPROTO.ICMP, payload: l4 });
      c.add(t, link(ip, a === src), { iface, proto: v6 ? IPPROTO.ICMPV6 : IPPROTO.ICMP, src: a, dst: b, sport: 0, dport: 0 });
      t += 1n * MS;
    }
    t += 200n * MS;
  }
  return t;
}

/** An ARP request frame: non-IP, counted with proto 0. */
function arp(c: Capture, t: bigint, iface: string): void {
  const body = new Uint8Array(28);
  body.set([0, 1, 8, 0, 6, 4, 0, 1]);
  c.add(t, ethernet(body, { etherType: ETHERTYPE.ARP, pad: true, dst: new Uint8Array(6).fill(0xff) }),
    { iface, proto: 0, src: '', dst: '', sport: 0, dport: 0 });
}

function pcapFile(c: Capture, opts: ConstructorParameters<typeof PcapWriter>[0]): Buffer {
  const w = new PcapWriter(opts);
  return Buffer.concat([w.header(), ...c.frames.map((f) => w.record(f.tsNs, f.frame))]);
}

const client = (n: number) => `203.0.113.${n}`;

function beUsec(): Fixture {
  const c = new Capture();
  // An IMAPS download across a minute boundary, DNS from the server, a ping, an ARP.
  let t = T0 + 59n * S + 950n * MS;
  t = tcpSession(c, ETH, '', t, { src: client(5), dst: SERVER4, sport: 50001, dport: 993 },
    [[true, 120], [false, 1200], [false, 1448], [false, 1448], [false, 900], [true, 40]]);
  t = udpExchange(c, ETH, '', t, { src: SERVER4, dst: '192.0.2.53', sport: 40000, dport: 53 }, [40, 180]);
  arp(c, t, '');
  ping(c, ETH, '', T0 + 59n * S + 900n * MS, client(7), SERVER4, 2);
  return {
    name: 'be-usec.pcap', about: 'big-endian classic pcap, microseconds, snaplen 96, Ethernet; IMAPS, DNS, ICMP, ARP across a minute boundary',
    bytes: pcapFile(c, { linkType: 1, bigEndian: true, snaplen: 96 }), packets: c.packets, localIps: [SERVER4],
  };
}

function nsec(): Fixture {
  const c = new Capture();
  const conv = { src: client(20), dst: SERVER4, sport: 51000, dport: 1194 };
  // The last nanosecond of 09:00 and the first of 09:01 fall in different minutes.
  udpPacket(c, ETH, '', T0 + 59n * S + 999_999_999n, conv, 100);
  udpPacket(c, ETH, '', T0 + 60n * S, { src: SERVER4, dst: client(20), sport: 1194, dport: 51000 }, 1300);
  udpPacket(c, ETH, '', T0 + 60n * S + 1n, conv, 60);
  udpExchange(c, ETH, '', T0 + 61n * S, { src: SERVER6, dst: '2001:db8:200::20', sport: 1194, dport: 40001 }, [1200, 80, 1200]);
  return {
    name: 'nsec.pcap', about: 'little-endian classic pcap with nanosecond timestamps on both sides of a minute boundary; OpenVPN over IPv4 and IPv6',
    bytes: pcapFile(c, { linkType: 1, nanosecond: true }), packets: c.packets, localIps: [SERVER4, SERVER6],
  };
}

function twoIfaces(): Fixture {
  const c = new Capture();
  const TUN = '192.0.2.1';
  const RAW: Link = (ip) => ip;
  // Section 1 (little-endian): eth0 (Ethernet, microseconds) and tun0 (raw IP, nanoseconds).
  let t = T0 + 10n * S;
  t = udpExchange(c, ETH, 'eth0', t, { src: client(30), dst: SERVER4, sport: 41000, dport: 1194 }, [150, 1400, 90]);
  t = tcpSession(c, RAW, 'tun0', t, { src: '192.0.2.100', dst: TUN, sport: 52000, dport: 993 }, [[false, 1300]], 1);
  udpPacket(c, ETH, 'eth0', t, { src: SERVER4, dst: client(30), sport: 1194, dport: 41000 }, 500, 0, 'opb');
  // A Simple Packet Block has no timestamp: it is counted at the previous packet's.
  udpPacket(c, ETH, 'eth0', t, { src: client(30), dst: SERVER4, sport: 41000, dport: 1194 }, 70, 0, 'spb');
  const section1 = c.frames.length;
  // Section 2 (big-endian): one Linux cooked v2 interface with binary (2^-20 s) timestamps.
  const SLL2: Link = (ip, out) => sll2(ip, out ? 4 : 0);
  tcpSession(c, SLL2, 'any', T0 + 20n * S, { src: SERVER4, dst: '192.0.2.25', sport: 39000, dport: 25 }, [[true, 1400]], 0);

  const w = new PcapngWriter();
  const parts: Buffer[] = [w.section(false, { hardware: 'bytetrail fixture' })];
  parts.push(w.interface({ linkType: 1, name: 'eth0', snaplen: 262144, ipv4: [SERVER4] }));
  parts.push(w.other(4, new Uint8Array(4))); // an empty name resolution block
  parts.push(w.interface({ linkType: 101, name: 'tun0', snaplen: 262144, tsresol: 9, ipv4: [TUN] }));
  parts.push(w.other(0x00000bad, Buffer.from('\0\0\0\0custom block, copied')));
  parts.push(w.other(0x7777, Buffer.from('a block type nobody defined')));
  for (let i = 0; i < section1; i++) {
    const f = c.frames[i];
    parts.push(f.kind === 'spb' ? w.simplePacket(f.frame) : f.kind === 'opb' ? w.obsoletePacket(f.iface, f.tsNs, f.frame) : w.packet(f.iface, f.tsNs, f.frame));
  }
  parts.push(w.other(5, new Uint8Array(12))); // interface statistics for interface 0
  parts.push(w.section(true));
  parts.push(w.interface({ linkType: 276, name: 'any', tsresol: 0x80 | 20 }));
  for (let i = section1; i < c.frames.length; i++) parts.push(w.packet(0, c.frames[i].tsNs, c.frames[i].frame));
  return {
    name: 'two-ifaces.pcapng', about: 'pcapng: a little-endian section with an Ethernet and a raw-IP interface (ns), OPB, SPB, NRB, ISB, custom and unknown blocks; a big-endian section with SLL2 and 2^-20 s timestamps',
    bytes: Buffer.concat(parts), packets: c.packets, localIps: [SERVER4, TUN],
  };
}

function sllFixture(): Fixture {
  const c = new Capture();
  // tcpdump -i any on the server: packet type 4 = sent by us, 0 = to us.
  const SLL: Link = (ip, out) => sll(ip, out ? 4 : 0);
  let t = T0 + 5n * S;
  t = tcpSession(c, (ip, fwd) => SLL(ip, !fwd), '', t, { src: client(40), dst: SERVER4, sport: 53000, dport: 143 }, [[true, 60], [false, 1400]]);
  t = tcpSession(c, (ip, fwd) => SLL(ip, !fwd), '', t, { src: '2001:db8:200::40', dst: SERVER6, sport: 53001, dport: 995 }, [[false, 1000]]);
  c.add(t, sll(udp({ sport: 5353, dport: 5353, payload: 30 }), 2, ETHERTYPE.ARP), { iface: '', proto: 0, src: '', dst: '', sport: 0, dport: 0 });
  return {
    name: 'sll.pcap', about: 'Linux cooked (SLL, 113) as tcpdump -i any writes it: IMAP over IPv4, POP3S over IPv6, a non-IP frame',
    bytes: pcapFile(c, { linkType: 113 }), packets: c.packets, localIps: [SERVER4, SERVER6],
  };
}

function sll2Fixture(): Fixture {
  const c = new Capture();
  const SLL2: Link = (ip, out) => sll2(ip, out ? 4 : 0, 3);
  let t = T0 + 30n * S;
  // Inbound mail to port 25 and the server relaying out from an ephemeral port to remote 25.
  t = tcpSession(c, (ip, fwd) => SLL2(ip, !fwd), '', t, { src: client(50), dst: SERVER4, sport: 54000, dport: 25 }, [[true, 1448], [true, 1448], [true, 300]]);
  t = tcpSession(c, SLL2, '', t, { src: SERVER4, dst: '192.0.2.25', sport: 39001, dport: 25 }, [[true, 1448], [true, 200]]);
  return {
    name: 'sll2.pcap', about: 'Linux cooked v2 (SLL2, 276): inbound SMTP and the server relaying out to a remote port 25',
    bytes: pcapFile(c, { linkType: 276 }), packets: c.packets, localIps: [SERVER4],
  };
}

function vlanFixture(): Fixture {
  const c = new Capture();
  const dot1q: Link = (ip) => ethernet(ip, { vlans: [{ tpid: ETHERTYPE.VLAN, vid: 20 }], pad: true });
  const qinq: Link = (ip) => ethernet(ip, { vlans: [{ tpid: ETHERTYPE.QINQ, vid: 100 }, { tpid: ETHERTYPE.VLAN, vid: 20 }], pad: true });
  const old: Link = (ip) => ethernet(ip, { vlans: [{ tpid: 0x9100, vid: 7 }, { tpid: ETHERTYPE.VLAN, vid: 8 }], pad: true });
  let t = T0 + 1n * S;
  t = tcpSession(c, dot1q, '', t, { src: client(60), dst: SERVER4, sport: 55000, dport: 587 }, [[true, 1000]]);
  t = tcpSession(c, qinq, '', t, { src: client(61), dst: SERVER4, sport: 55001, dport: 465 }, [[true, 800]]);
  t = udpExchange(c, old, '', t, { src: client(62), dst: SERVER4, sport: 55002, dport: 53 }, [50, 300]);
  return {
    name: 'vlan.pcap', about: 'Ethernet with 802.1Q, 802.1ad QinQ and 0x9100 double tags: submission, SMTPS, DNS',
    bytes: pcapFile(c, { linkType: 1 }), packets: c.packets, localIps: [SERVER4],
  };
}

function rawFixture(): Fixture {
  const c = new Capture();
  const RAW: Link = (ip) => ip;
  let t = T0 + 2n * S;
  t = tcpSession(c, RAW, '', t, { src: client(70), dst: SERVER4, sport: 56000, dport: 443 }, [[false, 1460], [false, 1460]]);
  t = tcpSession(c, RAW, '', t, { src: '2001:db8:200::70', dst: SERVER6, sport: 56001, dport: 22 }, [[true, 100], [false, 500]]);
  return {
    name: 'raw.pcap', about: 'raw IP (101), snaplen 96: HTTPS over IPv4 and SSH over IPv6',
    bytes: pcapFile(c, { linkType: 101, snaplen: 96 }), packets: c.packets, localIps: [SERVER4, SERVER6],
  };
}

function nullFixture(): Fixture {
  const c = new Capture();
  // A capture on a BSD/macOS lo0: AF_INET = 2, AF_INET6 = 30, in the writer's (little-endian) order.
  const NULL: Link = (ip) => nullLoopback(ip, ip[0] >> 4 === 6 ? 30 : 2, true);
  let t = T0 + 3n * S;
  t = tcpSession(c, NULL, '', t, { src: '192.0.2.10', dst: '192.0.2.10', sport: 50100, dport: 993 }, [[false, 2000]]);
  t = udpExchange(c, NULL, '', t, { src: '2001:db8::10', dst: '2001:db8::10', sport: 50101, dport: 53 }, [40, 90]);
  return {
    name: 'null.pcap', about: 'BSD loopback (DLT_NULL 0, little-endian family 2 and 30): both ends local, the service port decides',
    bytes: pcapFile(c, { linkType: 0 }), packets: c.packets, localIps: ['192.0.2.10', '2001:db8::10'],
  };
}

function fragFixture(): Fixture {
  const c = new Capture();
  const conv = { src: client(80), dst: SERVER4, sport: 57000, dport: 1194 };
  const base = { iface: '', proto: IPPROTO.UDP, ...conv };
  let t = T0 + 4n * S;
  // A 4000-byte UDP datagram in three fragments, in order: all three join the 1194 flow.
  for (const f of ipv4Fragments({ src: conv.src, dst: conv.dst, proto: IPPROTO.UDP, id: 0x4001, payload: udp({ sport: conv.sport, dport: conv.dport, payload: 4000 }) }, 1500)) {
    c.add(t, ETH(f, true), base);
    t += 1n * MS;
  }
  // The reply, also fragmented.
  for (const f of ipv4Fragments({ src: conv.dst, dst: conv.src, proto: IPPROTO.UDP, id: 0x4002, payload: udp({ sport: conv.dport, dport: conv.sport, payload: 2000 }) }, 1500)) {
    c.add(t, ETH(f, false), { iface: '', proto: IPPROTO.UDP, src: conv.dst, dst: conv.src, sport: conv.dport, dport: conv.sport });
    t += 1n * MS;
  }
  // Reordered: the second fragment comes before the first, so nothing tells its ports yet.
  const [f1, f2] = ipv4Fragments({ src: conv.src, dst: conv.dst, proto: IPPROTO.UDP, id: 0x4003, payload: udp({ sport: conv.sport, dport: conv.dport, payload: 1600 }) }, 1500);
  c.add(t, ETH(f2, true), { ...base, sport: 0, dport: 0 });
  c.add(t + 1n * MS, ETH(f1, true), base);
  return {
    name: 'ipv4-frag.pcap', about: 'IPv4 fragments: later fragments join the first fragment\'s flow; one that comes before its first goes to ports 0',
    bytes: pcapFile(c, { linkType: 1 }), packets: c.packets, localIps: [SERVER4],
  };
}

function ipv6ExtFixture(): Fixture {
  const c = new Capture();
  const peer = '2001:db8:200::90';
  const add = (t: bigint, ip: Uint8Array, p: Omit<GenPacket, 'tsNs' | 'origLen' | 'iface'>) => c.add(t, ETH(ip, true), { iface: '', ...p });
  let t = T0 + 6n * S;
  // hop-by-hop + destination options, then TCP to IMAPS.
  add(t, ipv6({ src: peer, dst: SERVER6, nextHeader: IPPROTO.TCP, ext: [{ type: 0 }, { type: 60 }], payload: tcp({ sport: 58000, dport: 993, payload: 100 }) }),
    { proto: IPPROTO.TCP, src: peer, dst: SERVER6, sport: 58000, dport: 993 });
  t += MS;
  // routing header (type 0 body, 24 bytes), then UDP DNS.
  add(t, ipv6({ src: peer, dst: SERVER6, nextHeader: IPPROTO.UDP, ext: [{ type: 43, body: new Uint8Array(22) }], payload: udp({ sport: 58001, dport: 53, payload: 40 }) }),
    { proto: IPPROTO.UDP, src: peer, dst: SERVER6, sport: 58001, dport: 53 });
  t += MS;
  // AH, then TCP from the server's SMTP port.
  add(t, ipv6({ src: SERVER6, dst: peer, nextHeader: IPPROTO.TCP, ext: [{ type: 51 }], payload: tcp({ sport: 25, dport: 58002, payload: 64 }) }),
    { proto: IPPROTO.TCP, src: SERVER6, dst: peer, sport: 25, dport: 58002 });
  t += MS;
  // A fragmented UDP datagram (fragment header after a destination options header).
  for (const f of ipv6Fragments({ src: peer, dst: SERVER6, nextHeader: IPPROTO.UDP, ext: [{ type: 60 }], payload: udp({ sport: 58003, dport: 1194, payload: 3000 }) }, 1280, 0x600d)) {
    add(t, f, { proto: IPPROTO.UDP, src: peer, dst: SERVER6, sport: 58003, dport: 1194 });
    t += MS;
  }
  // ESP: no ports can be seen, counted per protocol number.
  add(t, ipv6({ src: peer, dst: SERVER6, nextHeader: IPPROTO.ESP, payload: new Uint8Array(120) }),
    { proto: IPPROTO.ESP, src: peer, dst: SERVER6, sport: 0, dport: 0 });
  return {
    name: 'ipv6-ext.pcap', about: 'IPv6 extension headers (hop-by-hop, destination options, routing, AH, fragment) and ESP, snaplen 96',
    bytes: pcapFile(c, { linkType: 1, snaplen: 96 }), packets: c.packets, localIps: [SERVER6],
  };
}

function truncatedFixture(): Fixture {
  const c = new Capture();
  udpExchange(c, ETH, '', T0 + 7n * S, { src: client(95), dst: SERVER4, sport: 59000, dport: 53 }, [40, 200, 40, 200, 40]);
  const whole = pcapFile(c, { linkType: 1 });
  // tcpdump killed mid-write: the last record is cut 30 bytes into its frame.
  const lastLen = 16 + c.frames[c.frames.length - 1].frame.length;
  return {
    name: 'truncated.pcap', about: 'capture cut inside its last record (tcpdump killed): 4 complete packets, then 46 bytes of a fifth',
    bytes: whole.subarray(0, whole.length - lastLen + 46), packets: c.packets, localIps: [SERVER4], completePackets: 4,
  };
}

function gzipFixture(): Fixture {
  const c = new Capture();
  let t = T0 + 8n * S;
  t = tcpSession(c, ETH, '', t, { src: client(99), dst: SERVER4, sport: 59100, dport: 110 }, [[false, 1400], [false, 1400]]);
  ping(c, ETH, '', t, client(99), SERVER4, 1);
  return {
    name: 'pop3.pcap.gz', about: 'gzip-compressed classic pcap: POP3 and a ping',
    bytes: gzipSync(pcapFile(c, { linkType: 1 }), { level: 9 }), packets: c.packets, localIps: [SERVER4],
  };
}

export function buildFixtures(): Fixture[] {
  return [beUsec(), nsec(), twoIfaces(), sllFixture(), sll2Fixture(), vlanFixture(), rawFixture(), nullFixture(),
    fragFixture(), ipv6ExtFixture(), truncatedFixture(), gzipFixture()];
}

const SERVICE_PORTS = new Set([143, 993, 110, 995, 25, 587, 465, 1194, 53, 80, 443, 22]);

/**
 * Expected flow totals, computed straight from the packet list: the local end is the one in
 * `localIps`; when both or neither are, the one on a service port, else the lower port.
 * Keyed `minute|iface|proto|lip|lport|rip|rport`.
 */
export function expectedFlows(packets: GenPacket[], localIps: string[]): Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }> {
  const local = new Set(localIps);
  const out = new Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }>();
  for (const p of packets) {
    const minute = Number((p.tsNs / 60_000_000_000n) * 60_000n);
    let srcLocal: boolean;
    if (p.proto === 0) srcLocal = false;
    else if (local.has(p.src) !== local.has(p.dst)) srcLocal = local.has(p.src);
    else if (SERVICE_PORTS.has(p.sport) !== SERVICE_PORTS.has(p.dport)) srcLocal = SERVICE_PORTS.has(p.sport);
    else if (p.sport !== p.dport) srcLocal = p.sport < p.dport;
    else srcLocal = p.src <= p.dst;
    const [lip, lport, rip, rport] = srcLocal ? [p.src, p.sport, p.dst, p.dport] : [p.dst, p.dport, p.src, p.sport];
    const key = `${minute}|${p.iface}|${p.proto}|${lip}|${lport}|${rip}|${rport}`;
    let e = out.get(key);
    if (!e) out.set(key, (e = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 }));
    if (srcLocal) { e.bytesOut += p.origLen; e.packetsOut++; } else { e.bytesIn += p.origLen; e.packetsIn++; }
  }
  return out;
}

/** fixtures/pcap/README.md: what each file is, from the generator's own descriptions. */
export function fixturesReadme(fixtures: Fixture[]): string {
  const rows = fixtures.map((f) => `| ${f.name} | ${f.packets.length}${f.completePackets !== undefined ? ` (${f.completePackets} complete)` : ''} | ${f.about} |`);
  return [
    '# Packet capture fixtures',
    '',
    'Generated by `test/helpers/pcapgen.ts` (documentation addresses only); do not edit by hand.',
    'Rewrite with `UPDATE_FIXTURES=1 npx vitest run test/flows/pcap.test.ts` and read the diff.',
    '',
    '| file | packets | what it exercises |',
    '|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
