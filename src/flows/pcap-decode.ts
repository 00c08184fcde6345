/**
 * Frame decoding: link layer → IPv4/IPv6 (+ extension headers, fragments) → TCP/UDP ports.
 * One FrameDecoder is reused for every frame; `decode` writes the fields of the current frame
 * into the decoder itself, so no object is made per packet. Addresses are kept as four 32-bit
 * words (IPv4 as the IPv4-mapped IPv6 address ::ffff:a.b.c.d, so both families share one key
 * shape).
 */

/**
 * Keys of CaptureSummary.unknownProtocols, i.e. what a frame that is not TCP/UDP/ICMP/ICMPv6 was:
 * - 0..255: the IP protocol number itself (GRE 47, ESP 50, SCTP 132, ...); these frames still
 *   get flow records with their addresses and ports 0;
 * - 0x0600..0xffff: the EtherType of a non-IP frame (ARP 2054, LLDP 35020, ...);
 * - the constants below.
 */
export const UNKNOWN_KEY = {
  /** IEEE 802.3 frames with a length instead of an EtherType (LLC/SNAP, STP). */
  LLC: 0x10000,
  /** 0x20000 + link type: frames of a link type we do not decode. */
  LINK_TYPE_BASE: 0x20000,
  /** Frames too short or too damaged to find an IP header in. */
  MALFORMED: 0x30000,
  /** 0x40000 + family: loopback (null) frames of an address family other than IPv4/IPv6. */
  LOOPBACK_FAMILY_BASE: 0x40000,
} as const;

/** `FrameDecoder.kind` values. */
export const FRAME_NON_IP = 0;
export const FRAME_IPV4 = 4;
export const FRAME_IPV6 = 6;

const V4_MARK = 0xffff;
const MAX_FRAGMENT_KEYS = 4096;

export class FrameDecoder {
  /** FRAME_IPV4, FRAME_IPV6, or FRAME_NON_IP (then `unknownKey` says what it was). */
  kind = 0;
  unknownKey = 0;
  /** IP protocol of the payload, after IPv6 extension headers. */
  proto = 0;
  /** Source and destination address words (see the file comment). */
  s0 = 0; s1 = 0; s2 = 0; s3 = 0;
  d0 = 0; d1 = 0; d2 = 0; d3 = 0;
  /** 0 where there are none or they were not captured. */
  sport = 0;
  dport = 0;
  /** Offset of the IP header from the frame start, and the IP datagram's length per its header. */
  ipOff = 0;
  ipLen = 0;
  /** Offset of the TCP/UDP header from the frame start, -1 when there is none (later fragments, other protocols). */
  l4Off = -1;
  /** Transport payload length per the IP and TCP/UDP headers, -1 when not known. */
  l4PayloadLen = -1;
  /**
   * Direction the link layer reports (Linux cooked captures): 1 sent by this host, 0 addressed
   * to this host, -1 unknown (other link types; broadcast, multicast, promiscuous).
   */
  linkDir = -1;
  /** 0 not a fragment, 1 first fragment, 2 a later fragment (ports from the first one, if seen). */
  frag = 0;
  /** (src, dst, proto, id) of a fragmented datagram → its ports, so later fragments join its flow. */
  private readonly fragments = new Map<string, number>();

