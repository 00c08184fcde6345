/**
 * Streaming reader for packet captures: classic pcap (either byte order, microsecond or
 * nanosecond magic, and the Kuznetzov variant with longer record headers) and pcapng (any
 * number of sections of either byte order, several interfaces with their own link type and
 * timestamp resolution). gzip is unwrapped by `readCapture`.
 *
 * Feed it chunks as they come off a stream; a record cut by a chunk boundary is completed from
 * the next chunk. It never builds an object per packet: each frame is handed to the sink as
 * (buffer, offset, length), valid only for the duration of the call.
 *
 * The format is recognised by its magic number, never by the file's name: the corpus has a
 * pcapng file called `openvpn_tcp_nontlsauth.pcap`.
 */
import { createGunzip, constants as zlibConstants } from 'node:zlib';
import { UserError } from '../errors.js';
import { formatIp } from './pcap-decode.js';
import { tsWindow } from '../parsers/check.js';

/** Link-layer header types (https://www.tcpdump.org/linktypes.html) that the decoder knows. */
export const LINKTYPE = {
  NULL: 0, ETHERNET: 1, RAW_DLT12: 12, RAW_DLT14: 14, RAW: 101, LOOP: 108,
  LINUX_SLL: 113, IPV4: 228, IPV6: 229, LINUX_SLL2: 276,
} as const;

/** The input is not a capture at all (or not one we can read). A user error, not a bug. */
export class PcapFormatError extends UserError {
  constructor(message: string, hint: string | null = null) {
    super(message, { code: 'E_PCAP_FORMAT', exitCode: 1, hint });
  }
}

export interface CaptureInterface {
  /** 0 for classic pcap; the section number (from 0) in pcapng. */
  section: number;
  /** Interface id within its section (the EPB's interface id). */
  index: number;
  linkType: number;
  snaplen: number;
  /** `if_name` from a pcapng IDB, else null. */
  name: string | null;
  /** Timestamp units per second (1e6 for microseconds, 1e9 for nanoseconds, 2^n for binary). */
  tsUnitsPerSecond: number;
  /** Addresses from `if_IPv4addr`/`if_IPv6addr` (without the mask), textual. */
  addresses: string[];
}

/**
 * Where the reader delivers what it reads. `iface` is called once per interface before its
 * first packet and returns a handle that `packet` gets back.
 */
export interface CaptureSink {
  iface(desc: CaptureInterface): number;
  /**
   * One frame: `buf[off .. off+capLen)` holds the captured bytes (valid during the call only);
   * `origLen` is the frame's length on the wire. The time is `tsSec` seconds and `tsNsec`
   * nanoseconds after the epoch, UTC.
   */
  packet(handle: number, linkType: number, tsSec: number, tsNsec: number, buf: Uint8Array, off: number, capLen: number, origLen: number): void;
}

export type CaptureFormat = 'pcap' | 'pcapng';

const PCAP_MAGIC_US = 0xa1b2c3d4;
const PCAP_MAGIC_NS = 0xa1b23c4d;
const PCAP_MAGIC_KUZNETZOV = 0xa1b2cd34;
const PCAPNG_SHB = 0x0a0d0d0a;
const PCAPNG_BOM = 0x1a2b3c4d;
const GZIP_MAGIC = 0x1f8b;

const BT_IDB = 1;
const BT_OPB = 2;
const BT_SPB = 3;
const BT_EPB = 6;

/** Larger records or blocks are taken as damage rather than data (tcpdump's own limit is 256 KiB). */
const MAX_RECORD = 64 * 1024 * 1024;

/** What the first bytes of a stream are: a capture format, gzip, or unknown. Needs 4 bytes. */
export function sniffCapture(head: Uint8Array): CaptureFormat | 'gzip' | null {
  if (head.length >= 2 && ((head[0] << 8) | head[1]) === GZIP_MAGIC) return 'gzip';
  if (head.length < 4) return null;
  const be = ((head[0] << 24) | (head[1] << 16) | (head[2] << 8) | head[3]) >>> 0;
  const le = ((head[3] << 24) | (head[2] << 16) | (head[1] << 8) | head[0]) >>> 0;
  if (be === PCAPNG_SHB) return 'pcapng';
  for (const m of [PCAP_MAGIC_US, PCAP_MAGIC_NS, PCAP_MAGIC_KUZNETZOV]) if (be === m || le === m) return 'pcap';
  return null;
}

