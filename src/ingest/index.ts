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
import { resolve } from 'node:path';
import type { ParseContext } from '../events.js';
import { InputError } from '../errors.js';
import { COUNTER_SOURCES } from '../sources/counters.js';
import type { FileKind, FileRecord, LossInput, UnparsedSample } from '../store/index.js';
import type { WriteStore } from '../store/write.js';
import { FP_MAX, openContent, type OpenedContent, sha1, TAIL_BYTES, TruncatedInputError } from './content.js';
import { expandInputs, isRotatedName } from './inputs.js';
import { InlineSession, type ParsedBatch, type ParseSession, ParseWorkerHost, type SessionOptions } from './parse-session.js';
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
  /**
   * Parse in a worker thread while this one writes: `auto` (default) for inputs of a few MB and
   * more, `always`, or `never`. What is stored is the same either way.
   */
  parseInWorker?: 'auto' | 'always' | 'never';
  /**
   * Read an unterminated last line only when the file has not changed for this long (ms): for
   * `watch`, which knows when a file is drained. Without it (one-shot `ingest`) such a line is
   * read only from a file closed for good: a rotated name (mail.log.1, .gz), a pipe that ended,
   * or every file with `final`. Otherwise it is kept for the next run, when its writer has
   * finished it: read early, the rest would become a line of its own.
   */
  settleMs?: number;
  /** Every file is finished (`ingest --final`): read unterminated last lines too. */
  final?: boolean;
  /** Told once when opening an input waits (a FIFO with no writer yet). */
  onWait?: ((message: string) => void) | null;
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
export type KindHandler = (store: WriteStore, content: OpenedContent, file: FileRecord, startOffset: number, opts: IngestOptions) =>
  Promise<{ records: number; bytesRead: number; newOffset: number; warnings: string[]; label: string }>;

export interface FileReport {
  path: string;
  kind: FileKind | 'binary' | 'empty' | 'error';
  lines: number;
  events: number;
  resumedAt: number;
  message?: string;
  /** Read from a pipe (stdin, a FIFO): it cannot be opened again. */
  stream?: boolean;
}

export interface IngestSummary {
  files: number;
  lines: number;
  bytes: number;
  events: Record<string, number>;
  unparsed: Record<string, number>;
  skipped: Record<string, number>;
  /** Unterminated last lines left for the next run (see IngestOptions.settleMs). */
  heldBack: { files: number; bytes: number };
  /** What this run could not read as it was, per file and reason (also kept in the store for status). */
  losses: LossInput[];
  kinds: Record<string, Record<string, number>>;
  records: Record<string, number>;
  warnings: string[];
  errors: string[];
  samples: Record<string, Array<{ path: string; line: number; reason: string; text: string }>>;
  perFile: FileReport[];
  durationMs: number;
}

const SAMPLES_PER_SOURCE = 3;
/** Reasons recorded in the store's losses (status shows them). */
export const LOSS_BINARY = 'binary file, not read';
export const LOSS_NOT_UTF8 = 'lines with bytes that are not UTF-8, stored with U+FFFD in their place';
export const LOSS_TRUNCATED = 'truncated before it was read, with no rotated copy';
export const LOSS_ROTATED_AWAY = 'rotated away more than once while watch was stopped, and no rotated copy holds it';
const SNAPSHOT_KINDS: ReadonlySet<FileKind> = new Set(['conntrack', 'vnstat', ...COUNTER_SOURCES.map((c) => c.kind)]);
const MISMATCH = '\0mismatch';
/**
 * Lines per batch (and per transaction). 20,000 cost no more than 50,000; 10,000 costs no more
 * than 20,000 either, and every batch alive at once (parsed, queued, being written) is half the
 * size: with MAX_IN_FLIGHT at 4 MB it took about 30 MB off the peak RSS of a busy day's ingest.
 */
const DEFAULT_BATCH_LINES = 10_000;
/** Below this much to read, parsing in this thread beats starting a worker. */
const WORKER_MIN_BYTES = 4 << 20;

/**
 * Find the stored stream this content continues, if any; create one otherwise. The look-up and
 * the insert are one write transaction, and the file's first bytes and size are taken again
 * inside it: another process may have stored this stream, and read further than this one's
 * head, while this one waited. Two processes then agree on one `files` row per stream.
 */