  decode(linkType: number, b: Uint8Array, off: number, cap: number): void {
    const end = off + cap;
    this.sport = 0;
    this.dport = 0;
    this.l4PayloadLen = -1;
    this.l4Off = -1;
    this.linkDir = -1;
    this.frag = 0;
    let p = off;
    let et: number;
    switch (linkType) {
      case 1: { // Ethernet, with any number of 802.1Q / 802.1ad / QinQ tags
        if (cap < 14) return this.nonIp(UNKNOWN_KEY.MALFORMED);
        et = (b[p + 12] << 8) | b[p + 13];
        p += 14;
        while (et === 0x8100 || et === 0x88a8 || et === 0x9100) {
          if (end - p < 4) return this.nonIp(UNKNOWN_KEY.MALFORMED);
          et = (b[p + 2] << 8) | b[p + 3];
          p += 4;
        }
        if (et < 0x600) return this.nonIp(UNKNOWN_KEY.LLC);
        break;
      }
      case 113: { // Linux cooked v1: packet type(2) ARPHRD(2) addr len(2) addr(8) protocol(2)
        if (cap < 16) return this.nonIp(UNKNOWN_KEY.MALFORMED);
        const pkttype = (b[p] << 8) | b[p + 1];
        this.linkDir = pkttype === 4 ? 1 : pkttype === 0 ? 0 : -1;
        et = (b[p + 14] << 8) | b[p + 15];
        p += 16;
        while (et === 0x8100 || et === 0x88a8) {
          if (end - p < 4) return this.nonIp(UNKNOWN_KEY.MALFORMED);
          et = (b[p + 2] << 8) | b[p + 3];
          p += 4;
        }
        if (et < 0x600) return this.nonIp(UNKNOWN_KEY.LLC);
        break;
      }
      case 276: { // Linux cooked v2: protocol(2) reserved(2) ifindex(4) ARPHRD(2) packet type(1) addr len(1) addr(8)
        if (cap < 20) return this.nonIp(UNKNOWN_KEY.MALFORMED);
        const pkttype = b[p + 10];
        this.linkDir = pkttype === 4 ? 1 : pkttype === 0 ? 0 : -1;
        et = (b[p] << 8) | b[p + 1];
        p += 20;
        while (et === 0x8100 || et === 0x88a8) {
          if (end - p < 4) return this.nonIp(UNKNOWN_KEY.MALFORMED);
          et = (b[p + 2] << 8) | b[p + 3];
          p += 4;
        }
        if (et < 0x600) return this.nonIp(UNKNOWN_KEY.LLC);
        break;
      }
      case 0: case 108: { // BSD loopback: a 4-byte address family in the writer's byte order (0) or network order (108)
        if (cap < 4) return this.nonIp(UNKNOWN_KEY.MALFORMED);
        let fam = ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
        if (fam > 0xffff) fam = ((b[p + 3] << 24) | (b[p + 2] << 16) | (b[p + 1] << 8) | b[p]) >>> 0;
        p += 4;
        // AF_INET is 2 everywhere; AF_INET6 is 10 (Linux), 24 (NetBSD, OpenBSD), 28 (FreeBSD), 30 (macOS).
        if (fam === 2) et = 0x0800;
        else if (fam === 10 || fam === 24 || fam === 28 || fam === 30) et = 0x86dd;
        else return this.nonIp(UNKNOWN_KEY.LOOPBACK_FAMILY_BASE + (fam & 0xffff));
        break;
      }
      case 101: case 12: case 14: case 228: case 229: { // raw IP: the version nibble decides
        if (cap < 1) return this.nonIp(UNKNOWN_KEY.MALFORMED);
        const v = b[p] >> 4;
        et = v === 4 ? 0x0800 : v === 6 ? 0x86dd : -1;
        if (et < 0) return this.nonIp(UNKNOWN_KEY.MALFORMED);
        break;
      }
      default:
        return this.nonIp(UNKNOWN_KEY.LINK_TYPE_BASE + linkType);
    }
    if (et === 0x0800) this.ipv4(b, off, p, end);
    else if (et === 0x86dd) this.ipv6(b, off, p, end);
    else this.nonIp(et);
  }

  private nonIp(key: number): void {
    this.kind = FRAME_NON_IP;
    this.unknownKey = key;
    this.proto = 0;
    this.s0 = this.s1 = this.s2 = this.s3 = 0;
    this.d0 = this.d1 = this.d2 = this.d3 = 0;
  }

  private ipv4(b: Uint8Array, frame: number, p: number, end: number): void {
    if (end - p < 20 || b[p] >> 4 !== 4) return this.nonIp(UNKNOWN_KEY.MALFORMED);
    const ihl = (b[p] & 15) << 2;
    if (ihl < 20) return this.nonIp(UNKNOWN_KEY.MALFORMED);
    this.kind = FRAME_IPV4;
    this.ipOff = p - frame;
    const total = (b[p + 2] << 8) | b[p + 3];
    this.ipLen = total;
    const proto = b[p + 9];
    this.proto = proto;
    this.s0 = 0; this.s1 = 0; this.s2 = V4_MARK;
    this.s3 = (b[p + 12] << 24) | (b[p + 13] << 16) | (b[p + 14] << 8) | b[p + 15];
    this.d0 = 0; this.d1 = 0; this.d2 = V4_MARK;
    this.d3 = (b[p + 16] << 24) | (b[p + 17] << 16) | (b[p + 18] << 8) | b[p + 19];
    const fl = (b[p + 6] << 8) | b[p + 7];
    const more = fl & 0x2000;
    const fragOff = fl & 0x1fff;
    if (fragOff === 0) {
      this.l4(b, frame, p + ihl, end, proto, total - ihl);
      if (more !== 0) {
        this.frag = 1;
        this.rememberFragment(`4,${this.s3},${this.d3},${proto},${(b[p + 4] << 8) | b[p + 5]}`);
      }
    } else {
      this.frag = 2;
      this.fragmentPorts(`4,${this.s3},${this.d3},${proto},${(b[p + 4] << 8) | b[p + 5]}`, more === 0);
    }
  }

