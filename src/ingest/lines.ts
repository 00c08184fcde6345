/**
 * The line pipeline for log content: split bytes into lines, parse each, aggregate the
 * high-volume kinds, count everything per source, and hand out batches that end on a
 * line boundary with the byte offset reached.
 *
 * Events leave the pipeline packed in the store's column order (see EVENT_TYPES and RowPacker),
 * a value at a time as each line is parsed, not as objects: a batch is then cheap to hold,
 * cheap to pass from the parse worker to the thread that writes, and cheap to bind. The parsed
 * event objects die young, which keeps the garbage collector out of the way.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import type { LogEvent, ParseContext, Source } from '../events.js';
import { parseAny, nextHint } from '../parsers/index.js';
// Per-packet drops and per-query DNS lines are stored as per-minute aggregates: each source says which.
import { aggregateDetail } from '../sources/index.js';
import { AGG_TYPES, EVENT_TYPES, type PackedRows, RowPacker, type SourceStats, type UnparsedSample } from '../store/index.js';
import { splitAttrs } from '../store/attrs.js';
import { sha1 } from './content.js';
import { lineCheck, MAX_RAW_CHARS } from '../store/evidence-check.js';

/** Lines longer than this are counted as unparsed without being parsed. */
export const MAX_LINE_BYTES = 1 << 20;
/** Content per batch at most (see LinePipeline.due), about 45,000 lines of mail.log. */
const MAX_BATCH_BYTES = 8 << 20;
const MAX_UNPARSED_SAMPLES_PER_BATCH = 50;
/**
 * Event rows per packed segment: about as many as live between two scavenges of the young
 * generation, so that their strings are joined before the collector has to copy them.
 */
const PACK_EVERY = 1000;

export interface LineBatch {
  /** Content bytes consumed by this batch (complete lines only). */
  bytes: number;
  lines: number;
  /** The event rows, packed (EVENT_TYPES), in order. */
  eventsPacked: PackedRows[];
  /** The per-minute aggregate rows, packed (AGG_TYPES). */
  aggsPacked: PackedRows[];
  stats: SourceStats[];
  /** Samples of the lines not understood (a bounded number per batch), for the store. */
  unparsed: UnparsedSample[];
  /** Every line not understood, when the pipeline was asked to collect them (--print-unparsed from a worker). */
  allUnparsed: UnparsedSample[] | null;
  /** Events by source and kind (aggregated lines included), for the run summary. */
  kinds: Map<string, Map<string, number>>;
  /** Every line not understood, by `source\treason` (numbers in the reason as N). */
  reasons: Map<string, number>;
  /** Lines with bytes that are not UTF-8: read with U+FFFD in their place. */
  notUtf8Lines: number;
}

/** A batch with the hash of the content's last bytes before its end (the resume proof). */
export interface ParsedBatch extends LineBatch {
  tailHash: string;
}

export interface UnparsedListener { (u: UnparsedSample): void }

/** The last `size` bytes of the content consumed so far. */
export class TailWindow {
  private buf: Buffer;
  constructor(private readonly size: number, initial: Buffer) {
    this.buf = initial.length > size ? Buffer.from(initial.subarray(initial.length - size)) : Buffer.from(initial);
  }
  add(bytes: Buffer): void {
    if (bytes.length === 0) return;
    if (bytes.length >= this.size) { this.buf = Buffer.from(bytes.subarray(bytes.length - this.size)); return; }
    const joined = Buffer.concat([this.buf, bytes]);
    this.buf = joined.length > this.size ? joined.subarray(joined.length - this.size) : joined;
  }
  hash(): string { return sha1(this.buf); }
}

