/**
 * `ingest`: read files into the store, incrementally and idempotently.
 *
 * A file is remembered by a fingerprint of its first bytes (decompressed), so a rotated,
 * renamed or gzipped copy of content already read resumes where the last run stopped.
 * A resume point is trusted only when the bytes just before it hash to what was stored.
 * Each batch of events is committed together with the new offset, so a run killed at any
 * moment and started again ends with exactly the counts of one clean run.
 */
import { statSync } from 'node:fs';
import type { ParseContext } from '../events.js';
import { InputError } from '../errors.js';
import type { FileKind, FileRecord, Store, UnparsedSample } from '../store/index.js';
import { FP_MAX, openContent, type OpenedContent, sha1, TAIL_BYTES, TruncatedInputError } from './content.js';
import { expandInputs } from './inputs.js';
import { LinePipeline } from './lines.js';
import { sniffContent } from './sniff.js';

export interface IngestOptions {
  /** Zone for local timestamps. */
  tz: string;
  /** "Now", for stdin's reference time and for deciding whether a file is still being written. */
  now: number;
  bootTime?: number | null;
  /** Called for every line not understood (for --print-unparsed). */
  onUnparsed?: ((u: UnparsedSample & { path: string }) => void) | null;
  /** Progress callback: bytes read so far and total bytes expected (0 when unknown). */
  onProgress?: ((done: number, total: number) => void) | null;
  /** Lines per committed batch. */
  batchLines?: number;
  /** Read an unterminated last line only when the file has not changed for this long (ms). */
  settleMs?: number;
  /** The server's own addresses, for captures (else inferred from each capture). */
  localIps?: string[];
  /** Extra service ports for flow classification, e.g. `{ openvpn: [1195] }`. */
  servicePorts?: Record<string, number[]>;
  /** Handlers for non-log kinds (captures, snapshots), registered by the flows stage. */
  handlers?: Partial<Record<Exclude<FileKind, 'log'>, KindHandler>>;
  /** Stop after the batch being built is committed (`watch` on SIGTERM); the file resumes there next time. */
  signal?: AbortSignal;
}

/** Reads one non-log file kind into the store; returns what it stored. */
export type KindHandler = (store: Store, content: OpenedContent, file: FileRecord, startOffset: number, opts: IngestOptions) =>
  Promise<{ records: number; bytesRead: number; newOffset: number; warnings: string[]; label: string }>;

export interface FileReport {
  path: string;
  kind: FileKind | 'binary' | 'empty' | 'error';
  lines: number;
  events: number;
  resumedAt: number;
  message?: string;
}

export interface IngestSummary {
  files: number;
  lines: number;
  bytes: number;
  events: Record<string, number>;
  unparsed: Record<string, number>;
  skipped: Record<string, number>;
  kinds: Record<string, Record<string, number>>;
  records: Record<string, number>;
  warnings: string[];
  errors: string[];
  samples: Record<string, Array<{ path: string; line: number; reason: string; text: string }>>;
  perFile: FileReport[];
  durationMs: number;
}

const SAMPLES_PER_SOURCE = 3;
const MISMATCH = '\0mismatch';

/** Find the stored stream this content continues, if any; create one otherwise. */
function identify(store: Store, c: OpenedContent, kind: FileKind, forceNew: boolean): { file: FileRecord; fresh: boolean } {
  const fpLen = Math.min(c.head.length, FP_MAX);
  const fpHash = sha1(c.head.subarray(0, fpLen));
  const candidates = store.filesByFingerprint(fpHash, fpLen);
  for (const len of store.smallFingerprintLengths(fpLen, kind)) {
    candidates.push(...store.filesByFingerprint(sha1(c.head.subarray(0, len)), len));
  }
  candidates.sort((a, b) => b.offset - a.offset);
  const stat = c.stat;
  const path = c.stdin ? '(stdin)' : c.path;
  for (const f of candidates) {
    if (forceNew || f.kind !== kind) continue;
    // A plain file shorter than what was read cannot be the same stream (copytruncate rewrote it).
    if (stat && !c.compressed && stat.size < f.offset) continue;
    store.touchFile({ id: f.id, path, dev: stat?.dev ?? null, ino: stat?.ino ?? null, fpHash, fpLen, size: stat?.size ?? null, mtime: stat?.mtime ?? null });
    return { file: { ...f, fpHash, fpLen }, fresh: false };
  }
  const file = store.createFile({ path, dev: stat?.dev ?? null, ino: stat?.ino ?? null, fpHash, fpLen, kind, size: stat?.size ?? null, mtime: stat?.mtime ?? null });
  return { file, fresh: true };
}