  private ipv6(b: Uint8Array, frame: number, p: number, end: number): void {
    if (end - p < 40 || b[p] >> 4 !== 6) return this.nonIp(UNKNOWN_KEY.MALFORMED);
    this.kind = FRAME_IPV6;
    this.ipOff = p - frame;
    const payload = (b[p + 4] << 8) | b[p + 5];
    this.ipLen = 40 + payload;
    this.s0 = (b[p + 8] << 24) | (b[p + 9] << 16) | (b[p + 10] << 8) | b[p + 11];
    this.s1 = (b[p + 12] << 24) | (b[p + 13] << 16) | (b[p + 14] << 8) | b[p + 15];
    this.s2 = (b[p + 16] << 24) | (b[p + 17] << 16) | (b[p + 18] << 8) | b[p + 19];
    this.s3 = (b[p + 20] << 24) | (b[p + 21] << 16) | (b[p + 22] << 8) | b[p + 23];
    this.d0 = (b[p + 24] << 24) | (b[p + 25] << 16) | (b[p + 26] << 8) | b[p + 27];
    this.d1 = (b[p + 28] << 24) | (b[p + 29] << 16) | (b[p + 30] << 8) | b[p + 31];
    this.d2 = (b[p + 32] << 24) | (b[p + 33] << 16) | (b[p + 34] << 8) | b[p + 35];
    this.d3 = (b[p + 36] << 24) | (b[p + 37] << 16) | (b[p + 38] << 8) | b[p + 39];
    let nh = b[p + 6];
    let q = p + 40;
    // Extension headers. A chain that runs past the captured bytes leaves the last header
    // number we could read as the protocol, and no ports.
    for (let n = 0; n < 16; n++) {
      if (nh === 0 || nh === 43 || nh === 60 || nh === 135 || nh === 139 || nh === 140) {
        // hop-by-hop, routing, destination options, mobility, HIP, shim6: length in 8-octet units, not counting the first 8
        if (end - q < 2) { this.proto = nh; return; }
        const next = b[q];
        q += (b[q + 1] + 1) << 3;
        nh = next;
      } else if (nh === 51) { // AH: length in 4-octet units, not counting the first 2
        if (end - q < 2) { this.proto = nh; return; }
        const next = b[q];
        q += (b[q + 1] + 2) << 2;
        nh = next;
      } else if (nh === 44) { // fragment header: next(1) reserved(1) offset+flags(2) id(4)
        if (end - q < 8) { this.proto = nh; return; }
        const next = b[q];
        const fo = ((b[q + 2] << 8) | b[q + 3]) >> 3;
        const more = b[q + 3] & 1;
        const id = ((b[q + 4] << 24) | (b[q + 5] << 16) | (b[q + 6] << 8) | b[q + 7]) >>> 0;
        q += 8;
        nh = next;
        if (fo !== 0) {
          this.proto = nh;
          this.frag = 2;
          this.fragmentPorts(`6,${this.s0},${this.s1},${this.s2},${this.s3},${this.d0},${this.d1},${this.d2},${this.d3},${nh},${id}`, more === 0);
          return;
        }
        if (more !== 0) {
          this.frag = 1;
          this.proto = nh;
          this.l4(b, frame, q, end, nh, p + 40 + payload - q);
          this.rememberFragment(`6,${this.s0},${this.s1},${this.s2},${this.s3},${this.d0},${this.d1},${this.d2},${this.d3},${nh},${id}`);
          return;
        }
      } else {
        break;
      }
    }
    this.proto = nh;
    this.l4(b, frame, q, end, nh, p + 40 + payload - q);
  }