export interface PipelineOptions {
  /** The file's id in the store, written into every row. */
  fileId: number;
  /** Called for every line not understood, as it is read. */
  onUnparsed?: UnparsedListener | null;
  /** Keep every line not understood in the batch instead (for a caller in another thread). */
  collectUnparsed?: boolean;
  /** Tracks the last bytes consumed, for takeWithTail(). */
  tail?: TailWindow;
  /** The content offset where the first byte pushed sits (the resume offset). */
  startOffset?: number;
  /**
   * Keep evidence by reference (byte offset, length and check of each line in the content)
   * instead of its text: for content that can be read again (a file, not stdin or a pipe).
   */
  byRef?: boolean;
}

/** A per-minute aggregate while its batch is being built. */
interface Agg {
  minute: number; source: string; kind: string; rip: string; lport: number; detail: string;
  count: number; bytes: number; firstTs: number; lastTs: number; lip: string | null;
  sampleLine: number; sampleRaw: string | null; sampleOff: number | null; sampleLen: number | null; sampleCheck: number | null;
}

/** One minute's aggregates: by `source\tkind\tdetail`, remote address and local port. */
type AggsOfMinute = Map<string, Map<string, Map<number, Agg>>>;
type AggIndex = Map<number, AggsOfMinute>;

function countNul(s: string): number {
  let n = 0;
  for (let i = s.indexOf('\0'); i >= 0; i = s.indexOf('\0', i + 1)) n++;
  return n;
}

export class LinePipeline {
  private carry: Buffer | null = null;
  private overlong = 0;
  private hint: Source | null = null;
  private lineNo: number;
  private readonly fileId: number;
  private readonly onUnparsed: UnparsedListener | null;
  private readonly collectUnparsed: boolean;
  private readonly tail: TailWindow | null;
  private batch!: LineBatch;
  private events!: RowPacker;
  /**
   * The batch's aggregates, by minute, then `source\tkind\tdetail`, then remote address, then
   * local port: keys the event already holds. One string key per line, with the minute and
   * the port written out as text, cost about 0.4 µs a line to build and hash (the busy day
   * aggregates 537,000 lines).
   */
  private aggIndex: AggIndex = new Map();
  /** The same aggregates in the order they were first seen (the order they are stored in). */
  private aggs: Agg[] = [];
  /** The minute of the last aggregated line, and its part of aggIndex. */
  private aggMinute = NaN;
  private aggOfMinute: AggsOfMinute | null = null;
  private statIndex = new Map<string, SourceStats>();
  private samplesThisBatch = 0;
  /** The bytes of the line being processed when they are not UTF-8, else null. */
  private lineBytes: Buffer | null = null;
  /** Content offset of the first byte not consumed yet (where `carry`, or the next chunk, starts). */
  private pos: number;
  private readonly byRef: boolean;
  /** The current line's content offset and length in bytes (without its newline). */
  private lineOff = 0;
  private lineLen = 0;

  constructor(private readonly ctx: ParseContext, startLine: number, opts: PipelineOptions) {
    this.lineNo = startLine;
    this.fileId = opts.fileId;
    this.onUnparsed = opts.onUnparsed ?? null;
    this.collectUnparsed = opts.collectUnparsed ?? false;
    this.tail = opts.tail ?? null;
    this.pos = opts.startOffset ?? 0;
    this.byRef = opts.byRef ?? false;
    this.reset();
  }

  private reset(): void {
    this.batch = {
      bytes: 0, lines: 0, eventsPacked: [], aggsPacked: [], stats: [], unparsed: [], allUnparsed: this.collectUnparsed ? [] : null,
      kinds: new Map(), reasons: new Map(), notUtf8Lines: 0,
    };
    this.events = new RowPacker(EVENT_TYPES, PACK_EVERY);
    this.aggIndex = new Map();
    this.aggs = [];
    this.aggMinute = NaN;
    this.aggOfMinute = null;
    this.statIndex = new Map();
    this.samplesThisBatch = 0;
  }

  /** Lines so far in this batch. */
  get pendingLines(): number { return this.batch.lines; }