function identify(store: WriteStore, c: OpenedContent, kind: FileKind, forceNew: boolean): { file: FileRecord; fresh: boolean } {
  return store.withWriteLock(() => identifyLocked(store, c, kind, forceNew));
}

function identifyLocked(store: WriteStore, c: OpenedContent, kind: FileKind, forceNew: boolean): { file: FileRecord; fresh: boolean } {
  const { head, size } = c.current(FP_MAX);
  const fpLen = Math.min(head.length, FP_MAX);
  const fpHash = sha1(head.subarray(0, fpLen));
  const stat = c.stat;
  const path = c.stdin ? '(stdin)' : c.path;
  const seenAs = { path, dev: stat?.dev ?? null, ino: stat?.ino ?? null, fpHash, fpLen, size, mtime: stat?.mtime ?? null };
  const reuse = (f: FileRecord) => {
    store.touchFile({ id: f.id, ...seenAs });
    return { file: { ...f, fpHash, fpLen }, fresh: false };
  };
  // A counter snapshot (status file, conntrack listing, vnstat export) is rewritten in place
  // every few seconds, first line included: it is one stream per path, not a new file each
  // time. (Snapshots are known by their content hash; the row only says where they came from.)
  if (SNAPSHOT_KINDS.has(kind) && !c.stream) {
    const f = store.latestFileAt(path, kind);
    if (f) return reuse(f);
  }
  const candidates = store.filesByFingerprint(fpHash, fpLen);
  for (const len of store.smallFingerprintLengths(fpLen, kind)) {
    candidates.push(...store.filesByFingerprint(sha1(head.subarray(0, len)), len));
  }
  candidates.sort((a, b) => b.offset - a.offset);
  for (const f of candidates) {
    if (forceNew || f.kind !== kind) continue;
    // A plain file shorter than what was read cannot be the same stream (copytruncate rewrote it).
    if (size !== null && !c.compressed && size < f.offset) continue;
    return reuse(f);
  }
  return { file: store.createFile({ ...seenAs, kind }), fresh: true };
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
  return { files: 0, lines: 0, bytes: 0, events: {}, unparsed: {}, skipped: {}, heldBack: { files: 0, bytes: 0 }, losses: [], kinds: {}, records: {}, warnings: [], errors: [], samples: {}, perFile: [], durationMs: 0 };
}