  /** TCP and UDP ports and payload size. Every other protocol is counted with ports 0. */
  private l4(b: Uint8Array, frame: number, q: number, end: number, proto: number, l4Len: number): void {
    if (proto === 6) {
      this.l4Off = q - frame;
      if (end - q < 4) return;
      this.sport = (b[q] << 8) | b[q + 1];
      this.dport = (b[q + 2] << 8) | b[q + 3];
      if (end - q >= 13) this.l4PayloadLen = l4Len - ((b[q + 12] >> 4) << 2);
    } else if (proto === 17) {
      this.l4Off = q - frame;
      if (end - q < 4) return;
      this.sport = (b[q] << 8) | b[q + 1];
      this.dport = (b[q + 2] << 8) | b[q + 3];
      this.l4PayloadLen = l4Len - 8;
    }
  }

  private rememberFragment(key: string): void {
    const m = this.fragments;
    if (m.size >= MAX_FRAGMENT_KEYS) {
      const oldest = m.keys().next();
      if (!oldest.done) m.delete(oldest.value);
    }
    m.set(key, this.sport * 65536 + this.dport);
  }

  private fragmentPorts(key: string, last: boolean): void {
    const ports = this.fragments.get(key);
    if (ports === undefined) return;
    this.sport = Math.floor(ports / 65536);
    this.dport = ports & 0xffff;
    // The last fragment usually comes last; a reordered one after it falls back to ports 0.
    if (last) this.fragments.delete(key);
  }
}

/** Text form of an address given as four words: dotted quad for IPv4(-mapped), RFC 5952 for IPv6. */
export function formatIp(w0: number, w1: number, w2: number, w3: number): string {
  if (w0 === 0 && w1 === 0 && w2 === V4_MARK) {
    return `${w3 >>> 24}.${(w3 >>> 16) & 255}.${(w3 >>> 8) & 255}.${w3 & 255}`;
  }
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = (from: number, to: number) => g.slice(from, to).map((x) => x.toString(16)).join(':');
  if (bestStart < 0) return hex(0, 8);
  return `${hex(0, bestStart)}::${hex(bestStart + bestLen, 8)}`;
}

/** Words of an IPv4 or IPv6 address in text, or null. Accepts `::ffff:192.0.2.1` and zone ids. */
export function parseIp(s: string): [number, number, number, number] | null {
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  if (v4) {
    const o = v4.slice(1).map(Number);
    if (o.some((x) => x > 255)) return null;
    return [0, 0, V4_MARK, (o[0] << 24) | (o[1] << 16) | (o[2] << 8) | o[3]];
  }
  if (!/^[0-9a-fA-F:.]+$/.test(s) || !s.includes(':')) return null;
  let tail: number[] = [];
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    const w = parseIp(s.slice(lastColon + 1));
    if (!w) return null;
    tail = [w[3] >>> 16, w[3] & 0xffff];
    // "::ffff:192.0.2.1" → "::ffff" + tail; "::192.0.2.1" → "::" + tail.
    body = s[lastColon - 1] === ':' ? s.slice(0, lastColon + 1) : s.slice(0, lastColon);
  }
  const dbl = body.indexOf('::');
  if (dbl !== body.lastIndexOf('::')) return null;
  const parts = (x: string) => (x === '' ? [] : x.split(':'));
  let groups: string[];
  if (dbl >= 0) {
    const head = parts(body.slice(0, dbl));
    const rest = parts(body.slice(dbl + 2));
    const fill = 8 - tail.length - head.length - rest.length;
    if (fill < 1) return null;
    groups = [...head, ...new Array<string>(fill).fill('0'), ...rest];
  } else {
    groups = parts(body);
  }
  if (groups.length + tail.length !== 8) return null;
  const nums = groups.map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : -1)).concat(tail);
  if (nums.some((x) => x < 0)) return null;
  return [(nums[0] << 16) | nums[1], (nums[2] << 16) | nums[3], (nums[4] << 16) | nums[5], (nums[6] << 16) | nums[7]];
}

/** Multicast, broadcast and unspecified addresses: never a server's own address. */
export function isGroupOrUnspecified(w0: number, w1: number, w2: number, w3: number): boolean {
  if (w0 === 0 && w1 === 0 && w2 === V4_MARK) {
    const top = w3 >>> 28;
    return top === 14 || w3 === -1 || w3 === 0;
  }
  return (w0 >>> 24) === 0xff || (w0 === 0 && w1 === 0 && w2 === 0 && w3 === 0);
}