/** Yield content from `offset`, first proving that the TAIL_BYTES before it hash to `tailHash`. */
async function* verifiedFrom(c: OpenedContent, offset: number, tailHash: string | null, onMismatch: () => void, onTail: (tail: Buffer) => void): AsyncGenerator<Buffer> {
  if (offset === 0) { yield* c.from(0); return; }
  const start = Math.max(0, offset - TAIL_BYTES);
  let need = offset - start;
  const tail: Buffer[] = [];
  let verified = false;
  for await (let chunk of c.from(start)) {
    if (!verified) {
      if (chunk.length < need) { tail.push(chunk); need -= chunk.length; continue; }
      tail.push(chunk.subarray(0, need));
      chunk = chunk.subarray(need);
      verified = true;
      const t = Buffer.concat(tail);
      if (tailHash !== null && sha1(t) !== tailHash) { onMismatch(); return; }
      onTail(t);
    }
    if (chunk.length) yield chunk;
  }
  if (!verified) onMismatch();
}

function emptySummary(): IngestSummary {
  return { files: 0, lines: 0, bytes: 0, events: {}, unparsed: {}, skipped: {}, kinds: {}, records: {}, warnings: [], errors: [], samples: {}, perFile: [], durationMs: 0 };
}

export async function ingestPaths(store: Store, args: string[], opts: IngestOptions): Promise<IngestSummary> {
  const t0 = Date.now();
  const summary = emptySummary();
  const { files, problems } = expandInputs(args);
  for (const p of problems) summary.errors.push(p.message);
  let totalBytes = 0;
  for (const f of files) if (f !== '-') { try { totalBytes += statSync(f).size; } catch { /* reported later */ } }
  let doneBytes = 0;
  for (const path of files) {
    const before = doneBytes;
    try {
      const rep = await ingestFile(store, path, opts, summary, (n) => { doneBytes = before + n; opts.onProgress?.(doneBytes, totalBytes); });
      summary.perFile.push(rep);
      if (rep.kind !== 'error') summary.files++;
      if (rep.message && rep.kind !== 'error') summary.warnings.push(rep.message);
    } catch (err) {
      if (err instanceof InputError) {
        summary.errors.push(err.message);
        summary.perFile.push({ path, kind: 'error', lines: 0, events: 0, resumedAt: 0, message: err.message });
      } else throw err;
    }
  }
  summary.durationMs = Date.now() - t0;
  return summary;
}

/**
 * One file into the store, as `watch` reads it on every change. `shownAs` is the name recorded
 * and reported when `path` is a descriptor link (/proc/self/fd/N) that keeps a renamed or
 * deleted file readable.
 */
export async function ingestOneFile(store: Store, path: string, opts: IngestOptions, shownAs?: string): Promise<{ report: FileReport; summary: IngestSummary }> {
  const t0 = Date.now();
  const summary = emptySummary();
  let report: FileReport;
  try {
    report = await ingestFile(store, path, opts, summary, () => undefined, shownAs);
    if (report.kind !== 'error') summary.files++;
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    report = { path: shownAs ?? path, kind: 'error', lines: 0, events: 0, resumedAt: 0, message: err.message };
    summary.errors.push(err.message);
  }
  summary.perFile.push(report);
  summary.durationMs = Date.now() - t0;
  return { report, summary };
}

function add(rec: Record<string, number>, key: string, n: number): void {
  if (n) rec[key] = (rec[key] ?? 0) + n;
}

async function ingestFile(store: Store, path: string, opts: IngestOptions, summary: IngestSummary, progress: (bytes: number) => void, shownAs?: string): Promise<FileReport> {
  const first = await ingestFileOnce(store, path, opts, summary, progress, false, shownAs);
  if (first.message !== MISMATCH) return first;
  // Same first bytes as a stream already read, but different content at its resume point:
  // this is another stream (a file rewritten from scratch). Read it from the start as new.
  if (path === '-') return { ...first, message: '(stdin): content resembles an earlier input but differs; not read (save it to a file and ingest that)' };
  return ingestFileOnce(store, path, opts, summary, progress, true, shownAs);
}

async function ingestFileOnce(store: Store, path: string, opts: IngestOptions, summary: IngestSummary, progress: (bytes: number) => void, forceNew: boolean, shownAs?: string): Promise<FileReport> {
  const c = await openContent(path);
  if (shownAs !== undefined) c.path = shownAs;
  const shown = c.stdin ? '(stdin)' : c.path;
  try {
    const sniffed = sniffContent(c.head);
    if (sniffed.kind === 'empty') return { path: shown, kind: 'empty', lines: 0, events: 0, resumedAt: 0 };
    if (sniffed.kind === 'binary') {
      return { path: shown, kind: 'binary', lines: 0, events: 0, resumedAt: 0, message: `${shown}: binary data, not a log, capture or status file (${sniffed.why}); skipped` };
    }
    const { file } = identify(store, c, sniffed.kind, forceNew);
    if (sniffed.kind !== 'log') {
      const handler = opts.handlers?.[sniffed.kind];
      if (!handler) return { path: shown, kind: sniffed.kind, lines: 0, events: 0, resumedAt: 0, message: `${shown}: ${sniffed.kind} files are not read by this build; skipped` };
      const r = await handler(store, c, file, file.offset, opts);
      add(summary.records, r.label, r.records);
      summary.bytes += r.bytesRead;
      summary.warnings.push(...r.warnings.map((w) => `${shown}: ${w}`));
      return { path: shown, kind: sniffed.kind, lines: 0, events: r.records, resumedAt: file.offset };
    }
    return await ingestLog(store, c, file, opts, summary, progress);
  } finally {
    c.close();
  }
}

