/**
 * Parsing one log stream, in this thread or in a worker thread.
 *
 * The store's writes run on the main thread and parsing is the other half of the work, so a
 * large file is parsed in a worker (src/ingest/parse-worker.ts) while the main thread commits
 * the batches parsed before: on two cores that nearly halves the time. Both ways run the same
 * LinePipeline over the same chunks and hand out the same batches, so what is stored does not
 * depend on where it was parsed. Small inputs are parsed here: a worker costs ~30 ms to start.
 */
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ParseContext } from '../events.js';
import type { UnparsedSample } from '../store/index.js';
import { LinePipeline, type ParsedBatch, TailWindow } from './lines.js';

export type { ParsedBatch } from './lines.js';

export interface SessionOptions {
  ctx: ParseContext;
  fileId: number;
  /** Line number of the last line already read. */
  startLine: number;
  /** Content offset of the first byte pushed (the resume offset). */
  startOffset: number;
  /** Keep evidence by reference: the content can be read again (not stdin, not a pipe). */
  byRef: boolean;
  /** Lines per batch. */
  batchLines: number;
  /** The verified bytes just before the resume offset (empty at offset 0). */
  tail: Buffer;
  onUnparsed: ((u: UnparsedSample) => void) | null;
}

/** A stream being parsed: feed it chunks, take the batches it has finished, in order. */
export interface ParseSession {
  /** Feed a chunk; returns the batches finished so far, to take in order (may wait while too much is in flight). */
  push(chunk: Buffer): Promise<Iterable<ParsedBatch>>;
  /** End of content; returns the remaining batches. `consumePartial`: read an unterminated last line. */
  finish(consumePartial: boolean): Promise<Iterable<ParsedBatch>>;
  /** Stop early (the rest is left unread); no more batches. */
  abort(): void;
}

/** Parse in this thread. */
export class InlineSession implements ParseSession {
  private readonly pipe: LinePipeline;
  constructor(private readonly o: SessionOptions, tailBytes: number) {
    this.pipe = new LinePipeline(o.ctx, o.startLine, {
      fileId: o.fileId, onUnparsed: o.onUnparsed, tail: new TailWindow(tailBytes, o.tail), startOffset: o.startOffset, byRef: o.byRef,
    });
  }
  async push(chunk: Buffer): Promise<Iterable<ParsedBatch>> {
    this.pipe.push(chunk);
    return this.pipe.due(this.o.batchLines) ? [this.pipe.takeWithTail()] : [];
  }
  async finish(consumePartial: boolean): Promise<Iterable<ParsedBatch>> {
    this.pipe.finish(consumePartial);
    return [this.pipe.takeWithTail()];
  }
  abort(): void { /* nothing held */ }
}

/** Messages from the main thread to the parse worker. */
export type ToWorker =
  | { type: 'start'; id: number; ctx: ParseContext; fileId: number; startLine: number; startOffset: number; byRef: boolean; batchLines: number; tail: Uint8Array; tailBytes: number; collectUnparsed: boolean }
  | { type: 'chunk'; id: number; data: ArrayBuffer }
  | { type: 'finish'; id: number; consumePartial: boolean }
  | { type: 'abort'; id: number };

/** Messages from the parse worker. `ack`: a chunk was consumed (its memory is free). */
export type FromWorker =
  | { type: 'batch'; id: number; batch: ParsedBatch }
  | { type: 'ack'; id: number; bytes: number }
  | { type: 'done'; id: number }
  | { type: 'error'; id: number; message: string; stack?: string };

/** Old-generation heap of the parse worker at most, MB. */
const WORKER_OLD_SPACE_MB = 256;
/**
 * Young generation of the parse worker, MB. What the worker allocates dies young, so a smaller
 * young generation only means more, equally short scavenges: 16 MB took 25-30 MB off the peak
 * RSS of parsing the benchmark's logs, for no measurable CPU (8 MB cost 10% more GC time).
 */
const WORKER_YOUNG_SPACE_MB = 16;

/**
 * Bytes sent to the worker and not yet consumed before push() waits: bounds memory. A couple of
 * batches' worth, so that the worker parses the next batch while this thread writes one (with
 * one batch's worth, the two took turns: 20% idle each). 12 MB held about 20 MB more at the
 * peak for no measurable gain in CPU (busy-day benchmark, issue 12).
 */
const MAX_IN_FLIGHT = 4 << 20;

/**
 * One worker thread, reused for every large file of a run, one stream at a time.
 * The worker script is the compiled parse-worker.js next to this module; when this module
 * runs from TypeScript source (tests), there is none and callers parse inline.
 */