export async function ingestPaths(store: WriteStore, args: string[], opts: IngestOptions): Promise<IngestSummary> {
  const t0 = Date.now();
  const summary = emptySummary();
  const expanded = expandInputs(args);
  const { problems } = expanded;
  // `ingest DIR` with the database inside DIR: its own files are not input (a -wal holds copies of log lines).
  const own = new Set(['', '-wal', '-shm', '-journal'].map((s) => resolve(store.path + s)));
  const files = expanded.files.filter((f) => f === '-' || !own.has(resolve(f)));
  for (const p of problems) summary.errors.push(p.message);
  let totalBytes = 0;
  for (const f of files) if (f !== '-') { try { totalBytes += statSync(f).size; } catch { /* reported later */ } }
  let doneBytes = 0;
  const untune = store.tuneForBulkWrites();
  const workers = new ParseWorkerHost();
  try {
    for (const path of files) {
      const before = doneBytes;
      try {
        const rep = await ingestFile(store, path, opts, summary, (n) => { doneBytes = before + n; opts.onProgress?.(doneBytes, totalBytes); }, workers);
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
  } finally {
    untune();
    await workers.close();
  }
  summary.durationMs = Date.now() - t0;
  return summary;
}

/**
 * One file into the store, as `watch` reads it on every change. `shownAs` is the name recorded
 * and reported when `path` is a descriptor link (/proc/self/fd/N) that keeps a renamed or
 * deleted file readable.
 */
export async function ingestOneFile(store: WriteStore, path: string, opts: IngestOptions, shownAs?: string): Promise<{ report: FileReport; summary: IngestSummary }> {
  const t0 = Date.now();
  const summary = emptySummary();
  let report: FileReport;
  const workers = new ParseWorkerHost();
  try {
    report = await ingestFile(store, path, opts, summary, () => undefined, workers, shownAs);
    if (report.kind !== 'error') summary.files++;
    if (report.message && report.kind !== 'error') summary.warnings.push(report.message);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    report = { path: shownAs ?? path, kind: 'error', lines: 0, events: 0, resumedAt: 0, message: err.message };
    summary.errors.push(err.message);
  } finally {
    await workers.close();
  }
  summary.perFile.push(report);
  summary.durationMs = Date.now() - t0;
  return { report, summary };
}

function add(rec: Record<string, number>, key: string, n: number): void {
  if (n) rec[key] = (rec[key] ?? 0) + n;
}

async function ingestFile(store: WriteStore, path: string, opts: IngestOptions, summary: IngestSummary, progress: (bytes: number) => void, workers: ParseWorkerHost, shownAs?: string): Promise<FileReport> {
  const first = await ingestFileOnce(store, path, opts, summary, progress, false, workers, shownAs);
  if (first.message !== MISMATCH) return first;
  // Same first bytes as a stream already read, but different content at its resume point:
  // this is another stream (a file rewritten from scratch). Read it from the start as new.
  // A pipe cannot be read again.
  if (first.stream) return { ...first, message: `${first.path}: content resembles an earlier input but differs; not read (save it to a file and ingest that)` };
  return ingestFileOnce(store, path, opts, summary, progress, true, workers, shownAs);
}

async function ingestFileOnce(store: WriteStore, path: string, opts: IngestOptions, summary: IngestSummary, progress: (bytes: number) => void, forceNew: boolean, workers: ParseWorkerHost, shownAs?: string): Promise<FileReport> {
  const c = await openContent(path, opts.onWait);
  if (shownAs !== undefined) c.path = shownAs;
  const shown = c.stdin ? '(stdin)' : c.path;
  try {
    const sniffed = sniffContent(c.head);
    if (sniffed.kind === 'empty') return { path: shown, kind: 'empty', lines: 0, events: 0, resumedAt: 0 };
    if (sniffed.kind === 'binary') {
      // Counted once per path (set, not added: the same file is judged again on every run).
      const loss = { path: shown, reason: LOSS_BINARY, lines: 0, bytes: c.stat?.size ?? c.head.length };
      if (!c.stream) store.setLoss(loss);
      summary.losses.push(loss);
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
    return { ...(await ingestLog(store, c, file, opts, summary, progress, workers)), stream: c.stream };
  } finally {
    await c.close();
  }
}

async function ingestLog(store: WriteStore, c: OpenedContent, file: FileRecord, opts: IngestOptions, summary: IngestSummary, progress: (bytes: number) => void, workers: ParseWorkerHost | null): Promise<FileReport> {
  const shown = c.stdin ? '(stdin)' : c.path;
  const ctx: ParseContext = { tz: opts.tz, refTime: c.stat ? Math.max(c.stat.mtime, 0) : opts.now, bootTime: opts.bootTime ?? null };
  const batchLines = opts.batchLines ?? DEFAULT_BATCH_LINES;
  let offset = file.offset;
  let lines = file.lines;
  let mismatch = false;
  let lost = false;
  let warning: string | undefined;
  const resumedAt = offset;
  let eventsHere = 0;
  const onUnparsed = opts.onUnparsed ? (u: UnparsedSample) => opts.onUnparsed!({ ...u, path: shown }) : null;

  let notUtf8 = 0;
  const commit = (b: ParsedBatch) => {
    if (b.bytes === 0 && b.lines === 0) return;
    const newOffset = offset + b.bytes;
    const reasons = [...b.reasons].map(([key, count]) => { const [source, reason] = key.split('\t'); return { source, reason, count }; });
    const ok = store.commitBatch({
      fileId: file.id, expectOffset: offset, newOffset, newLines: lines + b.lines, tailHash: b.tailHash,
      events: [], aggs: [], eventsPacked: b.eventsPacked, aggsPacked: b.aggsPacked,
      stats: b.stats, unparsed: b.unparsed, reasons,
      losses: b.notUtf8Lines ? [{ path: shown, reason: LOSS_NOT_UTF8, lines: b.notUtf8Lines, bytes: 0 }] : [],
    });
    if (!ok) { lost = true; return; }
    notUtf8 += b.notUtf8Lines;
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
    for (const [src, kinds] of b.kinds) {
      const into = (summary.kinds[src] ??= {});
      for (const [kind, n] of kinds) into[kind] = (into[kind] ?? 0) + n;
    }
    for (const u of b.unparsed) {
      const list = (summary.samples[u.source] ??= []);
      if (list.length < SAMPLES_PER_SOURCE) list.push({ path: shown, line: u.line, reason: u.reason, text: u.text });
    }
  };

  // The tail window starts with the verified bytes just before the resume offset, known once
  // the stream yields (or ends): the parse session opens then.
  let tail: Buffer = Buffer.alloc(0);
  const stream = verifiedFrom(c, offset, file.tailHash, () => { mismatch = true; }, (t) => { tail = t; });
  const mode = opts.parseInWorker ?? 'auto';
  const big = c.compressed || c.stdin || !c.stat || c.stat.size - offset >= WORKER_MIN_BYTES;
  const inWorker = workers !== null && ParseWorkerHost.available() && (mode === 'always' || (mode === 'auto' && big));
  // (A closure assigns it: typed so that the checks after the loop are not narrowed to null.)
  let session = null as ParseSession | null;
  const open = (): ParseSession => {
    if (!session) {
      // Evidence by reference where the content can be read again: a file (plain or compressed,
      // found again by its fingerprint), not stdin or a pipe, whose lines keep their text.
      const so: SessionOptions = { ctx, fileId: file.id, startLine: lines, startOffset: offset, byRef: !c.stream && !c.stdin, batchLines, tail, onUnparsed };
      session = inWorker ? workers!.open(so, TAIL_BYTES) : new InlineSession(so, TAIL_BYTES);
    }
    return session;
  };

  let truncated = false;
  let stopped = false;
  let read = 0;
  const chunks = stream[Symbol.asyncIterator]();
  for (;;) {
    let r: IteratorResult<Buffer>;
    try {
      r = await chunks.next();
    } catch (err) {
      if (err instanceof TruncatedInputError) { truncated = true; warning = err.message; break; }
      session?.abort();
      throw new InputError(`cannot read ${shown}: ${(err as Error).message}`);
    }
    if (r.done) break;
    read += r.value.length;
    let committed = 0;
    for (const b of await open().push(r.value)) { commit(b); committed++; if (lost) break; }
    progress(read);
    if (lost) break;
    if (committed && opts.signal?.aborted) { stopped = true; break; }
  }
  if (mismatch) { session?.abort(); return { path: shown, kind: 'log', lines: 0, events: 0, resumedAt, message: MISMATCH }; }
  if (lost || stopped) {
    // A stop leaves the read mid-file: the rest, and what was parsed but not committed, is read next time.
    session?.abort();
    await chunks.return(undefined);
  } else {
    const closed = c.compressed || c.stream || truncated || !c.stat || opts.final === true
      || (opts.settleMs === undefined ? isRotatedName(c.path) : opts.now - c.stat.mtime >= opts.settleMs);
    for (const b of await open().finish(closed && !truncated)) { commit(b); if (lost) break; }
    // What was read but not consumed: an unterminated last line, kept for the next run.
    const held = resumedAt + read - offset;
    if (!closed && !lost && held > 0) { summary.heldBack.files++; summary.heldBack.bytes += held; }
  }
  if (notUtf8) {
    summary.losses.push({ path: shown, reason: LOSS_NOT_UTF8, lines: notUtf8, bytes: 0 });
    summary.warnings.push(`${shown}: ${notUtf8} ${notUtf8 === 1 ? 'line has' : 'lines have'} bytes that are not UTF-8, stored with U+FFFD in their place (the original bytes of those not understood are kept)`);
  }
  if (truncated) warning = `${shown}: ${warning}; kept the ${lines - file.lines} lines before the cut`;
  if (lost) warning = `${shown}: another bytetrail process is reading this file; left the rest to it`;
  return { path: shown, kind: 'log', lines: lines - file.lines, events: eventsHere, resumedAt, message: warning };
}
