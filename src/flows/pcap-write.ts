/**
 * Building frames and writing pcap/pcapng files. Used by the benchmark (which needs a capture
 * of millions of packets) and by the test fixture generator; bytetrail itself never writes
 * captures. Checksums are filled in (IPv4 header, TCP, UDP, ICMP) so that tcpdump and tshark
 * read the files without complaint.
 */
import { parseIp } from './pcap-decode.js';

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, GRE: 47, ESP: 50 } as const;

function addr(ip: string): Uint8Array {
  const w = parseIp(ip);
  if (!w) throw new RangeError(`not an IP address: ${ip}`);
  const isV4 = w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
  const out = new Uint8Array(isV4 ? 4 : 16);
  const dv = new DataView(out.buffer);
  if (isV4) dv.setInt32(0, w[3]);
  else for (let i = 0; i < 4; i++) dv.setInt32(i * 4, w[i]);
  return out;
}

export function isV4(ip: string): boolean {
  return addr(ip).length === 4;
}

function sum16(b: Uint8Array, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += (b[i] << 8) | b[i + 1];
  if (b.length & 1) acc += b[b.length - 1] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536);
  return ~acc & 0xffff;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const n = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

/** Pseudo-header checksum for TCP/UDP/ICMPv6 over `l4` (with its checksum field zero). */
function l4Checksum(src: Uint8Array, dst: Uint8Array, proto: number, l4: Uint8Array): number {
  let acc = sum16(src) + sum16(dst) + proto + l4.length;
  acc = sum16(l4, acc);
  const c = fold(acc);
  return c === 0 && proto === IPPROTO.UDP ? 0xffff : c;
}

export interface TcpOptions { sport: number; dport: number; seq?: number; ack?: number; flags?: number; window?: number; payload?: Uint8Array | number }
export interface UdpOptions { sport: number; dport: number; payload?: Uint8Array | number }

function payloadBytes(p: Uint8Array | number | undefined): Uint8Array {
  if (p === undefined) return new Uint8Array(0);
  if (typeof p === 'number') {
    const b = new Uint8Array(p);
    for (let i = 0; i < p; i++) b[i] = (i * 31 + 7) & 0xff;
    return b;
  }
  return p;
}

export const TCP_FLAGS = { FIN: 1, SYN: 2, RST: 4, PSH: 8, ACK: 16 } as const;

/** A TCP segment (20-byte header, no options). The checksum is set by ipv4()/ipv6(). */
export function tcp(o: TcpOptions): Uint8Array {
  const data = payloadBytes(o.payload);
  const b = new Uint8Array(20 + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, o.sport);
  dv.setUint16(2, o.dport);
  dv.setUint32(4, o.seq ?? 1000);
  dv.setUint32(8, o.ack ?? 0);
  b[12] = 5 << 4;
  b[13] = o.flags ?? TCP_FLAGS.ACK;
  dv.setUint16(14, o.window ?? 64240);
  b.set(data, 20);
  return b;
}

export function udp(o: UdpOptions): Uint8Array {
  const data = payloadBytes(o.payload);
  const b = new Uint8Array(8 + data.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, o.sport);
  dv.setUint16(2, o.dport);
  dv.setUint16(4, b.length);
  b.set(data, 8);
  return b;
}

/** ICMP (IPv4) or ICMPv6 echo request (type 8 / 128) or reply (0 / 129). */
export function icmpEcho(type: number, id: number, seq: number, payload: Uint8Array | number = 56): Uint8Array {
  const data = payloadBytes(payload);
  const b = new Uint8Array(8 + data.length);
  b[0] = type;
  const dv = new DataView(b.buffer);
  dv.setUint16(4, id);
  dv.setUint16(6, seq);
  b.set(data, 8);
  return b;
}