function hex32(b: Uint8Array, off: number): string {
  let s = '0x';
  for (let i = off; i < off + 4 && i < b.length; i++) s += b[i].toString(16).padStart(2, '0');
  return s;
}

interface PcapngIface {
  handle: number;
  linkType: number;
  snaplen: number;
  /** Units per second of this interface's timestamps. */
  ups: number;
  /** `if_tsoffset`: seconds to add to every timestamp. */
  tsOffset: number;
}

/**
 * Push-style reader. `push(chunk)` as bytes arrive, `end()` at the end of input. Throws
 * PcapFormatError only when the very first bytes are not a capture; damage later on (a record
 * cut short, a block whose lengths disagree) stops the reading with `truncated` set and a
 * warning, and everything before it stays delivered.
 */
export class CaptureReader {
  format: CaptureFormat | null = null;
  bigEndian = false;
  /** Nanosecond timestamps in a classic pcap file. */
  nanosecond = false;
  truncated = false;
  readonly warnings: string[] = [];
  /** Frames skipped because they named an interface the section did not describe. */
  skippedPackets = 0;
  /** Bytes taken in so far. */
  offset = 0;
  /** Absolute offset of index 0 of the buffer being parsed, for messages. */
  private base = 0;

  private readonly sink: CaptureSink;
  private stopped = false;
  private headerDone = false;
  /** Classic pcap: record header size (16, or 24 for Kuznetzov) and the single interface. */
  private recHdr = 16;
  private pcapHandle = -1;
  private pcapLinkType = 0;
  /** pcapng: section count and the current section's interfaces. */
  private section = -1;
  private ifaces: PcapngIface[] = [];
  /** The latest timestamp seen, for Simple Packet Blocks, which carry none. */
  private lastSec = 0;
  private lastNsec = 0;
  private spbWarned = false;
  /** Bytes of an incomplete unit carried over to the next chunk. */
  private carry: Uint8Array = new Uint8Array(256);
  private carryLen = 0;

  constructor(sink: CaptureSink) {
    this.sink = sink;
  }

  push(chunk: Uint8Array): void {
    if (this.stopped || chunk.length === 0) return;
    let off = 0;
    if (this.carryLen > 0) {
      this.base = this.offset - this.carryLen;
      // Complete the unit the last chunk cut, one header at a time: its length may only be
      // known once its own header is in.
      for (;;) {
        const need = this.unitLength(this.carry, 0, this.carryLen);
        if (need < 0) return;
        if (need <= this.carryLen) break;
        const take = Math.min(need - this.carryLen, chunk.length - off);
        this.appendCarry(chunk, off, take);
        off += take;
        if (this.carryLen < need) {
          this.offset += chunk.length;
          return;
        }
      }
      const used = this.parse(this.carry, 0, this.carryLen);
      if (used !== this.carryLen && !this.stopped) {
        // unitLength and parse disagree: a bug, but keep reading rather than throw.
        this.stop(`reader lost sync at byte ${this.base + used}`);
      }
      this.carryLen = 0;
      if (this.stopped) return;
    }
    const end = chunk.length;
    this.base = this.offset;
    const used = this.stopped ? end : this.parse(chunk, off, end);
    if (!this.stopped && used < end) {
      this.carryLen = 0;
      this.appendCarry(chunk, used, end - used);
    }
    this.offset += end;
  }

  /** End of input: a leftover partial unit means the capture was cut short. */
  end(): void {
    if (this.stopped) return;
    if (!this.headerDone && this.carryLen === 0 && this.offset === 0) {
      throw new PcapFormatError('not a pcap or pcapng capture (empty input)');
    }
    if (this.carryLen > 0) {
      if (!this.headerDone && this.carryLen < 4) {
        throw new PcapFormatError(`not a pcap or pcapng capture (only ${this.carryLen} bytes)`);
      }
      if (!this.headerDone) this.format = sniffCapture(this.carry.subarray(0, 4)) as CaptureFormat;
      const need = this.unitLength(this.carry, 0, this.carryLen);
      const at = this.offset - this.carryLen;
      const what = !this.headerDone ? 'file header' : this.format === 'pcap' ? 'packet record' : 'block';
      this.truncated = true;
      this.warnings.push(
        `capture ends inside a ${what} at byte ${at}: ${this.carryLen} of ${need > 0 ? need : '?'} bytes present (was the capture cut short?)`,
      );
      this.carryLen = 0;
    }
    this.stopped = true;
  }

