/**
 * Flow aggregation: frames → per-minute, per-connection byte and packet counts, from the
 * server's point of view.
 *
 * The hot path makes no object per packet. FrameDecoder writes the frame's fields into itself;
 * the flow is looked up in an open-addressing hash table whose keys are 11 int32 words in one
 * Int32Array (minute, interface+protocol, the two addresses as 4 words each, both ports) and
 * whose counters are 4 doubles in one Float64Array. Both directions of a connection share one
 * entry: the key puts the lower (address, port) end first, "A", and the counters are kept as
 * A→B and B→A. Which end is the server is decided only when a minute is flushed (see
 * `chooseLocal`), so that it can use everything learnt from the capture up to then.
 *
 * Minutes are flushed once the capture's clock is `lagMinutes` past them, which bounds memory
 * by the traffic of a few minutes whatever the capture's size. A packet later than that still
 * counts, in a new record for its minute: records are additive. Each open minute has a table of
 * its own (see MinuteTable), so that a flush visits only the rows it flushes.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../errors.js';
import { readCapture, type CaptureInterface, type CaptureSink } from './pcap.js';
import { FRAME_NON_IP, FrameDecoder, formatIp, isGroupOrUnspecified, parseIp } from './pcap-decode.js';
import { FOLD_ALWAYS, FOLD_LOCAL, FOLD_PROBE, ServiceTable, defaultServices } from './services.js';
import { FLOW_VALUES, unpackFlows, type AggregateOptions, type AggregateResult, type CaptureSummary, type FlowRecord, type PackedFlows, type UnknownProtocols } from './types.js';

export { UNKNOWN_KEY } from './pcap-decode.js';

/** Key words per flow: minute, meta, A (4), B (4), ports. */
const KW = 11;
/** Counters per flow: bytes A→B, bytes B→A, packets A→B, packets B→A. */
const VW = 4;
/** meta = handle << 9 | META_IP | proto. Non-IP frames have META_IP clear and zero addresses. */
const META_IP = 0x100;

/** Caps on the inference tables (about 12 MB together), so that a scan cannot exhaust memory. */
const MAX_ADDRESSES = 1 << 18;
/** Largest batch handed to onFlush at once. */
const BATCH_RECORDS = 16384;
const MAX_PAIRS = 1 << 19;
/** Slots of a new minute table (about 170 KB); it doubles while it is more than half full. */
const TABLE_SLOTS = 1 << 12;
/** Emptied minute tables kept for the minutes to come, so that a steady capture allocates none. */
const MAX_FREE_TABLES = 4;

/**
 * The open flows of one minute: its rows (keys and counters) packed in the order they came,
 * and an open-addressing index of slots holding row + 1. Flushing the minute is one copy of the
 * rows and one clear of the index: a busy capture's minute holds a few hundred flows, and
 * scanning and rebuilding one table of thousands of slots every minute cost 7% of its ingest.
 */
interface MinuteTable {
  minute: number;
  /** Slot → row + 1, 0 for an empty slot; never more than half full. */
  index: Int32Array;
  keys: Int32Array;
  vals: Float64Array;
  size: number;
}

function minuteTable(slots: number): MinuteTable {
  const rows = slots >>> 1;
  return { minute: -Infinity, index: new Int32Array(slots), keys: new Int32Array(rows * KW), vals: new Float64Array(rows * VW), size: 0 };
}

export interface FlowAggregatorOptions extends AggregateOptions {
  /**
   * Called with each batch of finished records (minutes `lagMinutes` behind the newest packet,
   * or everything when the open-flow table is full, or the rest at `finish()`), at most 16384
   * records at a time, sorted within the batch. Without it,
   * records are kept (compactly) and `finish()` returns them all, merged and sorted.
   */
  onFlush?: (records: FlowRecord[]) => void;
  /** Open flow-minutes held before everything open is flushed early (default 65536: tables of about 10 MB). */
  maxOpenFlows?: number;
  /**
   * Without onFlush: where finished rows go once more than `holdRows` (default 65536, 5 MB) are
   * held, until finishEach resolves them. Without it they stay in memory, 76 bytes per record.
   */
  spill?: RowSpill;
  holdRows?: number;
}

/**
 * Finished rows parked in a temporary file until finishEach resolves them: a capture's records
 * are resolved only once the local-address inference has seen the whole capture, and holding
 * them in memory made a capture's peak RSS grow by 76 bytes per record (past 256 MB at about
 * 2.5 M records). The file is unlinked as soon as it is open, so that nothing is left behind
 * even if the process dies; it lives in the system's temporary folder (TMPDIR) unless `dir` says.
 */
export class RowSpill {
  private fd: number | null;
  private readonly chunks: Array<{ pos: number; rows: number }> = [];
  private end = 0;

  constructor(dir = tmpdir()) {
    const path = join(dir, `.bytetrail-flows-${process.pid}-${randomBytes(6).toString('hex')}`);
    this.fd = openSync(path, 'wx+', 0o600);
    unlinkSync(path);
  }

  get rows(): number {
    let n = 0;
    for (const c of this.chunks) n += c.rows;
    return n;
  }

  /** Append `rows` rows (KW key words and VW counters each). */
  put(keys: Int32Array, vals: Float64Array, rows: number): void {
    const pos = this.end;
    this.write(new Uint8Array(keys.buffer, keys.byteOffset, rows * KW * 4));
    this.write(new Uint8Array(vals.buffer, vals.byteOffset, rows * VW * 8));
    this.chunks.push({ pos, rows });
  }