function setL4Checksum(proto: number, l4: Uint8Array, src: Uint8Array, dst: Uint8Array, v6: boolean): void {
  const dv = new DataView(l4.buffer, l4.byteOffset, l4.byteLength);
  if (proto === IPPROTO.TCP && l4.length >= 20) { dv.setUint16(16, 0); dv.setUint16(16, l4Checksum(src, dst, proto, l4)); }
  else if (proto === IPPROTO.UDP && l4.length >= 8) { dv.setUint16(6, 0); dv.setUint16(6, l4Checksum(src, dst, proto, l4)); }
  else if (proto === IPPROTO.ICMP && l4.length >= 4 && !v6) { dv.setUint16(2, 0); dv.setUint16(2, fold(sum16(l4))); }
  else if (proto === IPPROTO.ICMPV6 && l4.length >= 4 && v6) { dv.setUint16(2, 0); dv.setUint16(2, l4Checksum(src, dst, proto, l4)); }
}

export interface Ipv4Options {
  src: string; dst: string; proto: number; payload: Uint8Array;
  id?: number; ttl?: number;
  /** Fragment offset in bytes (a multiple of 8) and the More Fragments flag. */
  fragOffset?: number; moreFragments?: boolean;
  /** Don't compute the L4 checksum (for fragments: it was computed over the whole datagram). */
  rawPayload?: boolean;
}