  private stop(message: string): void {
    this.truncated = true;
    this.warnings.push(message);
    this.stopped = true;
  }

  private appendCarry(src: Uint8Array, off: number, n: number): void {
    if (this.carryLen + n > this.carry.length) {
      const grown = new Uint8Array(Math.max(this.carry.length * 2, this.carryLen + n));
      grown.set(this.carry.subarray(0, this.carryLen));
      this.carry = grown;
    }
    this.carry.set(src.subarray(off, off + n), this.carryLen);
    this.carryLen += n;
  }

  private u32(b: Uint8Array, o: number): number {
    return this.bigEndian
      ? ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
      : ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0;
  }

  private u16(b: Uint8Array, o: number): number {
    return this.bigEndian ? (b[o] << 8) | b[o + 1] : (b[o + 1] << 8) | b[o];
  }

  /**
   * Length of the unit (file header, record or block) starting at `off`, or, when its own
   * header is not complete yet, the number of bytes needed to learn it. -1 when reading stopped.
   */
  private unitLength(b: Uint8Array, off: number, end: number): number {
    const n = end - off;
    if (!this.headerDone) {
      if (n < 4) return 4;
      const kind = sniffCapture(b.subarray(off, off + 4));
      if (kind === 'pcap') return 24;
      if (kind === 'pcapng') {
        if (n < 12) return 12;
        const len = this.shbLength(b, off);
        return len > MAX_RECORD || len < 12 ? n : len;
      }
      this.badMagic(b, off);
      return -1;
    }
    let len: number;
    if (this.format === 'pcap') {
      if (n < this.recHdr) return this.recHdr;
      len = this.recHdr + this.u32(b, off + 8);
    } else {
      if (n < 8) return 8;
      if (this.u32(b, off) === PCAPNG_SHB && n < 12) return 12;
      len = this.u32(b, off) === PCAPNG_SHB ? this.shbLength(b, off) : this.u32(b, off + 4);
    }
    // A damaged length: hand over what we have so that parse() reports it instead of waiting for it.
    return len > MAX_RECORD || len < 12 ? n : len;
  }

  /** Total length of a Section Header Block; its byte order comes from its own byte-order magic. */
  private shbLength(b: Uint8Array, off: number): number {
    const bomLE = ((b[off + 11] << 24) | (b[off + 10] << 16) | (b[off + 9] << 8) | b[off + 8]) >>> 0;
    const be = bomLE !== PCAPNG_BOM;
    const o = off + 4;
    return be
      ? ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0
      : ((b[o + 3] << 24) | (b[o + 2] << 16) | (b[o + 1] << 8) | b[o]) >>> 0;
  }

  private badMagic(b: Uint8Array, off: number): never {
    this.stopped = true;
    if (b.length >= off + 2 && ((b[off] << 8) | b[off + 1]) === GZIP_MAGIC) {
      throw new PcapFormatError('gzip-compressed capture given to the raw reader', 'read it through readCapture(), which unwraps gzip');
    }
    throw new PcapFormatError(`not a pcap or pcapng capture (magic ${hex32(b, off)})`);
  }

  /** Process every complete unit in b[off, end); returns the offset of the first incomplete one. */
  private parse(b: Uint8Array, off: number, end: number): number {
    if (!this.headerDone) {
      if (end - off < 4) return off;
      const kind = sniffCapture(b.subarray(off, off + 4));
      if (kind === 'pcap') {
        if (end - off < 24) return off;
        off = this.pcapHeader(b, off);
      } else if (kind === 'pcapng') {
        this.format = 'pcapng';
        this.headerDone = true;
      } else {
        this.badMagic(b, off);
      }
    }
    return this.format === 'pcap' ? this.pcapRecords(b, off, end) : this.pcapngBlocks(b, off, end);
  }

