/**
 * The line pipeline for log content: split bytes into lines, parse each, aggregate the
 * high-volume kinds, count everything per source, and hand out batches that end on a
 * line boundary with the byte offset reached.
 */
import type { LogEvent, ParseContext, Source } from '../events.js';
import { parseAny } from '../parsers/index.js';
import type { AggInput, SourceStats, StoredEventInput, UnparsedSample } from '../store/index.js';

/** Lines longer than this are counted as unparsed without being parsed. */
export const MAX_LINE_BYTES = 1 << 20;
/** Raw text kept as evidence is cut to this many characters. */
const MAX_RAW_CHARS = 4096;
const MAX_UNPARSED_SAMPLES_PER_BATCH = 50;

export interface LineBatch {
  /** Content bytes consumed by this batch (complete lines only). */
  bytes: number;
  lines: number;
  events: StoredEventInput[];
  aggs: AggInput[];
  stats: SourceStats[];
  unparsed: UnparsedSample[];
  /** Events by source and kind (aggregated lines included), for the run summary. */
  kinds: Map<string, number>;
}

export interface UnparsedListener { (u: UnparsedSample): void }

/** Per-packet drops and per-query DNS lines are stored as per-minute aggregates. */
function aggregateDetail(ev: LogEvent): string | null {
  if (ev.source === 'netfilter') return String(ev.attrs?.proto ?? '') + ':' + ev.kind;
  if ((ev.source === 'bind' || ev.source === 'unbound') && (ev.kind === 'query' || ev.kind === 'reply')) return String(ev.attrs?.qtype ?? '');
  return null;
}

export class LinePipeline {
  private carry: Buffer | null = null;
  private overlong = 0;
  private hint: Source | null = null;
  private lineNo: number;
  private batch!: LineBatch;
  private aggIndex = new Map<string, AggInput>();
  private statIndex = new Map<string, SourceStats>();
  private samplesThisBatch = 0;

  constructor(private readonly ctx: ParseContext, startLine: number, private readonly onUnparsed: UnparsedListener | null) {
    this.lineNo = startLine;
    this.reset();
  }

  private reset(): void {
    this.batch = { bytes: 0, lines: 0, events: [], aggs: [], stats: [], unparsed: [], kinds: new Map() };
    this.aggIndex = new Map();
    this.statIndex = new Map();
    this.samplesThisBatch = 0;
  }

  /** Lines so far in this batch. */
  get pendingLines(): number { return this.batch.lines; }

  /** Take the batch built so far and start a new one. */
  take(): LineBatch {
    const b = this.batch;
    b.aggs = [...this.aggIndex.values()];
    b.stats = [...this.statIndex.values()];
    this.reset();
    return b;
  }

  private stat(source: string): SourceStats {
    let s = this.statIndex.get(source);
    if (!s) { s = { source, events: 0, skipped: 0, unparsed: 0 }; this.statIndex.set(source, s); }
    return s;
  }

  private miss(source: string, reason: string, text: string): void {
    this.stat(source).unparsed++;
    const u: UnparsedSample = { line: this.lineNo, source, reason, text: text.length > 512 ? text.slice(0, 512) + '…' : text };
    if (this.samplesThisBatch < MAX_UNPARSED_SAMPLES_PER_BATCH) { this.batch.unparsed.push(u); this.samplesThisBatch++; }
    this.onUnparsed?.(u);
  }

  /** Feed a chunk of content. Only complete lines are consumed; the rest waits for more. */
  push(chunk: Buffer): void {
    let buf = chunk;
    if (this.overlong > 0) {
      const nl = buf.indexOf(10);
      if (nl < 0) { this.overlong += buf.length; this.batch.bytes += buf.length; return; }
      this.overlong += nl + 1;
      this.batch.bytes += nl + 1;
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
        this.batch.bytes += buf.length;
      } else this.carry = buf;
      return;
    }
    this.processText(buf, 0, last + 1);
    if (last + 1 < buf.length) {
      const rest = buf.subarray(last + 1);
      if (rest.length > MAX_LINE_BYTES) { this.overlong = rest.length; this.batch.bytes += rest.length; }
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
      const withNl = Buffer.concat([c, Buffer.from('\n')]);
      this.processText(withNl, 0, withNl.length);
      this.batch.bytes -= 1; // the newline was ours, not the file's
    }
  }

  private processText(buf: Buffer, start: number, end: number): void {
    // Lines over MAX_LINE_BYTES that fit in one chunk are handled line by line below.
    const text = buf.toString('utf8', start, end);
    this.batch.bytes += end - start;
    let pos = 0;
    const n = text.length;
    while (pos < n) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = n;
      let line = text.slice(pos, nl);
      pos = nl + 1;
      this.lineNo++;
      this.batch.lines++;
      if (line.length && line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1);
      if (line.length === 0) { this.stat('other').skipped++; continue; }
      if (line.length > MAX_LINE_BYTES) {
        this.miss('other', `line longer than ${MAX_LINE_BYTES} bytes (${line.length} characters); not parsed`, line.slice(0, 200));
        continue;
      }
      this.processLine(line);
    }
  }

  private processLine(line: string): void {
    const d = parseAny(line, this.ctx, this.hint);
    const r = d.result;
    if (r.type === 'event') {
      const ev = r.event;
      if (d.source !== 'other') this.hint = d.source;
      this.stat(ev.source).events++;
      const kk = ev.source + '\t' + ev.kind;
      this.batch.kinds.set(kk, (this.batch.kinds.get(kk) ?? 0) + 1);
      const detail = aggregateDetail(ev);
      if (detail !== null) {
        const minute = ev.ts - (ev.ts % 60_000);
        const rip = ev.rip ?? '';
        const lport = ev.lport ?? 0;
        const key = minute + '\t' + ev.source + '\t' + ev.kind + '\t' + rip + '\t' + lport + '\t' + detail;
        const bytes = (ev.bytesIn ?? 0) + (ev.bytesOut ?? 0);
        const a = this.aggIndex.get(key);
        if (a) {
          a.count++; a.bytes += bytes;
          if (ev.ts < a.firstTs) a.firstTs = ev.ts;
          if (ev.ts > a.lastTs) a.lastTs = ev.ts;
        } else {
          this.aggIndex.set(key, {
            minute, source: ev.source, kind: ev.kind, rip, lport, detail, count: 1, bytes,
            firstTs: ev.ts, lastTs: ev.ts, lip: ev.lip, sampleLine: this.lineNo,
            sampleRaw: line.length > MAX_RAW_CHARS ? line.slice(0, MAX_RAW_CHARS) : line,
          });
        }
        return;
      }
      this.batch.events.push({ ev, line: this.lineNo, raw: line.length > MAX_RAW_CHARS ? line.slice(0, MAX_RAW_CHARS) : line });
    } else if (r.type === 'skip') {
      // A deliberate skip still tells which program writes this file (OpenVPN's own log).
      if (d.source !== 'other') this.hint = d.source;
      this.stat(d.source).skipped++;
    } else {
      this.miss(d.source, r.reason, line);
    }
  }
}