  /** The chunks in the order they were put, one in memory at a time. */
  *read(): Generator<{ keys: Int32Array; vals: Float64Array; rows: number }> {
    for (const { pos, rows } of this.chunks) {
      const keys = new Int32Array(rows * KW);
      const vals = new Float64Array(rows * VW);
      this.readAt(new Uint8Array(keys.buffer), pos);
      this.readAt(new Uint8Array(vals.buffer), pos + keys.byteLength);
      yield { keys, vals, rows };
    }
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private write(b: Uint8Array): void {
    for (let o = 0; o < b.length;) o += writeSync(this.fd!, b, o, b.length - o, this.end + o);
    this.end += b.length;
  }

  private readAt(b: Uint8Array, pos: number): void {
    for (let o = 0; o < b.length;) {
      const n = readSync(this.fd!, b, o, b.length - o, pos + o);
      if (n === 0) throw new Error('flow row spill: the temporary file ended early');
      o += n;
    }
  }
}

/**
 * Set of int32 word tuples → dense ids (0, 1, 2, ...), open addressing over typed arrays.
 * Used for the address and address-pair tables behind local-address inference.
 */
class WordTable {
  readonly width: number;
  keys: Int32Array;
  size = 0;
  added = false;
  private slots: Int32Array;
  private mask: number;

  constructor(width: number, bits = 10) {
    this.width = width;
    this.slots = new Int32Array(1 << bits);
    this.mask = (1 << bits) - 1;
    this.keys = new Int32Array((1 << (bits - 1)) * width);
  }

  private hash(k: Int32Array | number[], o: number): number {
    let h = 0x2545f491;
    for (let i = 0; i < this.width; i++) {
      h = Math.imul(h ^ k[o + i], 0x9e3779b1);
      h ^= h >>> 15;
    }
    return h;
  }

  private slotOf(k: Int32Array | number[], o: number): number {
    const w = this.width;
    let i = this.hash(k, o) & this.mask;
    for (;;) {
      const id = this.slots[i] - 1;
      if (id < 0) return i;
      let same = true;
      for (let j = 0; j < w; j++) if (this.keys[id * w + j] !== k[o + j]) { same = false; break; }
      if (same) return i;
      i = (i + 1) & this.mask;
    }
  }

  find(k: Int32Array | number[]): number {
    return this.slots[this.slotOf(k, 0)] - 1;
  }

  intern(k: Int32Array | number[]): number {
    let i = this.slotOf(k, 0);
    const id = this.slots[i] - 1;
    if (id >= 0) {
      this.added = false;
      return id;
    }
    if ((this.size + 1) * 2 > this.slots.length) {
      this.grow();
      i = this.slotOf(k, 0);
    }
    const w = this.width;
    const nid = this.size++;
    if (nid * w + w > this.keys.length) {
      const keys = new Int32Array(this.keys.length * 2);
      keys.set(this.keys);
      this.keys = keys;
    }
    for (let j = 0; j < w; j++) this.keys[nid * w + j] = k[j];
    this.slots[i] = nid + 1;
    this.added = true;
    return nid;
  }