  /**
   * Is the batch due: `batchLines` lines, or MAX_BATCH_BYTES of content, whichever comes first?
   * The byte bound keeps a batch's memory bounded whatever lines per batch was asked for; where
   * a batch ends changes nothing that is stored.
   */
  due(batchLines: number): boolean {
    return this.batch.lines >= batchLines || this.batch.bytes >= MAX_BATCH_BYTES;
  }

  /** Take the batch built so far and start a new one. */
  take(): LineBatch {
    const b = this.batch;
    if (this.events.rows) b.eventsPacked.push(this.events.done());
    if (this.aggs.length) {
      // The order of AGG_TYPES's columns.
      const p = new RowPacker(AGG_TYPES, this.aggs.length);
      for (const a of this.aggs) {
        p.num(a.minute); p.str(a.source); p.str(a.kind); p.str(a.rip); p.num(a.lport); p.str(a.detail);
        p.num(a.count); p.num(a.bytes); p.num(a.firstTs); p.num(a.lastTs); p.str(a.lip);
        p.num(this.fileId); p.num(a.sampleLine); p.str(a.sampleRaw); p.num(a.sampleOff); p.num(a.sampleLen); p.num(a.sampleCheck);
        p.endRow();
      }
      b.aggsPacked.push(p.done());
    }
    b.stats = [...this.statIndex.values()];
    this.reset();
    return b;
  }

  /** take(), with the hash of the last bytes consumed (needs the `tail` option). */
  takeWithTail(): ParsedBatch {
    if (!this.tail) throw new Error('LinePipeline: takeWithTail() without a tail window');
    const tailHash = this.tail.hash();
    return Object.assign(this.take(), { tailHash });
  }

  /** Consume `bytes` (they end a line, or are part of an overlong one). */
  private consumed(bytes: Buffer): void {
    this.batch.bytes += bytes.length;
    this.pos += bytes.length;
    this.tail?.add(bytes);
  }

  private stat(source: string): SourceStats {
    let s = this.statIndex.get(source);
    if (!s) { s = { source, events: 0, skipped: 0, unparsed: 0 }; this.statIndex.set(source, s); }
    return s;
  }

  private miss(source: string, reason: string, text: string): void {
    this.stat(source).unparsed++;
    const key = source + '\t' + reason.replace(/\d+/g, 'N');
    this.batch.reasons.set(key, (this.batch.reasons.get(key) ?? 0) + 1);
    const u: UnparsedSample = { line: this.lineNo, source, reason, text: text.length > 512 ? text.slice(0, 512) + '…' : text };
    // The bytes as the file held them, when the text is a U+FFFD copy of them.
    if (this.lineBytes) u.raw = this.lineBytes.length > 512 ? this.lineBytes.subarray(0, 512) : this.lineBytes;
    if (this.samplesThisBatch < MAX_UNPARSED_SAMPLES_PER_BATCH) { this.batch.unparsed.push(u); this.samplesThisBatch++; }
    this.batch.allUnparsed?.push(u);
    this.onUnparsed?.(u);
  }

  /** Feed a chunk of content. Only complete lines are consumed; the rest waits for more. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.overlong > 0) {
      const nl = buf.indexOf(10);
      if (nl < 0) { this.overlong += buf.length; this.consumed(buf); return; }
      this.overlong += nl + 1;
      this.consumed(buf.subarray(0, nl + 1));
      this.lineNo++; this.batch.lines++;
      this.miss('other', `line longer than ${MAX_LINE_BYTES} bytes (${this.overlong} bytes); not parsed`, '');
      this.overlong = 0;
      buf = buf.subarray(nl + 1);
    }
    if (this.carry) { buf = Buffer.concat([this.carry, buf]); this.carry = null; }
    const last = buf.lastIndexOf(10);
    if (last < 0) {
      if (buf.length > MAX_LINE_BYTES) {
        this.overlong = buf.length;
        this.consumed(buf);
      } else this.carry = buf;
      return;
    }
    this.processText(buf, 0, last + 1);
    this.consumed(buf.subarray(0, last + 1));
    if (last + 1 < buf.length) {
      const rest = buf.subarray(last + 1);
      if (rest.length > MAX_LINE_BYTES) { this.overlong = rest.length; this.consumed(rest); }
      else this.carry = Buffer.from(rest);
    }
  }

  /** Bytes held back because they do not end in a newline yet. */
  get carried(): number { return this.carry ? this.carry.length : 0; }