async function ingestLog(store: Store, c: OpenedContent, file: FileRecord, opts: IngestOptions, summary: IngestSummary, progress: (bytes: number) => void): Promise<FileReport> {
  const shown = c.stdin ? '(stdin)' : c.path;
  const ctx: ParseContext = { tz: opts.tz, refTime: c.stat ? Math.max(c.stat.mtime, 0) : opts.now, bootTime: opts.bootTime ?? null };
  const batchLines = opts.batchLines ?? 50_000;
  let offset = file.offset;
  let lines = file.lines;
  let tailWindow: Buffer = Buffer.alloc(0);
  let mismatch = false;
  let lost = false;
  let warning: string | undefined;
  const resumedAt = offset;
  let eventsHere = 0;
  const onUnparsed = opts.onUnparsed ? (u: UnparsedSample) => opts.onUnparsed!({ ...u, path: shown }) : null;
  const pipe = new LinePipeline(ctx, lines, onUnparsed);

  // Bytes consumed by the pipeline are tracked to keep the last TAIL_BYTES for the resume proof.
  const pendingBytes: Buffer[] = [];
  const commit = () => {
    const b = pipe.take();
    if (b.bytes === 0 && b.lines === 0) return;
    // The content consumed by this batch is the first b.bytes of what was pushed since the last commit.
    const consumed = Buffer.concat(pendingBytes);
    pendingBytes.length = 0;
    const used = consumed.subarray(0, b.bytes);
    const leftover = consumed.subarray(b.bytes);
    if (leftover.length) pendingBytes.push(Buffer.from(leftover));
    tailWindow = Buffer.concat([tailWindow, used]);
    if (tailWindow.length > TAIL_BYTES) tailWindow = Buffer.from(tailWindow.subarray(tailWindow.length - TAIL_BYTES));
    const newOffset = offset + b.bytes;
    const ok = store.commitBatch({
      fileId: file.id, expectOffset: offset, newOffset, newLines: lines + b.lines, tailHash: sha1(tailWindow),
      events: b.events, aggs: b.aggs, stats: b.stats, unparsed: b.unparsed,
    });
    if (!ok) { lost = true; return; }
    offset = newOffset;
    lines += b.lines;
    summary.lines += b.lines;
    summary.bytes += b.bytes;
    for (const st of b.stats) {
      add(summary.events, st.source, st.events);
      add(summary.unparsed, st.source, st.unparsed);
      add(summary.skipped, st.source, st.skipped);
      eventsHere += st.events;
    }
    for (const [k, n] of b.kinds) {
      const [src, kind] = k.split('\t');
      (summary.kinds[src] ??= {})[kind] = (summary.kinds[src]?.[kind] ?? 0) + n;
    }
    for (const u of b.unparsed) {
      const list = (summary.samples[u.source] ??= []);
      if (list.length < SAMPLES_PER_SOURCE) list.push({ path: shown, line: u.line, reason: u.reason, text: u.text });
    }
  };

  // The tail window starts with the verified bytes just before the resume offset.
  const stream = verifiedFrom(c, offset, file.tailHash, () => { mismatch = true; }, (t) => { tailWindow = t; });
  let truncated = false;
  let stopped = false;
  try {
    let read = 0;
    for await (const chunk of stream) {
      pendingBytes.push(chunk);
      pipe.push(chunk);
      read += chunk.length;
      progress(read);
      if (pipe.pendingLines >= batchLines) { commit(); if (lost) break; if (opts.signal?.aborted) { stopped = true; break; } }
    }
  } catch (err) {
    if (err instanceof TruncatedInputError) { truncated = true; warning = `${shown}: ${err.message}; kept the ${lines + pipe.pendingLines - file.lines} lines before the cut`; }
    else throw new InputError(`cannot read ${shown}: ${(err as Error).message}`);
  }
  if (mismatch) return { path: shown, kind: 'log', lines: 0, events: 0, resumedAt, message: MISMATCH };
  if (!lost) {
    const settled = c.compressed || c.stdin || truncated || !c.stat || opts.now - c.stat.mtime >= (opts.settleMs ?? 2000);
    // A stop leaves the read mid-file: what is carried is a line cut by the chunk, not the last line.
    pipe.finish(settled && !truncated && !stopped);
    commit();
  }
  if (lost) warning = `${shown}: another bytetrail process is reading this file; left the rest to it`;
  return { path: shown, kind: 'log', lines: lines - file.lines, events: eventsHere, resumedAt, message: warning };
}