export function ipv4(o: Ipv4Options): Uint8Array {
  const src = addr(o.src), dst = addr(o.dst);
  if (!o.rawPayload) setL4Checksum(o.proto, o.payload, src, dst, false);
  const b = new Uint8Array(20 + o.payload.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x45;
  dv.setUint16(2, b.length);
  dv.setUint16(4, o.id ?? 0x1234);
  const fragField = (o.moreFragments ? 0x2000 : 0) | ((o.fragOffset ?? 0) >> 3);
  const dontFragment = o.fragOffset === undefined && !o.moreFragments ? 0x4000 : 0;
  dv.setUint16(6, fragField | dontFragment);
  b[8] = o.ttl ?? 64;
  b[9] = o.proto;
  b.set(src, 12);
  b.set(dst, 16);
  dv.setUint16(10, fold(sum16(b.subarray(0, 20))));
  b.set(o.payload, 20);
  return b;
}

/** Split an IPv4 datagram's payload into fragments of at most `mtu` bytes of IP packet each. */
export function ipv4Fragments(o: Ipv4Options, mtu: number): Uint8Array[] {
  const src = addr(o.src), dst = addr(o.dst);
  setL4Checksum(o.proto, o.payload, src, dst, false);
  const step = (mtu - 20) & ~7;
  const out: Uint8Array[] = [];
  for (let off = 0; off < o.payload.length; off += step) {
    const part = o.payload.subarray(off, Math.min(off + step, o.payload.length));
    out.push(ipv4({ ...o, payload: part, fragOffset: off, moreFragments: off + step < o.payload.length, rawPayload: true }));
  }
  return out;
}

export interface Ipv6ExtHeader {
  /** 0 hop-by-hop, 43 routing, 60 destination options, 51 AH, 44 fragment. */
  type: number;
  /** Body after the 2 bytes (next header, length); padded to the header's unit by ipv6(). */
  body?: Uint8Array;
}

export interface Ipv6Options {
  src: string; dst: string; nextHeader: number; payload: Uint8Array;
  ext?: Ipv6ExtHeader[]; hopLimit?: number; rawPayload?: boolean;
}

function extHeader(h: Ipv6ExtHeader, next: number): Uint8Array {
  if (h.type === 44) {
    const b = new Uint8Array(8);
    b[0] = next;
    if (h.body) b.set(h.body.subarray(0, 6), 2);
    return b;
  }
  const unit = h.type === 51 ? 4 : 8;
  const body = h.body ?? new Uint8Array(h.type === 51 ? 10 : 6);
  let len = 2 + body.length;
  len = Math.ceil(len / 8) * 8;
  const b = new Uint8Array(len);
  b[0] = next;
  b[1] = h.type === 51 ? len / unit - 2 : len / unit - 1;
  b.set(body, 2);
  return b;
}

export function ipv6(o: Ipv6Options): Uint8Array {
  const src = addr(o.src), dst = addr(o.dst);
  if (!o.rawPayload) setL4Checksum(o.nextHeader, o.payload, src, dst, true);
  const exts = o.ext ?? [];
  const parts: Uint8Array[] = [];
  for (let i = 0; i < exts.length; i++) parts.push(extHeader(exts[i], i + 1 < exts.length ? exts[i + 1].type : o.nextHeader));
  const ext = concat(parts);
  const b = new Uint8Array(40 + ext.length + o.payload.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x60;
  dv.setUint16(4, ext.length + o.payload.length);
  b[6] = exts.length ? exts[0].type : o.nextHeader;
  b[7] = o.hopLimit ?? 64;
  b.set(src, 8);
  b.set(dst, 24);
  b.set(ext, 40);
  b.set(o.payload, 40 + ext.length);
  return b;
}

/** IPv6 fragments (fragment header after `ext`) of at most `mtu` bytes each. */
export function ipv6Fragments(o: Ipv6Options, mtu: number, id: number): Uint8Array[] {
  const src = addr(o.src), dst = addr(o.dst);
  setL4Checksum(o.nextHeader, o.payload, src, dst, true);
  const step = (mtu - 48 - (o.ext?.length ?? 0) * 8) & ~7;
  const out: Uint8Array[] = [];
  for (let off = 0; off < o.payload.length; off += step) {
    const more = off + step < o.payload.length;
    const fb = new Uint8Array(6);
    new DataView(fb.buffer).setUint16(0, off | (more ? 1 : 0));
    new DataView(fb.buffer).setUint32(2, id);
    out.push(ipv6({
      ...o, payload: o.payload.subarray(off, Math.min(off + step, o.payload.length)),
      ext: [...(o.ext ?? []), { type: 44, body: fb }], rawPayload: true,
    }));
  }
  return out;
}

export const ETHERTYPE = { IPV4: 0x0800, IPV6: 0x86dd, ARP: 0x0806, VLAN: 0x8100, QINQ: 0x88a8 } as const;

export function etherTypeOf(packet: Uint8Array): number {
  return packet[0] >> 4 === 6 ? ETHERTYPE.IPV6 : ETHERTYPE.IPV4;
}

export interface EthernetOptions {
  src?: Uint8Array; dst?: Uint8Array;
  /** Outermost first: e.g. [{ tpid: 0x88a8, vid: 100 }, { tpid: 0x8100, vid: 20 }] for QinQ. */
  vlans?: Array<{ tpid: number; vid: number }>;
  etherType?: number;
  /** Pad to the 60-byte minimum, as a frame received off the wire is. */
  pad?: boolean;
}

const MAC_A = Uint8Array.from([0x02, 0x00, 0x5e, 0x00, 0x53, 0x01]);
const MAC_B = Uint8Array.from([0x02, 0x00, 0x5e, 0x00, 0x53, 0x02]);

export function ethernet(payload: Uint8Array, o: EthernetOptions = {}): Uint8Array {
  const vlans = o.vlans ?? [];
  const hdr = 14 + 4 * vlans.length;
  const len = Math.max(hdr + payload.length, o.pad ? 60 : 0);
  const b = new Uint8Array(len);
  const dv = new DataView(b.buffer);
  b.set(o.dst ?? MAC_B, 0);
  b.set(o.src ?? MAC_A, 6);
  let p = 12;
  for (const v of vlans) {
    dv.setUint16(p, v.tpid);
    dv.setUint16(p + 2, v.vid & 0xfff);
    p += 4;
  }
  dv.setUint16(p, o.etherType ?? etherTypeOf(payload));
  b.set(payload, hdr);
  return b;
}

/** Linux cooked v1. pkttype: 0 to us, 1 broadcast, 2 multicast, 3 to another host, 4 sent by us. */
export function sll(payload: Uint8Array, pkttype: number, etherType = etherTypeOf(payload)): Uint8Array {
  const b = new Uint8Array(16 + payload.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, pkttype);
  dv.setUint16(2, 1); // ARPHRD_ETHER
  dv.setUint16(4, 6);
  b.set(MAC_A, 6);
  dv.setUint16(14, etherType);
  b.set(payload, 16);
  return b;
}

/** Linux cooked v2. */
export function sll2(payload: Uint8Array, pkttype: number, ifindex = 2, etherType = etherTypeOf(payload)): Uint8Array {
  const b = new Uint8Array(20 + payload.length);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, etherType);
  dv.setUint32(4, ifindex);
  dv.setUint16(8, 1);
  b[10] = pkttype;
  b[11] = 6;
  b.set(MAC_A, 12);
  b.set(payload, 20);
  return b;
}

/** BSD loopback header: the address family as a 4-byte word, little- or big-endian. */
export function nullLoopback(payload: Uint8Array, family: number, littleEndian: boolean): Uint8Array {
  const b = new Uint8Array(4 + payload.length);
  new DataView(b.buffer).setUint32(0, family, littleEndian);
  b.set(payload, 4);
  return b;
}

// ---- files ----

export interface PcapFileOptions {
  linkType: number;
  snaplen?: number;
  bigEndian?: boolean;
  nanosecond?: boolean;
}

/** Classic pcap. `header()` once, then `record()` per frame; the frame is cut to the snaplen. */
export class PcapWriter {
  readonly opts: Required<PcapFileOptions>;
  constructor(opts: PcapFileOptions) {
    this.opts = { snaplen: 262144, bigEndian: false, nanosecond: false, ...opts };
  }

  header(): Buffer {
    const b = Buffer.alloc(24);
    const le = !this.opts.bigEndian;
    const dv = new DataView(b.buffer, b.byteOffset, 24);
    dv.setUint32(0, this.opts.nanosecond ? 0xa1b23c4d : 0xa1b2c3d4, le);
    dv.setUint16(4, 2, le);
    dv.setUint16(6, 4, le);
    dv.setUint32(16, this.opts.snaplen, le);
    dv.setUint32(20, this.opts.linkType, le);
    return b;
  }

  /** `tsNs` is nanoseconds since the epoch as a bigint, exact. */
  record(tsNs: bigint, frame: Uint8Array, origLen = frame.length): Buffer {
    const cap = Math.min(frame.length, this.opts.snaplen);
    const b = Buffer.alloc(16 + cap);
    const le = !this.opts.bigEndian;
    const dv = new DataView(b.buffer, b.byteOffset, 16);
    const sec = tsNs / 1_000_000_000n;
    const ns = Number(tsNs % 1_000_000_000n);
    dv.setUint32(0, Number(sec), le);
    dv.setUint32(4, this.opts.nanosecond ? ns : Math.floor(ns / 1000), le);
    dv.setUint32(8, cap, le);
    dv.setUint32(12, origLen, le);
    b.set(frame.subarray(0, cap), 16);
    return b;
  }
}

export interface PcapngInterface {
  linkType: number;
  snaplen?: number;
  name?: string;
  /** if_tsresol byte: 6 = microseconds (the default), 9 = nanoseconds, 0x80|n = 2^-n. */
  tsresol?: number;
  ipv4?: string[];
  ipv6?: string[];
}

/** pcapng, block by block. Each section has its own byte order and interfaces. */
export class PcapngWriter {
  private le = true;
  private readonly tsres: number[] = [];
  private readonly snaplens: number[] = [];

  private block(type: number, body: Uint8Array): Buffer {
    const padded = (body.length + 3) & ~3;
    const len = 12 + padded;
    const b = Buffer.alloc(len);
    const dv = new DataView(b.buffer, b.byteOffset, len);
    dv.setUint32(0, type, this.le);
    dv.setUint32(4, len, this.le);
    b.set(body, 8);
    dv.setUint32(len - 4, len, this.le);
    return b;
  }

  private options(opts: Array<[number, Uint8Array]>): Uint8Array {
    if (opts.length === 0) return new Uint8Array(0);
    const parts: Uint8Array[] = [];
    for (const [code, v] of opts) {
      const h = new Uint8Array(4 + ((v.length + 3) & ~3));
      const dv = new DataView(h.buffer);
      dv.setUint16(0, code, this.le);
      dv.setUint16(2, v.length, this.le);
      h.set(v, 4);
      parts.push(h);
    }
    parts.push(new Uint8Array(4)); // opt_endofopt
    return concat(parts);
  }

  /** Section Header Block; starts a new section and forgets the interfaces. */
  section(bigEndian = false, opts: { hardware?: string } = {}): Buffer {
    this.le = !bigEndian;
    this.tsres.length = 0;
    this.snaplens.length = 0;
    const o = this.options(opts.hardware ? [[2, Buffer.from(opts.hardware)]] : []);
    const body = new Uint8Array(16 + o.length);
    const dv = new DataView(body.buffer);
    dv.setUint32(0, 0x1a2b3c4d, this.le);
    dv.setUint16(4, 1, this.le);
    dv.setUint16(6, 0, this.le);
    dv.setInt32(8, -1, this.le);
    dv.setInt32(12, -1, this.le); // section length unknown
    body.set(o, 16);
    return this.block(0x0a0d0d0a, body);
  }

  interface(i: PcapngInterface): Buffer {
    const opts: Array<[number, Uint8Array]> = [];
    if (i.name !== undefined) opts.push([2, Buffer.from(i.name)]);
    for (const a of i.ipv4 ?? []) opts.push([4, concat([addr(a), Uint8Array.from([255, 255, 255, 0])])]);
    for (const a of i.ipv6 ?? []) opts.push([5, concat([addr(a), Uint8Array.from([64])])]);
    if (i.tsresol !== undefined) opts.push([9, Uint8Array.from([i.tsresol])]);
    const o = this.options(opts);
    const body = new Uint8Array(8 + o.length);
    const dv = new DataView(body.buffer);
    dv.setUint16(0, i.linkType, this.le);
    dv.setUint32(4, i.snaplen ?? 262144, this.le);
    body.set(o, 8);
    const r = i.tsresol ?? 6;
    this.tsres.push(r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r);
    this.snaplens.push(i.snaplen ?? 262144);
    return this.block(1, body);
  }

  private units(iface: number, tsNs: bigint): bigint {
    const ups = this.tsres[iface];
    return (tsNs * BigInt(ups)) / 1_000_000_000n;
  }

  /** Enhanced Packet Block. */
  packet(iface: number, tsNs: bigint, frame: Uint8Array, origLen = frame.length): Buffer {
    return this.packetLike(6, iface, tsNs, frame, origLen);
  }

  /** Obsolete Packet Block (type 2): 16-bit interface id and a drops count. */
  obsoletePacket(iface: number, tsNs: bigint, frame: Uint8Array, origLen = frame.length): Buffer {
    return this.packetLike(2, iface, tsNs, frame, origLen);
  }

  private packetLike(type: number, iface: number, tsNs: bigint, frame: Uint8Array, origLen: number): Buffer {
    const cap = Math.min(frame.length, this.snaplens[iface]);
    const body = new Uint8Array(20 + cap);
    const dv = new DataView(body.buffer);
    if (type === 6) dv.setUint32(0, iface, this.le);
    else { dv.setUint16(0, iface, this.le); dv.setUint16(2, 0, this.le); }
    const t = this.units(iface, tsNs);
    dv.setUint32(4, Number(t >> 32n), this.le);
    dv.setUint32(8, Number(t & 0xffffffffn), this.le);
    dv.setUint32(12, cap, this.le);
    dv.setUint32(16, origLen, this.le);
    body.set(frame.subarray(0, cap), 20);
    return this.block(type, body);
  }

  /** Simple Packet Block: interface 0, no timestamp. */
  simplePacket(frame: Uint8Array, origLen = frame.length): Buffer {
    const cap = Math.min(frame.length, this.snaplens[0] ?? 262144);
    const body = new Uint8Array(4 + cap);
    new DataView(body.buffer).setUint32(0, origLen, this.le);
    body.set(frame.subarray(0, cap), 4);
    return this.block(3, body);
  }

  /** Any other block (name resolution 4, statistics 5, custom 0xBAD, unknown types). */
  other(type: number, body: Uint8Array): Buffer {
    return this.block(type, body);
  }
}