  /** End of content: treat an unterminated last line as a line (for finished files). */
  finish(consumePartial: boolean): void {
    if (this.overlong > 0) {
      this.lineNo++; this.batch.lines++;
      this.miss('other', `line longer than ${MAX_LINE_BYTES} bytes (${this.overlong} bytes); not parsed`, '');
      this.overlong = 0;
    }
    if (consumePartial && this.carry && this.carry.length) {
      const c = this.carry;
      this.carry = null;
      // The newline is ours, not the file's: only the line itself is consumed.
      this.processText(Buffer.concat([c, Buffer.from('\n')]), 0, c.length + 1);
      this.consumed(c);
    }
  }

  private processText(buf: Buffer, start: number, end: number): void {
    // Lines over MAX_LINE_BYTES that fit in one chunk are handled line by line below.
    // Logs are nearly always ASCII, and ASCII read as Latin-1 is the same text: a copy, where
    // the UTF-8 decoder has to look at every byte (a vectorised check first, then the copy,
    // took decoding from about 0.16 to 0.07 s of CPU on the busy day's 190 MB).
    const ascii = isAscii(buf.subarray(start, end));
    const text = buf.toString(ascii ? 'latin1' : 'utf8', start, end);
    // Bytes that are not UTF-8 became U+FFFD: then each line's bytes are found too (a newline
    // byte is never part of a multi-byte sequence, so lines match one to one), to count the
    // lines changed and to keep the original bytes of those not understood.
    const replaced = !ascii && text.includes('\uFFFD') && !isUtf8(buf.subarray(start, end));
    // One character per byte (ASCII, or single bad bytes read as U+FFFD): a line's byte offset
    // is its character offset. Otherwise each line's bytes are found by its newline byte.
    const oneToOne = text.length === end - start;
    const base = this.pos;
    let bytePos = start;
    let pos = 0;
    const n = text.length;
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = n;
      let line = text.slice(pos, nl);
      pos = nl + 1;
      this.lineNo++;
      this.batch.lines++;
      this.lineBytes = null;
      if (oneToOne && !replaced) {
        this.lineOff = base + start + pos - line.length - 1;
        this.lineLen = line.length;
      } else {
        let nlByte = buf.indexOf(10, bytePos);
        if (nlByte < 0 || nlByte >= end) nlByte = end;
        this.lineOff = base + bytePos;
        this.lineLen = nlByte - bytePos;
        if (replaced) {
          const bytes = buf.subarray(bytePos, nlByte);
          if (line.includes('\uFFFD') && !isUtf8(bytes)) {
            this.lineBytes = Buffer.from(bytes);
            this.batch.notUtf8Lines++;
          }
        }
        bytePos = nlByte + 1;
      }
      if (line.length && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      if (line.length === 0) { this.stat('other').skipped++; continue; }
      if (line.length > MAX_LINE_BYTES) {
        this.miss('other', `line longer than ${MAX_LINE_BYTES} bytes (${line.length} characters); not parsed`, line.slice(0, 200));
        continue;
      }
      // NUL bytes are not text any log writes: a crash's preallocated block, or binary data.
      if (line.includes('\0')) {
        this.miss('other', `binary content (${countNul(line)} NUL bytes); not parsed`, line);
        continue;
      }
      this.processLine(line);
    }
  }

  private countKind(source: string, kind: string): void {
    let m = this.batch.kinds.get(source);
    if (!m) { m = new Map(); this.batch.kinds.set(source, m); }
    m.set(kind, (m.get(kind) ?? 0) + 1);
  }