  private pcapHeader(b: Uint8Array, off: number): number {
    const be = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
    const magic = (be === PCAP_MAGIC_US || be === PCAP_MAGIC_NS || be === PCAP_MAGIC_KUZNETZOV) ? be : 0;
    this.bigEndian = magic !== 0;
    const m = this.u32(b, off);
    this.nanosecond = m === PCAP_MAGIC_NS;
    this.recHdr = m === PCAP_MAGIC_KUZNETZOV ? 24 : 16;
    this.format = 'pcap';
    this.headerDone = true;
    const snaplen = this.u32(b, off + 16);
    // The upper bits of the link-type field carry the FCS length; the link type is the low 16.
    this.pcapLinkType = this.u32(b, off + 20) & 0xffff;
    this.pcapHandle = this.sink.iface({
      section: 0, index: 0, linkType: this.pcapLinkType, snaplen, name: null,
      tsUnitsPerSecond: this.nanosecond ? 1e9 : 1e6, addresses: [],
    });
    return off + 24;
  }

  /**
   * The hot loop for classic pcap. A record, little-endian, 16-byte header then the frame:
   *   d0 3a 3e 6a  1e 05 00 00  60 00 00 00  ea 05 00 00  <96 bytes of frame>
   *   ts_sec       ts_usec/nsec incl_len=96  orig_len=1514
   */
  private pcapRecords(b: Uint8Array, off: number, end: number): number {
    const sink = this.sink;
    const handle = this.pcapHandle;
    const lt = this.pcapLinkType;
    const hdr = this.recHdr;
    const fracMul = this.nanosecond ? 1 : 1000;
    const be = this.bigEndian;
    while (end - off >= hdr) {
      let sec: number, frac: number, cap: number, orig: number;
      if (be) {
        sec = ((b[off] << 24) | (b[off + 1] << 16) | (b[off + 2] << 8) | b[off + 3]) >>> 0;
        frac = ((b[off + 4] << 24) | (b[off + 5] << 16) | (b[off + 6] << 8) | b[off + 7]) >>> 0;
        cap = ((b[off + 8] << 24) | (b[off + 9] << 16) | (b[off + 10] << 8) | b[off + 11]) >>> 0;
        orig = ((b[off + 12] << 24) | (b[off + 13] << 16) | (b[off + 14] << 8) | b[off + 15]) >>> 0;
      } else {
        sec = ((b[off + 3] << 24) | (b[off + 2] << 16) | (b[off + 1] << 8) | b[off]) >>> 0;
        frac = ((b[off + 7] << 24) | (b[off + 6] << 16) | (b[off + 5] << 8) | b[off + 4]) >>> 0;
        cap = ((b[off + 11] << 24) | (b[off + 10] << 16) | (b[off + 9] << 8) | b[off + 8]) >>> 0;
        orig = ((b[off + 15] << 24) | (b[off + 14] << 16) | (b[off + 13] << 8) | b[off + 12]) >>> 0;
      }
      if (cap > MAX_RECORD) {
        this.stop(`damaged packet record at byte ${this.base + off}: captured length ${cap} (reading stopped there)`);
        return end;
      }
      if (end - off < hdr + cap) break;
      sink.packet(handle, lt, sec, frac * fracMul, b, off + hdr, cap, orig);
      off += hdr + cap;
    }
    return off;
  }