  private grow(): void {
    this.slots = new Int32Array(this.slots.length * 2);
    this.mask = this.slots.length - 1;
    for (let id = 0; id < this.size; id++) {
      let i = this.hash(this.keys, id * this.width) & this.mask;
      while (this.slots[i] !== 0) i = (i + 1) & this.mask;
      this.slots[i] = id + 1;
    }
  }
}

function sameKey(K: Int32Array, p: number, r: number): boolean {
  for (let j = 0; j < KW; j++) if (K[p * KW + j] !== K[r * KW + j]) return false;
  return true;
}

function growInt32(a: Int32Array, need: number): Int32Array {
  if (need <= a.length) return a;
  const b = new Int32Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function growFloat64(a: Float64Array, need: number): Float64Array {
  if (need <= a.length) return a;
  const b = new Float64Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

function growUint8(a: Uint8Array, need: number): Uint8Array {
  if (need <= a.length) return a;
  const b = new Uint8Array(Math.max(need, a.length * 2));
  b.set(a);
  return b;
}

const ADDR_HOST = 1;
const ADDR_LOCAL = 2;

/**
 * Incremental aggregator. Feed it from a CaptureReader (it is a CaptureSink), or push frames
 * from a live capture with `pushPacket`. Call `finish()` at the end.
 */
export class FlowAggregator implements CaptureSink {
  packets = 0;
  bytes = 0;
  readonly warnings: string[] = [];
  readonly linkTypes: number[] = [];

  private readonly dec = new FrameDecoder();
  private readonly services: ServiceTable;
  /** The given localIps, as words (see pcap-decode.ts), or null to infer them. */
  private readonly localIps: WordTable | null;
  private readonly localIpTexts: string[] = [];
  private readonly defaultIface: string;
  private readonly lag: number;
  private readonly maxOpen: number;
  private readonly onFlush: ((records: FlowRecord[]) => void) | null;
  private readonly spill: RowSpill | null;
  private readonly holdRows: number;
  private readonly fold: boolean;
  private readonly ifaceNames: string[] = [];
  private readonly unknown = new Map<number, { packets: number; bytes: number }>();

  // The open-flow tables, one per open minute; `cur` is the current packet's minute, and
  // index, keys, vals and mask are its arrays (the hot path reads them from here).
  private open: MinuteTable[] = [];
  private readonly free: MinuteTable[] = [];
  private cur: MinuteTable;
  private index: Int32Array;
  private keys: Int32Array;
  private vals: Float64Array;
  private mask: number;
  /** Open rows in all tables (bounded by maxOpen). */
  private size = 0;
  private minOpenMinute = Infinity;

  // Finished rows not yet resolved into FlowRecords (same layout as the table).
  private pKeys: Int32Array = new Int32Array(1024 * KW);
  private pVals: Float64Array = new Float64Array(1024 * VW);
  private pN = 0;
  /** Some key may have been flushed twice (late packets, early flush): merge before returning. */
  private mayRepeat = false;

  // Clock: the current packet's minute, the newest minute, the flush cutoff.
  private secLo = 1;
  private secHi = 0;
  private curMinute = 0;
  private maxMinute = -Infinity;
  private cutoff = -Infinity;
  private minSec = Infinity;
  private minNsec = 0;
  private maxSec = -Infinity;
  private maxNsec = 0;

  // Local-address inference (unused when localIps is given).
  private readonly addrs = new WordTable(4);
  private readonly pairs = new WordTable(2);
  private peers: Int32Array = new Int32Array(1024);
  private addrFlags: Uint8Array = new Uint8Array(1024);
  private inferenceDirty = false;
  private inferenceFull = false;
  private readonly scratch4 = new Int32Array(4);
  private readonly scratch2 = new Int32Array(2);
  private readonly v4Names = new Map<number, string>();
  /** The one array resolve packs records into, slice after slice. */
  private readonly packed: PackedFlows = { n: 0, values: [] };
  /** IPv6 texts by their low word; the entry keeps the three high words to check (a cache: a clash replaces). */
  private readonly v6Names = new Map<number, { w0: number; w1: number; w2: number; text: string }>();

  constructor(opts: FlowAggregatorOptions = {}) {
    this.services = opts.servicePorts ? new ServiceTable(opts.servicePorts) : defaultServices();
    this.defaultIface = opts.iface ?? '';
    this.lag = Math.max(0, Math.floor(opts.lagMinutes ?? 2));
    this.maxOpen = Math.max(1024, opts.maxOpenFlows ?? 1 << 16);
    this.onFlush = opts.onFlush ?? null;
    this.spill = opts.spill ?? null;
    this.holdRows = Math.max(1024, opts.holdRows ?? 1 << 16);
    this.fold = opts.fold ?? false;
    if (opts.localIps !== undefined) {
      this.localIps = new WordTable(4, 4);
      for (const ip of opts.localIps) {
        const w = parseIp(ip);
        if (w === null) throw new UserError(`not an IP address: ${JSON.stringify(ip)}`, { code: 'E_BAD_IP', hint: 'local addresses look like 192.0.2.10 or 2001:db8::10' });
        this.localIps.intern(w);
        // The same text form as parsers/common.ts normalizeIp (the tests hold them together).
        if (this.localIps.added) this.localIpTexts.push(formatIp(w[0], w[1], w[2], w[3]));
      }
    } else {
      this.localIps = null;
    }
    this.cur = minuteTable(TABLE_SLOTS);
    this.open.push(this.cur);
    this.index = this.cur.index;
    this.keys = this.cur.keys;
    this.vals = this.cur.vals;
    this.mask = this.cur.index.length - 1;
  }

  // ---- input ----

  iface(desc: CaptureInterface): number {
    this.noteLinkType(desc.linkType);
    if (this.localIps === null) {
      for (const a of desc.addresses) {
        const w = parseIp(a);
        if (w) this.markHost(w[0], w[1], w[2], w[3]);
      }
    }
    return this.handleFor(desc.name ?? this.defaultIface);
  }

  /**
   * One frame from a live capture: `tsMs` UTC ms, `buf` the captured bytes starting at the
   * link-layer header, `origLen` its length on the wire.
   */
  pushPacket(tsMs: number, linkType: number, buf: Uint8Array, origLen: number, iface?: string): void {
    if (this.linkTypes.indexOf(linkType) < 0) this.noteLinkType(linkType);
    const sec = Math.floor(tsMs / 1000);
    const nsec = Math.round((tsMs - sec * 1000) * 1e6);
    this.packet(this.handleFor(iface ?? this.defaultIface), linkType, sec, nsec, buf, 0, buf.length, origLen);
  }

  /** A live capture's clock moved on without packets: flush the minutes that are now complete. */
  advance(nowMs: number): void {
    const sec = Math.floor(nowMs / 1000);
    if (sec < this.secLo || sec >= this.secHi) this.enterMinute(sec);
  }

  packet(handle: number, linkType: number, sec: number, nsec: number, buf: Uint8Array, off: number, capLen: number, origLen: number): void {
    this.packets++;
    this.bytes += origLen;
    if (sec < this.secLo || sec >= this.secHi) this.enterMinute(sec);
    if (sec >= this.maxSec) {
      if (sec > this.maxSec || nsec > this.maxNsec) { this.maxSec = sec; this.maxNsec = nsec; }
    }
    if (sec <= this.minSec) {
      if (sec < this.minSec || nsec < this.minNsec) { this.minSec = sec; this.minNsec = nsec; }
    }
    const d = this.dec;
    d.decode(linkType, buf, off, capLen);

    let meta: number;
    let a0 = 0, a1 = 0, a2 = 0, a3 = 0, b0 = 0, b1 = 0, b2 = 0, b3 = 0, ports = 0;
    let forward = true;
    if (d.kind !== FRAME_NON_IP) {
      const proto = d.proto;
      meta = (handle << 9) | META_IP | proto;
      if (proto !== 6 && proto !== 17 && proto !== 1 && proto !== 58) this.countUnknown(proto, origLen);
      const s0 = d.s0, s1 = d.s1, s2 = d.s2, s3 = d.s3;
      const t0 = d.d0, t1 = d.d1, t2 = d.d2, t3 = d.d3;
      const sp = d.sport, dp = d.dport;
      // Canonical order: the lower (address, port) end is A. Any total order will do.
      if (s3 !== t3) forward = s3 < t3;
      else if (s2 !== t2) forward = s2 < t2;
      else if (s1 !== t1) forward = s1 < t1;
      else if (s0 !== t0) forward = s0 < t0;
      else forward = sp <= dp;
      if (forward) {
        a0 = s0; a1 = s1; a2 = s2; a3 = s3; b0 = t0; b1 = t1; b2 = t2; b3 = t3; ports = (sp << 16) | dp;
      } else {
        a0 = t0; a1 = t1; a2 = t2; a3 = t3; b0 = s0; b1 = s1; b2 = s2; b3 = s3; ports = (dp << 16) | sp;
      }
    } else {
      meta = handle << 9;
      this.countUnknown(d.unknownKey, origLen);
    }
    const minute = this.curMinute;

    let h = Math.imul(minute ^ 0x2545f491, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ meta, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ a3, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ b3, 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ ports, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ a0 ^ (b0 << 7), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ a1 ^ (b1 << 7), 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ a2 ^ (b2 << 7), 0x85ebca6b);
    h ^= h >>> 16;

    const keys = this.keys;
    const index = this.index;
    const mask = this.mask;
    let i = h & mask;
    let row: number;
    for (;;) {
      row = index[i] - 1;
      if (row < 0) {
        row = this.insert(i, minute, meta, a0, a1, a2, a3, b0, b1, b2, b3, ports, forward, d.linkDir);
        break;
      }
      const k = row * KW;
      if (keys[k + 10] === ports && keys[k + 5] === a3 && keys[k + 9] === b3 && keys[k] === minute && keys[k + 1] === meta
        && keys[k + 4] === a2 && keys[k + 8] === b2 && keys[k + 2] === a0 && keys[k + 3] === a1
        && keys[k + 6] === b0 && keys[k + 7] === b1) break;
      i = (i + 1) & mask;
    }
    const v = row * VW;
    const vals = this.vals;
    if (forward) {
      vals[v] += origLen;
      vals[v + 2] += 1;
    } else {
      vals[v + 1] += origLen;
      vals[v + 3] += 1;
    }
  }

  /** A new row in the current minute's table at empty `slot` (found again if the table changes); returns the row. */
  private insert(
    slot: number, minute: number, meta: number,
    a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number,
    ports: number, forward: boolean, linkDir: number,
  ): number {
    if ((meta & META_IP) !== 0 && this.localIps === null) {
      // Cooked captures say which end is this host; the first packet of each flow-minute is asked.
      const hostA = linkDir < 0 ? false : (linkDir === 1) === forward;
      const hostB = linkDir < 0 ? false : !hostA;
      this.noteConversation(a0, a1, a2, a3, b0, b1, b2, b3, hostA, hostB);
    }
    if (this.size + 1 > this.maxOpen) {
      this.mayRepeat = true;
      this.flushBefore(Infinity);
      slot = this.findEmpty(minute, meta, a0, a1, a2, a3, b0, b1, b2, b3, ports);
    } else if ((this.cur.size + 1) * 2 > this.index.length) {
      this.grow();
      slot = this.findEmpty(minute, meta, a0, a1, a2, a3, b0, b1, b2, b3, ports);
    }
    const t = this.cur;
    const row = t.size++;
    const k = row * KW;
    const keys = this.keys;
    keys[k] = minute; keys[k + 1] = meta;
    keys[k + 2] = a0; keys[k + 3] = a1; keys[k + 4] = a2; keys[k + 5] = a3;
    keys[k + 6] = b0; keys[k + 7] = b1; keys[k + 8] = b2; keys[k + 9] = b3;
    keys[k + 10] = ports;
    // The row may hold counters of a row flushed from this (reused) table earlier.
    const v = row * VW;
    const vals = this.vals;
    vals[v] = 0; vals[v + 1] = 0; vals[v + 2] = 0; vals[v + 3] = 0;
    this.index[slot] = row + 1;
    this.size++;
    if (minute < this.minOpenMinute) this.minOpenMinute = minute;
    if (minute < this.cutoff) this.mayRepeat = true;
    return row;
  }

  private static hashKey(keys: Int32Array, k: number): number {
    let h = Math.imul(keys[k] ^ 0x2545f491, 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ keys[k + 1], 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ keys[k + 5], 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ keys[k + 9], 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ keys[k + 10], 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ keys[k + 2] ^ (keys[k + 6] << 7), 0x85ebca6b);
    h = Math.imul(h ^ (h >>> 13) ^ keys[k + 3] ^ (keys[k + 7] << 7), 0x9e3779b1);
    h = Math.imul(h ^ (h >>> 15) ^ keys[k + 4] ^ (keys[k + 8] << 7), 0x85ebca6b);
    return h ^ (h >>> 16);
  }

  private findEmpty(minute: number, meta: number, a0: number, a1: number, a2: number, a3: number,
    b0: number, b1: number, b2: number, b3: number, ports: number): number {
    const k = this.scratchKey;
    k[0] = minute; k[1] = meta; k[2] = a0; k[3] = a1; k[4] = a2; k[5] = a3;
    k[6] = b0; k[7] = b1; k[8] = b2; k[9] = b3; k[10] = ports;
    let i = FlowAggregator.hashKey(k, 0) & this.mask;
    while (this.index[i] !== 0) i = (i + 1) & this.mask;
    return i;
  }

  private readonly scratchKey = new Int32Array(KW);

  /** Double the current minute's table (its rows keep their order). */
  private grow(): void {
    const old = this.cur;
    const t = minuteTable(old.index.length * 2);
    t.minute = old.minute;
    t.keys.set(old.keys.subarray(0, old.size * KW));
    t.vals.set(old.vals.subarray(0, old.size * VW));
    t.size = old.size;
    const index = t.index, mask = index.length - 1;
    for (let r = 0; r < t.size; r++) {
      let i = FlowAggregator.hashKey(t.keys, r * KW) & mask;
      while (index[i] !== 0) i = (i + 1) & mask;
      index[i] = r + 1;
    }
    this.open[this.open.indexOf(old)] = t;
    this.use(t);
  }

  private use(t: MinuteTable): void {
    this.cur = t;
    this.index = t.index;
    this.keys = t.keys;
    this.vals = t.vals;
    this.mask = t.index.length - 1;
  }

  /** Make minute `m`'s table the current one, taking an emptied one for a minute not open yet. */
  private selectMinute(m: number): void {
    if (this.cur.minute === m) return;
    let t: MinuteTable | null = null;
    let w = 0;
    for (const o of this.open) {
      if (o.minute === m) t = o;
      else if (o.size === 0) { this.release(o); continue; }
      this.open[w++] = o;
    }
    this.open.length = w;
    if (t === null) {
      t = this.free.pop() ?? minuteTable(TABLE_SLOTS);
      t.minute = m;
      this.open.push(t);
    }
    this.use(t);
  }

  private release(t: MinuteTable): void {
    if (this.free.length < MAX_FREE_TABLES) this.free.push(t);
  }

  private enterMinute(sec: number): void {
    const m = Math.floor(sec / 60);
    this.curMinute = m;
    this.secLo = m * 60;
    this.secHi = m * 60 + 60;
    if (m > this.maxMinute) {
      this.maxMinute = m;
      const cutoff = m - this.lag;
      if (cutoff > this.cutoff) {
        this.cutoff = cutoff;
        if (this.minOpenMinute < cutoff) this.flushBefore(cutoff);
      }
    }
    this.selectMinute(m);
  }

  /** Move rows of minutes before `cutoff` to the finished rows, and hand them out if asked to. */
  private flushBefore(cutoff: number): void {
    if (this.size > 0) {
      let rows = 0;
      for (const t of this.open) if (t.minute < cutoff) rows += t.size;
      let n = this.pN;
      this.pKeys = growInt32(this.pKeys, (n + rows) * KW);
      this.pVals = growFloat64(this.pVals, (n + rows) * VW);
      const pKeys = this.pKeys, pVals = this.pVals;
      // Oldest minute first, each in the order its rows came (the order does not change the
      // records: resolve sorts them totally).
      const done = this.open.filter((t) => t.minute < cutoff).sort((x, y) => x.minute - y.minute);
      for (const t of done) {
        pKeys.set(t.keys.subarray(0, t.size * KW), n * KW);
        pVals.set(t.vals.subarray(0, t.size * VW), n * VW);
        t.index.fill(0);
        n += t.size;
        this.size -= t.size;
        t.size = 0;
      }
      this.pN = n;
      // The current minute's table stays (empty) as the current one; the others are emptied for reuse.
      let w = 0;
      let minOpen = Infinity;
      for (const t of this.open) {
        if (t.minute < cutoff && t !== this.cur) { this.release(t); continue; }
        if (t.size > 0 && t.minute < minOpen) minOpen = t.minute;
        this.open[w++] = t;
      }
      this.open.length = w;
      this.minOpenMinute = minOpen;
    }
    if (this.onFlush !== null && this.pN > 0) {
      const deliver = this.onFlush;
      this.resolve((p) => deliver(unpackFlows(p)), BATCH_RECORDS);
      this.pN = 0;
    } else if (this.spill !== null && this.pN >= this.holdRows) {
      this.spill.put(this.pKeys, this.pVals, this.pN);
      this.pN = 0;
    }
  }

  // ---- local-address inference ----

  private noteConversation(a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, hostA: boolean, hostB: boolean): void {
    if (this.inferenceFull) return;
    const ia = this.addressId(a0, a1, a2, a3, hostA);
    const ib = this.addressId(b0, b1, b2, b3, hostB);
    if (ia < 0 || ib < 0 || ia === ib) return;
    const p = this.scratch2;
    p[0] = ia < ib ? ia : ib;
    p[1] = ia < ib ? ib : ia;
    if (this.pairs.size >= MAX_PAIRS) return this.inferenceIsFull();
    this.pairs.intern(p);
    if (this.pairs.added) {
      this.peers[ia]++;
      this.peers[ib]++;
      this.inferenceDirty = true;
    }
  }

  private inferenceIsFull(): void {
    this.inferenceFull = true;
    this.warnings.push(`more than ${MAX_ADDRESSES} addresses or ${MAX_PAIRS} address pairs: local-address inference uses the part of the capture before that (pass localIps to be sure)`);
  }

  /** Id of an address in the inference tables, or -1 for group/unspecified addresses. */
  private addressId(w0: number, w1: number, w2: number, w3: number, host: boolean): number {
    if (isGroupOrUnspecified(w0, w1, w2, w3)) return -1;
    const k = this.scratch4;
    k[0] = w0; k[1] = w1; k[2] = w2; k[3] = w3;
    if (this.addrs.size >= MAX_ADDRESSES) {
      const id = this.addrs.find(k);
      if (id < 0) this.inferenceIsFull();
      return id;
    }
    const id = this.addrs.intern(k);
    if (this.addrs.added) {
      this.peers = growInt32(this.peers, id + 1);
      this.addrFlags = growUint8(this.addrFlags, id + 1);
    }
    if (host && (this.addrFlags[id] & ADDR_HOST) === 0) {
      this.addrFlags[id] |= ADDR_HOST;
      this.inferenceDirty = true;
    }
    return id;
  }

  private markHost(w0: number, w1: number, w2: number, w3: number): void {
    this.addressId(w0, w1, w2, w3, true);
  }

  /**
   * THE RULE for which addresses are the server's own, when `localIps` is not given:
   * an address is local if
   *   (a) the capture says so: a pcapng IDB lists it (if_IPv4addr/if_IPv6addr), or a Linux
   *       cooked capture (SLL/SLL2) marks a packet from it as outgoing or to it as incoming; or
   *   (b) it is the centre of a star: it talks to at least 2 distinct peers, and to more
   *       distinct peers than any of its peers does.
   * A capture taken on a server sees the server talk to every client while each client talks
   * to the server alone (a), so the server, its IPv4 and IPv6 addresses alike, is local; a
   * capture on a client likewise makes the client local. Multicast, broadcast and unspecified
   * addresses are never local and do not count as peers. A one-conversation capture has no
   * centre: the port rule in `chooseLocal` decides.
   */
  private refreshInference(): void {
    if (!this.inferenceDirty) return;
    this.inferenceDirty = false;
    const n = this.addrs.size;
    const maxPeerOfPeer = new Int32Array(n);
    const pk = this.pairs.keys;
    for (let p = 0; p < this.pairs.size; p++) {
      const a = pk[2 * p], b = pk[2 * p + 1];
      if (this.peers[b] > maxPeerOfPeer[a]) maxPeerOfPeer[a] = this.peers[b];
      if (this.peers[a] > maxPeerOfPeer[b]) maxPeerOfPeer[b] = this.peers[a];
    }
    for (let a = 0; a < n; a++) {
      const star = this.peers[a] >= 2 && this.peers[a] > maxPeerOfPeer[a];
      this.addrFlags[a] = (this.addrFlags[a] & ADDR_HOST) | ((this.addrFlags[a] & ADDR_HOST) !== 0 || star ? ADDR_LOCAL : 0);
    }
  }

  /** The addresses currently taken as local (given or inferred), for reports and tests. */
  localAddresses(): string[] {
    if (this.localIps !== null) return [...this.localIpTexts];
    this.refreshInference();
    const out: string[] = [];
    const k = this.addrs.keys;
    for (let id = 0; id < this.addrs.size; id++) {
      if (this.addrFlags[id] & ADDR_LOCAL) out.push(formatIp(k[4 * id], k[4 * id + 1], k[4 * id + 2], k[4 * id + 3]));
    }
    return out;
  }

  /** Is this address local (given, or inferred: see refreshInference)? */
  private isLocalAddr(w0: number, w1: number, w2: number, w3: number): boolean {
    if (this.localIps !== null) {
      const k = this.scratch4;
      k[0] = w0; k[1] = w1; k[2] = w2; k[3] = w3;
      return this.localIps.find(k) >= 0;
    }
    const id = this.inferenceId(w0, w1, w2, w3);
    return id >= 0 && (this.addrFlags[id] & ADDR_LOCAL) !== 0;
  }

  /** Distinct peers of an address in the capture so far (0 when localIps is given). */
  private peerCount(w0: number, w1: number, w2: number, w3: number): number {
    const id = this.localIps === null ? this.inferenceId(w0, w1, w2, w3) : -1;
    return id < 0 ? 0 : this.peers[id];
  }

  private inferenceId(w0: number, w1: number, w2: number, w3: number): number {
    if (isGroupOrUnspecified(w0, w1, w2, w3)) return -1;
    const k = this.scratch4;
    k[0] = w0; k[1] = w1; k[2] = w2; k[3] = w3;
    return this.addrs.find(k);
  }

  private ipText(w0: number, w1: number, w2: number, w3: number): string {
    if (w0 === 0 && w1 === 0 && w2 === 0xffff) {
      let s = this.v4Names.get(w3);
      if (s === undefined) {
        if (this.v4Names.size > 100_000) this.v4Names.clear();
        s = formatIp(0, 0, 0xffff, w3);
        this.v4Names.set(w3, s);
      }
      return s;
    }
    // Formatting an IPv6 address (zero-run search, hex groups) cost 5% of a busy capture's ingest.
    const e = this.v6Names.get(w3);
    if (e !== undefined && e.w0 === w0 && e.w1 === w1 && e.w2 === w2) return e.text;
    if (this.v6Names.size > 100_000) this.v6Names.clear();
    const text = formatIp(w0, w1, w2, w3);
    this.v6Names.set(w3, { w0, w1, w2, text });
    return text;
  }

  /**
   * Is end A of finished row `r` the server? In order:
   * 1. exactly one end is local (given `localIps`, else inferred: see refreshInference);
   * 2. exactly one end's port is a service port (services.ts, plus `servicePorts`);
   * 3. the lower port (a server listens on the lower one far more often than not);
   * 4. equal ports (ICMP, or 53↔53): the end with more distinct peers, then end A.
   */
  private chooseLocal(r: number): boolean {
    const K = this.pKeys;
    const k = r * KW;
    const la = this.isLocalAddr(K[k + 2], K[k + 3], K[k + 4], K[k + 5]);
    const lb = this.isLocalAddr(K[k + 6], K[k + 7], K[k + 8], K[k + 9]);
    if (la !== lb) return la;
    const proto = K[k + 1] & 0xff;
    const pa = K[k + 10] >>> 16, pb = K[k + 10] & 0xffff;
    const sa = this.services.isServicePort(proto, pa);
    const sb = this.services.isServicePort(proto, pb);
    if (sa !== sb) return sa;
    if (pa !== pb) return pa < pb;
    return this.peerCount(K[k + 2], K[k + 3], K[k + 4], K[k + 5]) >= this.peerCount(K[k + 6], K[k + 7], K[k + 8], K[k + 9]);
  }

  /**
   * Turn the finished rows into FlowRecords, sorted by minute, interface (in order of first
   * appearance), non-IP first, local address (numerically, IPv4 before IPv6), local port,
   * remote address, remote port, protocol. The sort runs over the numeric rows: comparing
   * strings was the slowest part of a flush.
   */
  private resolve(emit: (records: PackedFlows) => void, sliceSize: number): number {
    this.refreshInference();
    let n = this.pN;
    const K = this.pKeys, V = this.pVals;
    const aLocal = new Uint8Array(n);
    for (let r = 0; r < n; r++) {
      aLocal[r] = (K[r * KW + 1] & META_IP) === 0 || this.chooseLocal(r) ? 1 : 0;
    }
    const folded = this.fold ? this.foldRows(aLocal) : 0;
    const order = new Int32Array(n);
    for (let r = 0; r < n; r++) order[r] = r;
    order.sort((x, y) => {
      const kx = x * KW, ky = y * KW;
      if (K[kx] !== K[ky]) return K[kx] - K[ky];
      // Interface, then non-IP before IP; the protocol comes last.
      if ((K[kx + 1] & ~0xff) !== (K[ky + 1] & ~0xff)) return (K[kx + 1] >>> 8) - (K[ky + 1] >>> 8);
      const lx = aLocal[x] ? kx + 2 : kx + 6, ly = aLocal[y] ? ky + 2 : ky + 6;
      for (let j = 0; j < 4; j++) if (K[lx + j] !== K[ly + j]) return (K[lx + j] >>> 0) - (K[ly + j] >>> 0);
      const px = aLocal[x] ? K[kx + 10] >>> 16 : K[kx + 10] & 0xffff, py = aLocal[y] ? K[ky + 10] >>> 16 : K[ky + 10] & 0xffff;
      if (px !== py) return px - py;
      const rx = aLocal[x] ? kx + 6 : kx + 2, ry = aLocal[y] ? ky + 6 : ky + 2;
      for (let j = 0; j < 4; j++) if (K[rx + j] !== K[ry + j]) return (K[rx + j] >>> 0) - (K[ry + j] >>> 0);
      const qx = aLocal[x] ? K[kx + 10] & 0xffff : K[kx + 10] >>> 16, qy = aLocal[y] ? K[ky + 10] & 0xffff : K[ky + 10] >>> 16;
      if (qx !== qy) return qx - qy;
      if ((K[kx + 1] & 0xff) !== (K[ky + 1] & 0xff)) return (K[kx + 1] & 0xff) - (K[ky + 1] & 0xff);
      // Only a row and its mirror (both ends one address, ports swapped by a fold) get here:
      // ordering them too makes the records independent of the order the rows were flushed in.
      return aLocal[x] - aLocal[y];
    });
    // Folded rows of one key are neighbours now: add each into the first.
    if (folded > 0) {
      let m = 0;
      for (let i = 0; i < n; i++) {
        const r = order[i];
        if (m > 0) {
          const p = order[m - 1];
          if (aLocal[p] === aLocal[r] && sameKey(K, p, r)) {
            for (let j = 0; j < VW; j++) V[p * VW + j] += V[r * VW + j];
            continue;
          }
        }
        order[m++] = r;
      }
      n = m;
    }
    // Records are packed a slice at a time into one reused array, so that a huge flush (a scan:
    // every packet a new flow) never holds more than one slice, and the store gets no objects.
    const slice = Math.min(n, sliceSize);
    if (this.packed.values.length < slice * FLOW_VALUES) this.packed.values = new Array(slice * FLOW_VALUES);
    const out = this.packed.values;
    let o = 0;
    for (let i = 0; i < n; i++) {
      if (o === slice * FLOW_VALUES) {
        this.packed.n = slice;
        emit(this.packed);
        o = 0;
      }
      const r = order[i];
      const k = r * KW, v = r * VW;
      const meta = K[k + 1];
      out[o++] = K[k] * 60_000;
      out[o++] = this.ifaceNames[meta >>> 9];
      if ((meta & META_IP) === 0) {
        out[o++] = 0; out[o++] = ''; out[o++] = 0; out[o++] = ''; out[o++] = 0; out[o++] = 'other';
        out[o++] = V[v] + V[v + 1]; out[o++] = 0; out[o++] = V[v + 2] + V[v + 3]; out[o++] = 0;
        continue;
      }
      const proto = meta & 0xff;
      const a = aLocal[r] === 1;
      const pa = K[k + 10] >>> 16, pb = K[k + 10] & 0xffff;
      const lport = a ? pa : pb;
      const rport = a ? pb : pa;
      const ta = this.ipText(K[k + 2], K[k + 3], K[k + 4], K[k + 5]);
      const tb = this.ipText(K[k + 6], K[k + 7], K[k + 8], K[k + 9]);
      out[o++] = proto;
      out[o++] = a ? ta : tb; out[o++] = lport; out[o++] = a ? tb : ta; out[o++] = rport;
      out[o++] = this.services.classify(proto, lport, rport);
      // A→B is sent by A.
      out[o++] = a ? V[v + 1] : V[v]; out[o++] = a ? V[v] : V[v + 1];
      out[o++] = a ? V[v + 3] : V[v + 2]; out[o++] = a ? V[v + 2] : V[v + 3];
    }
    if (o > 0) {
      this.packed.n = o / FLOW_VALUES;
      emit(this.packed);
    }
    return n;
  }

  /**
   * Fold (set the remote port of the key to 0, or the local one, see FOLD_LOCAL) the finished rows that correlation would judge
   * the same with or without it, so that a scan or a DNS server's clients make one record per
   * minute, remote address and local port instead of one per remote port:
   * - UDP to the server's DNS port (FOLD_ALWAYS): every such flow is attributed as `dns`;
   * - UDP from the server to a remote DNS port (FOLD_LOCAL, the server's resolver asking
   *   upstream): the local port is the random one and is the one folded (0); also `dns`;
   * - a probe (FOLD_PROBE services: `other`, ssh, http, https, by the local port or by neither
   *   port): the server sent nothing and received at most 3 packets, the shape attribute.ts
   *   calls a scan; a folded record holds only such rows, so it is a scan as each of them was.
   * Never folded: mail and VPN ports (sessions are matched to connections by the client's port),
   * rows whose service comes from the remote port (the server as a client, a VPN client's
   * forwarded connection), answered exchanges other than DNS, protocols without ports.
   * Returns how many rows were folded.
   */
  private foldRows(aLocal: Uint8Array): number {
    const K = this.pKeys, V = this.pVals;
    let folded = 0;
    for (let r = 0; r < this.pN; r++) {
      const k = r * KW;
      const meta = K[k + 1];
      if ((meta & META_IP) === 0) continue;
      const proto = meta & 0xff;
      if (proto !== 6 && proto !== 17) continue;
      const a = aLocal[r] === 1;
      const pa = K[k + 10] >>> 16, pb = K[k + 10] & 0xffff;
      const lport = a ? pa : pb, rport = a ? pb : pa;
      if (rport === 0 || lport === 0) continue;
      const how = this.services.foldClass(proto, lport, rport);
      if (how === FOLD_LOCAL) {
        K[k + 10] = a ? rport : rport << 16;
        folded++;
        continue;
      }
      if (how === FOLD_PROBE) {
        // A→B is sent by A: the server's packets are A→B when A is local.
        const v = r * VW;
        const sent = a ? V[v + 2] : V[v + 3], received = a ? V[v + 3] : V[v + 2];
        if (sent !== 0 || received > 3) continue;
      } else if (how !== FOLD_ALWAYS) continue;
      K[k + 10] = a ? lport << 16 : lport;
      folded++;
    }
    return folded;
  }

  /** Merge finished rows with equal keys (only needed after late packets or an early flush). */
  private mergeRepeats(): void {
    const t = new WordTable(KW, 12);
    const K = this.pKeys, V = this.pVals;
    const row = new Int32Array(KW);
    let n = 0;
    const vals = new Float64Array(this.pN * VW);
    for (let r = 0; r < this.pN; r++) {
      row.set(K.subarray(r * KW, r * KW + KW));
      const id = t.intern(row);
      if (t.added) n++;
      for (let j = 0; j < VW; j++) vals[id * VW + j] += V[r * VW + j];
    }
    this.pKeys = t.keys.slice(0, n * KW);
    this.pVals = vals.slice(0, n * VW);
    this.pN = n;
  }

  /**
   * Flush everything. With `onFlush`, the last batch goes there and this returns []; without,
   * this returns every record of the capture, merged and sorted by minute, interface, local
   * end, remote end and protocol.
   */
  finish(): FlowRecord[] {
    const deliver = this.onFlush;
    if (deliver !== null) {
      this.flushBefore(Infinity);
      return [];
    }
    this.flushBefore(Infinity);
    if (this.mayRepeat) this.mergeRepeats();
    let out: FlowRecord[] = [];
    this.resolve((p) => { out = out.length ? out.concat(unpackFlows(p)) : unpackFlows(p); }, Math.max(1, this.pN));
    this.pN = 0;
    return out;
  }

  /**
   * finish() without onFlush, but the records go to `emit` a slice of `sliceSize` at a time,
   * resolved with the same inference as finish() would return them: until then they stay in
   * the compact rows (76 bytes each, in the spill file if one was given) instead of objects
   * (about 300 bytes each with their strings). The capture ingest writes each slice as it
   * comes. Without a spill they come in finish()'s order; with one, in that order chunk by
   * chunk (a chunk is the rows of whole minutes). Returns how many records were emitted.
   */
  finishEach(emit: (records: FlowRecord[]) => void, sliceSize = BATCH_RECORDS): number {
    return this.finishEachPacked((p) => emit(unpackFlows(p)), sliceSize);
  }

  /**
   * finishEach, the records packed (see PackedFlows) into one array that is reused slice after
   * slice: what the capture ingest hands the store, with no object per record.
   */
  finishEachPacked(emit: (records: PackedFlows) => void, sliceSize = BATCH_RECORDS): number {
    if (this.onFlush !== null) throw new Error('finishEach: records already go to onFlush');
    this.flushBefore(Infinity);
    if (this.spill !== null && this.spill.rows > 0) {
      // Chunk by chunk, each sorted and merged on its own: a key flushed twice (a late packet)
      // may come out in two records, which the store adds up as it does records of two runs.
      if (this.pN > 0) this.spill.put(this.pKeys, this.pVals, this.pN);
      this.pN = 0;
      this.pKeys = new Int32Array(0);
      this.pVals = new Float64Array(0);
      let total = 0;
      for (const c of this.spill.read()) {
        this.pKeys = c.keys; this.pVals = c.vals; this.pN = c.rows;
        if (this.mayRepeat) this.mergeRepeats();
        total += this.resolve(emit, sliceSize);
      }
      this.pN = 0;
      return total;
    }
    if (this.mayRepeat) this.mergeRepeats();
    const n = this.pN > 0 ? this.resolve(emit, sliceSize) : 0;
    this.pN = 0;
    return n;
  }

  summary(): CaptureSummary {
    const unknownProtocols: UnknownProtocols = {};
    for (const [k, v] of [...this.unknown.entries()].sort((x, y) => x[0] - y[0])) unknownProtocols[k] = { ...v };
    return {
      packets: this.packets,
      bytes: this.bytes,
      firstTs: this.packets ? this.minSec * 1000 + this.minNsec / 1e6 : null,
      lastTs: this.packets ? this.maxSec * 1000 + this.maxNsec / 1e6 : null,
      truncated: false,
      warnings: [...this.warnings],
      linkTypes: [...this.linkTypes],
      unknownProtocols,
    };
  }

  private countUnknown(key: number, bytes: number): void {
    let u = this.unknown.get(key);
    if (u === undefined) {
      u = { packets: 0, bytes: 0 };
      this.unknown.set(key, u);
    }
    u.packets++;
    u.bytes += bytes;
  }

  private noteLinkType(lt: number): void {
    if (this.linkTypes.indexOf(lt) < 0) this.linkTypes.push(lt);
  }

  private handleFor(name: string): number {
    let h = this.ifaceNames.indexOf(name);
    if (h < 0) {
      h = this.ifaceNames.length;
      this.ifaceNames.push(name);
    }
    return h;
  }
}

/**
 * Aggregate a whole capture (pcap, pcapng, either gzipped) read from `chunks`, e.g.
 * `fs.createReadStream(path)` or `fileChunks(path)`.
 *
 * Without `onFlush`, `flows` holds every record, and local addresses, when not given, are
 * inferred from the whole capture before any record is resolved; memory then grows with the
 * number of flow-minutes (about 120 bytes each until the end). With `onFlush`, records go out
 * in per-minute batches as the capture is read (resolved with what has been learnt so far),
 * `flows` is empty, and memory stays bounded whatever the capture's size.
 */
export async function aggregateCapture(chunks: AsyncIterable<Uint8Array>, opts: FlowAggregatorOptions = {}): Promise<AggregateResult> {
  const agg = new FlowAggregator(opts);
  const read = await readCapture(chunks, agg);
  const flows = agg.finish();
  const s = agg.summary();
  return {
    ...s,
    flows,
    truncated: read.truncated,
    warnings: [...read.warnings, ...s.warnings],
  };
}

/** aggregateCapture over a file (pcap, pcapng, gzipped or not). */
export function aggregateFile(path: string, opts: FlowAggregatorOptions = {}): Promise<AggregateResult> {
  return aggregateCapture(fileChunks(path), opts);
}

/**
 * A file's bytes in 1 MiB chunks read into ONE reused buffer: each chunk is valid until the
 * next is asked for, which is all CaptureReader needs (it copies what it carries over), and
 * it spares the garbage collector a fresh megabyte per read.
 */
export async function* fileChunks(path: string, chunkSize = 1 << 20): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkSize);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, chunkSize, null);
      if (bytesRead === 0) return;
      yield buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}