  /** Count an event into its per-minute aggregate (see aggIndex). */
  private aggregate(ev: LogEvent, detail: string, raw: string): void {
    const minute = ev.ts - (ev.ts % 60_000);
    let ofMinute = this.aggOfMinute;
    if (minute !== this.aggMinute || ofMinute === null) {
      ofMinute = this.aggIndex.get(minute) ?? null;
      if (ofMinute === null) { ofMinute = new Map(); this.aggIndex.set(minute, ofMinute); }
      this.aggMinute = minute;
      this.aggOfMinute = ofMinute;
    }
    const group = ev.source + '\t' + ev.kind + '\t' + detail;
    let byRip = ofMinute.get(group);
    if (!byRip) { byRip = new Map(); ofMinute.set(group, byRip); }
    const rip = ev.rip ?? '';
    let byPort = byRip.get(rip);
    if (!byPort) { byPort = new Map(); byRip.set(rip, byPort); }
    const lport = ev.lport ?? 0;
    const bytes = (ev.bytesIn ?? 0) + (ev.bytesOut ?? 0);
    const a = byPort.get(lport);
    if (a) {
      a.count++; a.bytes += bytes;
      if (ev.ts < a.firstTs) a.firstTs = ev.ts;
      if (ev.ts > a.lastTs) a.lastTs = ev.ts;
      return;
    }
    const fresh: Agg = {
      minute, source: ev.source, kind: ev.kind, rip, lport, detail, count: 1, bytes,
      firstTs: ev.ts, lastTs: ev.ts, lip: ev.lip, sampleLine: this.lineNo, sampleRaw: this.byRef ? null : raw,
      sampleOff: this.byRef ? this.lineOff : null, sampleLen: this.byRef ? this.lineLen : null, sampleCheck: this.byRef ? lineCheck(raw) : null,
    };
    byPort.set(lport, fresh);
    this.aggs.push(fresh);
  }

  private processLine(line: string): void {
    const d = parseAny(line, this.ctx, this.hint);
    this.hint = nextHint(d, this.hint);
    const r = d.result;
    if (r.type === 'event') {
      const ev = r.event;
      this.stat(ev.source).events++;
      this.countKind(ev.source, ev.kind);
      const raw = line.length > MAX_RAW_CHARS ? line.slice(0, MAX_RAW_CHARS) : line;
      const detail = aggregateDetail(ev);
      if (detail !== null) {
        this.aggregate(ev, detail, raw);
        return;
      }
      // The order of EVENT_TYPES's columns. By reference (byRef): where the line is, and a
      // check that proves a line read back is this one; the check is made only for a row
      // stored, not for every line an aggregate counts.
      const byRef = this.byRef;
      const p = this.events;
      p.num(ev.ts); p.str(ev.source); p.str(ev.host); p.str(ev.program); p.str(ev.kind); p.str(ev.account); p.str(ev.rip);
      p.num(ev.rport); p.str(ev.lip); p.num(ev.lport); p.str(ev.session); p.num(ev.bytesIn); p.num(ev.bytesOut);
      p.num(this.fileId); p.num(this.lineNo);
      if (ev.attrs) { const [shape, values] = splitAttrs(ev.attrs); p.num(p.shape(shape)); p.str(values); } else { p.num(null); p.str(null); }
      if (byRef) { p.str(null); p.num(this.lineOff); p.num(this.lineLen); p.num(lineCheck(raw)); } else { p.str(raw); p.num(null); p.num(null); p.num(null); }
      if (p.endRow()) {
        this.batch.eventsPacked.push(p.done());
        this.events = new RowPacker(EVENT_TYPES, PACK_EVERY);
      }
    } else if (r.type === 'skip') {
      this.stat(d.source).skipped++;
    } else {
      this.miss(d.source, r.reason, line);
    }
  }
}