  /**
   * pcapng blocks: type, total length, body, total length again. An Enhanced Packet Block,
   * little-endian:
   *   06 00 00 00  7c 00 00 00  00 00 00 00  <ts high> <ts low>  5c 00 00 00  5c 00 00 00  <92 bytes, padded> 7c 00 00 00
   *   EPB          length 124   interface 0  (if_tsresol units)   captured 92  original 92                        length
   */
  private pcapngBlocks(b: Uint8Array, off: number, end: number): number {
    while (end - off >= 8) {
      const type = this.u32(b, off);
      let len: number;
      if (type === PCAPNG_SHB) {
        if (end - off < 12) break;
        len = this.shbLength(b, off);
      } else {
        len = this.u32(b, off + 4);
      }
      if (len < 12 || (len & 3) !== 0 || len > MAX_RECORD) {
        this.stop(`damaged pcapng block at byte ${this.base + off}: type ${type}, length ${len} (reading stopped there)`);
        return end;
      }
      if (end - off < len) break;
      if (type === PCAPNG_SHB) {
        this.sectionHeader(b, off);
        if (this.stopped) return end;
      }
      if (this.u32(b, off + len - 4) !== len) {
        this.stop(`damaged pcapng block at byte ${this.base + off}: trailing length differs from ${len} (reading stopped there)`);
        return end;
      }
      if (type === BT_EPB || type === BT_OPB) {
        if (len < 32) {
          this.stop(`damaged pcapng block at byte ${this.base + off}: packet block of ${len} bytes (reading stopped there)`);
          return end;
        }
        const id = type === BT_EPB ? this.u32(b, off + 8) : this.u16(b, off + 8);
        const cap = this.u32(b, off + 20);
        const orig = this.u32(b, off + 24);
        if (28 + cap > len - 4) {
          this.stop(`damaged pcapng block at byte ${this.base + off}: captured length ${cap} exceeds the block (reading stopped there)`);
          return end;
        }
        const ifc = id < this.ifaces.length ? this.ifaces[id] : undefined;
        if (ifc === undefined) {
          this.skipped(`packet at byte ${this.base + off} names interface ${id}, which its section does not describe`);
        } else {
          this.timestamp(ifc, this.u32(b, off + 12), this.u32(b, off + 16));
          this.sink.packet(ifc.handle, ifc.linkType, this.lastSec, this.lastNsec, b, off + 28, cap, orig);
        }
      } else if (type === BT_SPB) {
        // Simple Packet Block: interface 0, no timestamp. We give it the latest timestamp seen.
        const ifc = this.ifaces.length > 0 ? this.ifaces[0] : undefined;
        if (ifc === undefined) {
          this.skipped(`simple packet block at byte ${this.base + off} in a section without interfaces`);
        } else {
          const orig = this.u32(b, off + 8);
          let cap = Math.min(orig, len - 16);
          if (ifc.snaplen > 0 && cap > ifc.snaplen) cap = ifc.snaplen;
          if (!this.spbWarned) {
            this.spbWarned = true;
            this.warnings.push('simple packet blocks carry no timestamp: they are counted at the latest timestamp before them');
          }
          this.sink.packet(ifc.handle, ifc.linkType, this.lastSec, this.lastNsec, b, off + 12, cap, orig);
        }
      } else if (type === BT_IDB) {
        this.interfaceBlock(b, off, len);
      }
      // Name resolution, statistics, decryption secrets, custom and unknown blocks: skipped.
      off += len;
    }
    return off;
  }

  private skipped(message: string): void {
    if (this.skippedPackets++ < 5) this.warnings.push(message);
  }

  private sectionHeader(b: Uint8Array, off: number): void {
    const bomLE = ((b[off + 11] << 24) | (b[off + 10] << 16) | (b[off + 9] << 8) | b[off + 8]) >>> 0;
    this.bigEndian = bomLE !== PCAPNG_BOM;
    if (this.bigEndian && this.u32(b, off + 8) !== PCAPNG_BOM) {
      this.stop(`damaged pcapng section header at byte ${this.base + off}: byte-order magic ${hex32(b, off + 8)}`);
      return;
    }
    this.section++;
    this.ifaces = [];
  }