export class ParseWorkerHost {
  private worker: Worker | null = null;
  private nextId = 1;
  private current: WorkerSession | null = null;
  private failed: Error | null = null;

  static scriptUrl(): URL | null {
    const here = import.meta.url;
    return here.endsWith('.js') ? new URL('./parse-worker.js', here) : null;
  }

  static available(): boolean { return ParseWorkerHost.scriptUrl() !== null; }

  private ensure(): Worker {
    if (this.failed) throw this.failed;
    if (this.worker) return this.worker;
    const url = ParseWorkerHost.scriptUrl();
    if (!url) throw new Error('parse worker script not available');
    // The worker holds one batch (at most MAX_BATCH_BYTES of content) and the chunks in flight:
    // tens of MB. The cap is a bound on memory, well above that; past it the worker fails.
    const w = new Worker(fileURLToPath(url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_OLD_SPACE_MB, maxYoungGenerationSizeMb: WORKER_YOUNG_SPACE_MB } });
    w.on('message', (m: FromWorker) => this.current?.onMessage(m));
    w.on('error', (err) => { this.failed = err; this.current?.onFailure(err); });
    w.on('exit', (code) => {
      if (this.worker === w) this.worker = null;
      if (code !== 0 && !this.failed) { this.failed = new Error(`parse worker exited with code ${code}`); this.current?.onFailure(this.failed); }
    });
    this.worker = w;
    return w;
  }

  open(o: SessionOptions, tailBytes: number): ParseSession {
    const w = this.ensure();
    // Referenced only while a stream is being parsed: an idle worker does not hold the process open.
    w.ref();
    const s = new WorkerSession(w, this.nextId++, o, () => { if (this.current === s) { this.current = null; w.unref(); } });
    this.current = s;
    const tail = new Uint8Array(o.tail);
    w.postMessage({ type: 'start', id: s.id, ctx: o.ctx, fileId: o.fileId, startLine: o.startLine, startOffset: o.startOffset, byRef: o.byRef, batchLines: o.batchLines, tail, tailBytes, collectUnparsed: o.onUnparsed !== null } satisfies ToWorker);
    return s;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }
}


class WorkerSession implements ParseSession {
  /** Batches received, rows still packed: the store binds them from the packed form. */
  private ready: ParsedBatch[] = [];
  private inFlight = 0;
  private done = false;
  private error: Error | null = null;
  private wake: (() => void) | null = null;

  constructor(private readonly w: Worker, readonly id: number, private readonly o: SessionOptions, private readonly release: () => void) {}

  onMessage(m: FromWorker): void {
    if (m.id !== this.id) return;
    if (m.type === 'batch') {
      if (this.o.onUnparsed && m.batch.allUnparsed) for (const u of m.batch.allUnparsed) this.o.onUnparsed(u);
      this.ready.push(m.batch);
    } else if (m.type === 'ack') this.inFlight -= m.bytes;
    else if (m.type === 'done') this.done = true;
    else {
      const e = new Error(`parse worker: ${m.message}`);
      if (m.stack) e.stack = m.stack;
      this.error = e;
    }
    this.wakeUp();
  }

  onFailure(err: Error): void {
    this.error ??= err;
    this.wakeUp();
  }

  private wakeUp(): void {
    const f = this.wake;
    this.wake = null;
    f?.();
  }

  private wait(): Promise<void> {
    return new Promise((res) => { this.wake = res; });
  }

  private takeReady(): Iterable<ParsedBatch> {
    if (this.error) { this.release(); throw this.error; }
    const out = this.ready;
    this.ready = [];
    return out;
  }

  async push(chunk: Buffer): Promise<Iterable<ParsedBatch>> {
    // A copy in a buffer of its own, transferred: the chunk may be a view into a shared pool.
    const data = new ArrayBuffer(chunk.length);
    new Uint8Array(data).set(chunk);
    this.inFlight += chunk.length;
    this.w.postMessage({ type: 'chunk', id: this.id, data } satisfies ToWorker, [data]);
    while (this.inFlight > MAX_IN_FLIGHT && !this.error) await this.wait();
    return this.takeReady();
  }

  async finish(consumePartial: boolean): Promise<Iterable<ParsedBatch>> {
    this.w.postMessage({ type: 'finish', id: this.id, consumePartial } satisfies ToWorker);
    while (!this.done && !this.error) await this.wait();
    const out = this.takeReady();
    this.release();
    return out;
  }

  abort(): void {
    this.w.postMessage({ type: 'abort', id: this.id } satisfies ToWorker);
    this.ready = [];
    this.release();
  }
}