  private interfaceBlock(b: Uint8Array, off: number, len: number): void {
    if (len < 20) {
      this.stop(`damaged pcapng interface block at byte ${this.base + off}`);
      return;
    }
    const linkType = this.u16(b, off + 8);
    const snaplen = this.u32(b, off + 12);
    let name: string | null = null;
    let ups = 1e6;
    let tsOffset = 0;
    const addresses: string[] = [];
    let o = off + 16;
    const stop = off + len - 4;
    while (o + 4 <= stop) {
      const code = this.u16(b, o);
      const olen = this.u16(b, o + 2);
      const v = o + 4;
      if (code === 0 || v + olen > stop) break;
      if (code === 2) {
        name = Buffer.from(b.buffer, b.byteOffset + v, olen).toString('utf8').replace(/\0+$/, '');
      } else if (code === 9 && olen >= 1) {
        // if_tsresol: high bit clear → 10^-n seconds, set → 2^-n seconds.
        const r = b[v];
        ups = r & 0x80 ? 2 ** (r & 0x7f) : 10 ** r;
      } else if (code === 14 && olen >= 8) {
        const hi = this.u32(b, v + (this.bigEndian ? 0 : 4)) | 0;
        const lo = this.u32(b, v + (this.bigEndian ? 4 : 0));
        tsOffset = hi * 4294967296 + lo;
      } else if (code === 4 && olen >= 4) {
        addresses.push(formatIp(0, 0, 0xffff, (b[v] << 24) | (b[v + 1] << 16) | (b[v + 2] << 8) | b[v + 3]));
      } else if (code === 5 && olen >= 16) {
        const w = (i: number) => (b[v + i] << 24) | (b[v + i + 1] << 16) | (b[v + i + 2] << 8) | b[v + i + 3];
        addresses.push(formatIp(w(0), w(4), w(8), w(12)));
      }
      o = v + ((olen + 3) & ~3);
    }
    const index = this.ifaces.length;
    const handle = this.sink.iface({
      section: this.section, index, linkType, snaplen, name, tsUnitsPerSecond: ups, addresses,
    });
    this.ifaces.push({ handle, linkType, snaplen, ups, tsOffset });
  }

  /**
   * Split a 64-bit pcapng timestamp (hi:lo, in 1/ups seconds) into whole seconds and
   * nanoseconds without losing precision: nanosecond counts pass 2^53, so the division is done
   * in 16-bit steps that stay exact in doubles.
   */
  private timestamp(ifc: PcapngIface, hi: number, lo: number): void {
    const ups = ifc.ups;
    let sec: number;
    let rem: number;
    if (hi < 0x200000) {
      const ts = hi * 4294967296 + lo;
      sec = Math.floor(ts / ups);
      rem = ts - sec * ups;
      if (rem < 0) { sec--; rem += ups; } else if (rem >= ups) { sec++; rem -= ups; }
    } else if (ups <= 4294967296) {
      const hiQ = Math.floor(hi / ups);
      const hiR = hi - hiQ * ups;
      const x = hiR * 65536 + (lo >>> 16);
      const q1 = Math.floor(x / ups);
      const y = (x - q1 * ups) * 65536 + (lo & 0xffff);
      const q2 = Math.floor(y / ups);
      sec = hiQ * 4294967296 + q1 * 65536 + q2;
      rem = y - q2 * ups;
    } else {
      const ts = (BigInt(hi) << 32n) | BigInt(lo);
      const u = BigInt(ups);
      sec = Number(ts / u);
      rem = Number(ts % u);
    }
    this.lastSec = sec + ifc.tsOffset;
    this.lastNsec = ups === 1e9 ? rem : ups === 1e6 ? rem * 1000 : Math.floor((rem * 1e9) / ups);
  }
}

export interface ReadCaptureResult {
  format: CaptureFormat;
  gzip: boolean;
  truncated: boolean;
  warnings: string[];
  /** Bytes of capture data read (after gzip). */
  bytesRead: number;
  skippedPackets: number;
  /** Packets left out for a timestamp no capture of this file's time can carry (see `refTime`). */
  badTimePackets: number;
}

/**
 * A sink that passes on only the packets whose time a capture written at `refTime` can carry
 * (the window of parsers/check.ts: thirty years before to a day after), and counts the rest: a
 * damaged pcapng timestamp (or if_tsoffset) must not put traffic in 1926 or 8426.
 */
function windowed(sink: CaptureSink, refTime: number, onBad: (tsSec: number) => void): CaptureSink {
  const w = tsWindow(refTime);
  const from = Math.floor(w.from / 1000), to = Math.floor(w.to / 1000);
  return {
    iface: (d) => sink.iface(d),
    packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen) {
      if (!(tsSec >= from && tsSec <= to)) { onBad(tsSec); return; }
      sink.packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen);
    },
  };
}

/**
 * Read a whole capture from a stream of chunks (e.g. `fs.createReadStream(path)`) into `sink`.
 * gzip is recognised by its magic and unwrapped on the fly; a gzip stream that ends early
 * keeps everything it decompressed and is reported like a cut capture.
 */
export async function readCapture(chunks: AsyncIterable<Uint8Array>, sink: CaptureSink, opts: { refTime?: number } = {}): Promise<ReadCaptureResult> {
  let badTimePackets = 0;
  let badExample = 0;
  const onBad = (tsSec: number) => { if (badTimePackets++ === 0) badExample = tsSec; };
  const reader = new CaptureReader(opts.refTime === undefined ? sink : windowed(sink, opts.refTime, onBad));
  const it = chunks[Symbol.asyncIterator]();
  // Gather the first two bytes to tell gzip from a capture.
  const head: Uint8Array[] = [];
  let headLen = 0;
  while (headLen < 2) {
    const r = await it.next();
    if (r.done) break;
    const c = toBytes(r.value);
    head.push(c);
    headLen += c.length;
  }
  const first = head.length === 1 ? head[0] : Buffer.concat(head);
  const rest: AsyncIterable<Uint8Array> = { [Symbol.asyncIterator]: () => it };
  const gzip = first.length >= 2 && first[0] === 0x1f && first[1] === 0x8b;
  const warnings: string[] = [];
  let gzipCut = false;
  if (gzip) {
    const onDamage = (message: string) => {
      gzipCut = true;
      warnings.push(message);
    };
    for await (const c of gunzipChunks(prepend(first, rest), onDamage)) reader.push(c);
  } else {
    reader.push(first);
    for await (const c of rest) reader.push(toBytes(c));
  }
  reader.end();
  if (reader.format === null) throw new PcapFormatError('not a pcap or pcapng capture (no capture header)');
  if (reader.skippedPackets > 5) warnings.push(`${reader.skippedPackets} packets in all were skipped for naming an undescribed interface`);
  if (badTimePackets > 0) {
    const shown = Math.abs(badExample) < 8.64e12 ? new Date(badExample * 1000).toISOString() : `${badExample} s`;
    warnings.push(`${badTimePackets} packet(s) skipped for a timestamp outside 30 years before to 1 day after the file's time (first: ${shown})`);
  }
  return {
    format: reader.format,
    gzip,
    truncated: reader.truncated || gzipCut,
    warnings: [...warnings, ...reader.warnings],
    bytesRead: reader.offset,
    skippedPackets: reader.skippedPackets,
    badTimePackets,
  };
}

function toBytes(c: Uint8Array | string): Uint8Array {
  return typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
}

async function* prepend(first: Uint8Array, rest: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  if (first.length) yield first;
  for await (const c of rest) yield toBytes(c);
}

/**
 * Decompress gzip chunk by chunk. A stream cut short loses nothing that was decompressible:
 * the decoder is flushed (Z_SYNC_FLUSH) before it is ended, and only then does zlib report the
 * missing end, which we turn into a warning.
 */
async function* gunzipChunks(src: AsyncIterable<Uint8Array>, onDamage: (message: string) => void): AsyncGenerator<Uint8Array> {
  const g = createGunzip();
  const out: Buffer[] = [];
  let error: Error | null = null;
  let ended = false;
  g.on('data', (c: Buffer) => out.push(c));
  g.on('error', (e: Error) => { error = e; });
  g.on('end', () => { ended = true; });
  const drain = function* (): Generator<Uint8Array> {
    for (let i = 0; i < out.length; i++) yield out[i];
    out.length = 0;
  };
  for await (const chunk of src) {
    // The write callback runs once zlib has taken the chunk (or failed on it). The copy is
    // because a source may reuse its buffer for the next chunk (see aggregate.ts fileChunks).
    await new Promise<void>((resolve) => g.write(Buffer.from(chunk), () => resolve()));
    yield* drain();
    if (error) break;
  }
  if (!error) {
    await new Promise<void>((resolve) => g.flush(zlibConstants.Z_SYNC_FLUSH, () => resolve()));
    yield* drain();
    await new Promise<void>((resolve) => {
      if (ended || error) return resolve();
      g.once('end', () => resolve());
      g.once('error', () => resolve());
      g.end();
    });
    yield* drain();
  }
  const e = error as (Error & { code?: string }) | null;
  if (e) {
    onDamage(e.code === 'Z_BUF_ERROR'
      ? 'gzip stream ends early (was the capture cut short?): kept everything up to the cut'
      : `gzip data damaged (${e.message}): reading stopped there`);
  }
  g.removeAllListeners();
}
