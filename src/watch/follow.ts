/**
 * Following files: every read is an ordinary single-file ingest (fingerprint, resume offset
 * with its tail proof, batches committed with their offset), so `watch`, a restarted `watch`
 * and an `ingest` run beside it all agree on what has been stored. This module only decides
 * *when* to read and *which* file: tail-file's polls and chokidar's events say that something
 * changed, and a slow sweep catches what both missed.
 *
 * Each followed name holds a descriptor on the file it points at and reads through
 * /proc/self/fd/N, so a file renamed (logrotate's `create`) or deleted under it is still read
 * to its end: it is drained until it has been quiet for `drainMs`. A `copytruncate` rotation
 * leaves the unread tail only in the copy (`mail.log.1`): when the followed file shrinks or its
 * content changes, the newest rotated sibling is read too; it has the old content's fingerprint,
 * so it resumes at the stored offset and only the unread tail comes in.
 */
import TailFile from '@logdna/tail-file';
import { watch as chokidarWatch, type FSWatcher } from 'chokidar';
import { closeSync, existsSync, fstatSync, openSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { BytetrailError, describeFsError } from '../errors.js';
import { openContent, sha1 } from '../ingest/content.js';
import { ingestOneFile, type IngestOptions, type IngestSummary, LOSS_ROTATED_AWAY, LOSS_TRUNCATED } from '../ingest/index.js';
import { COMPRESSED_NAME, expandInputs, isRotatedName, ROTATED_NAME } from '../ingest/inputs.js';
import type { FileKind, FileRecord } from '../store/index.js';
import type { WriteStore } from '../store/write.js';
import type { WatchPathRow, WatchStore } from '../store/watch.js';

export interface FollowOptions {
  /** Options of every read (zone, handlers, local addresses); `now`, `settleMs` and `signal` are set here. */
  ingest: Omit<IngestOptions, 'now' | 'settleMs' | 'signal' | 'onProgress'>;
  /** tail-file's poll interval. */
  pollMs: number;
  /** The least time between two reads of one file: appends in between are read together. */
  readIntervalMs: number;
  /** A renamed or deleted file is read until it has not grown for this long, then closed. */
  drainMs: number;
  /** Every path is looked at this often even without events (missed events, permissions fixed). */
  sweepMs: number;
  signal: AbortSignal;
  /** One-line messages for the admin (stderr). */
  notice(message: string): void;
  /** Told what each read stored (`watch --metrics` counts it). */
  onRead?: (summary: IngestSummary) => void;
}

export interface FollowTotals { reads: number; lines: number; events: number; records: number; bytes: number; errors: number }

/** An open descriptor on one file (inode), with what was seen of it at the last read. */
interface Handle { fd: number; dev: number; ino: number; size: number; mtimeMs: number }

interface Drain extends Handle { quietSince: number; name: string | null }

class Followed {
  cur: Handle | null = null;
  draining: Drain[] = [];
  /** The problem now (ENOENT, EACCES, ...), and the one last reported, so each is reported once. */
  problem: string | null = null;
  reported: string | null = null;
  problemSince = 0;
  everOpened = false;
  message: string | null = null;
  fileId: number | null = null;
  kind: FileKind | null = null;
  lastReadAt: number | null = null;
  lastLineAt: number | null = null;
  tail: TailFile | null = null;
  tailStarting = false;
  dirty = false;
  reading = false;
  timer: NodeJS.Timeout | null = null;
  lastReadStart = 0;
  readOnce = false;
  needSiblings = false;
  /** Found in a followed directory: dropped when deleted, instead of waited for. */
  gone = false;
  constructor(readonly path: string, readonly fromDir: boolean) {}
}

const PROC_FD = existsSync('/proc/self/fd') ? '/proc/self/fd' : null;
export { isRotatedName };

/** mail.log.2.gz → mail.log */
export function rotationBase(p: string): string {
  return join(dirname(p), basename(p).replace(ROTATED_NAME, '').replace(COMPRESSED_NAME, ''));
}

function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException)?.code ?? 'EUNKNOWN';
}

/** At most `n` reads at once, so a directory of many files does not open them all together. */
function limiter(n: number) {
  let active = 0;
  const queue: Array<() => void> = [];
  return async <T>(fn: () => Promise<T>): Promise<T> => {
    if (active >= n) await new Promise<void>((r) => queue.push(r));
    active++;
    try { return await fn(); } finally { active--; queue.shift()?.(); }
  };
}

export class Follower {
  readonly totals: FollowTotals = { reads: 0, lines: 0, events: 0, records: 0, bytes: 0, errors: 0 };
  private readonly followed = new Map<string, Followed>();
  private readonly dirs = new Set<string>();
  private readonly oneShots = new Set<string>();
  private watcher: FSWatcher | null = null;
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly limit = limiter(4);
  private readonly inflight = new Set<Promise<void>>();
  private readonly reported = new Set<string>();
  private closed = false;

  constructor(private readonly store: WriteStore, private readonly ws: WatchStore, private readonly o: FollowOptions) {}

  /** Start following: files and directories as given (globs expanded once, now). */
  async start(args: string[]): Promise<void> {
    const files: string[] = [];
    for (const a of args) {
      const p = resolve(a);
      let isDir = false;
      try { isDir = statSync(p).isDirectory(); } catch { /* a file that may appear later, or a glob */ }
      if (isDir) { this.dirs.add(p); continue; }
      if (/[*?[]/.test(a) && !existsSync(p)) {
        const { files: hits } = expandInputs([a]);
        if (!hits.length) this.o.notice(`no file matches ${a} (yet); globs are expanded once, at start: follow the directory to catch new files`);
        files.push(...hits.map((h) => resolve(h)));
        continue;
      }
      files.push(p);
    }
    const inDirs: string[] = [];
    for (const d of this.dirs) {
      for (const f of expandInputs([d]).files) inDirs.push(resolve(f));
    }
    // Rotated files in followed directories are read once, oldest first; live files are followed.
    for (const p of inDirs) if (isRotatedName(p)) await this.readOneShot(p);
    for (const p of files) this.follow(p);
    for (const p of inDirs) if (!isRotatedName(p)) this.follow(p, true);
    this.startWatcher();
    this.sweepTimer = setInterval(() => this.sweep(), this.o.sweepMs);
    this.sweepTimer.unref?.();
    this.o.signal.addEventListener('abort', () => { void this.stopTriggers(); }, { once: true });
  }

  /** Whether a read is running or due: the data clock waits for quiet before judging a window. */
  get busy(): boolean {
    for (const f of this.followed.values()) if (f.reading || f.timer || f.dirty || f.draining.length || !f.readOnce) return true;
    return this.inflight.size > 0;
  }

  /** For `status`: one row per followed name. */
  rows(now: number): WatchPathRow[] {
    return [...this.followed.values()].map((f) => ({
      path: f.path, fileId: f.fileId, kind: f.kind,
      state: f.problem === null ? 'following' : f.problem === 'ENOENT' ? 'waiting' : 'unreadable',
      message: f.message, size: f.cur && f.cur.size >= 0 ? f.cur.size : null, lastReadAt: f.lastReadAt, lastLineAt: f.lastLineAt, updatedAt: now,
    }));
  }

  get size(): number { return this.followed.size; }

  /** Stop every trigger, let running reads finish their batch, close every descriptor. */
  async close(): Promise<void> {
    await this.stopTriggers();
    while (this.inflight.size) await Promise.allSettled([...this.inflight]);
    for (const f of this.followed.values()) {
      if (f.cur) { try { closeSync(f.cur.fd); } catch { /* closed */ } f.cur = null; }
      for (const d of f.draining) { try { closeSync(d.fd); } catch { /* closed */ } }
      f.draining = [];
    }
  }

  private async stopTriggers(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const waits: Array<Promise<unknown>> = [];
    for (const f of this.followed.values()) {
      if (f.timer) { clearTimeout(f.timer); f.timer = null; }
      if (f.tail) { const t = f.tail; f.tail = null; waits.push(withTimeout(t.quit().catch(() => undefined), 2000)); }
    }
    if (this.watcher) { const w = this.watcher; this.watcher = null; waits.push(withTimeout(w.close().catch(() => undefined), 2000)); }
    await Promise.allSettled(waits);
  }

  private follow(path: string, fromDir = false): Followed {
    let f = this.followed.get(path);
    if (f) return f;
    f = new Followed(path, fromDir);
    this.followed.set(path, f);
    if (this.watcher) this.watcher.add(dirname(path));
    this.schedule(f);
    return f;
  }

  // ---- triggers ----

  private startWatcher(): void {
    const roots = new Set<string>([...this.dirs]);
    for (const f of this.followed.values()) roots.add(dirname(f.path));
    const w = chokidarWatch([...roots], {
      ignoreInitial: true, persistent: true, atomic: false, ignorePermissionErrors: true,
      ignored: (p: string) => !this.interesting(p),
    });
    w.on('all', (_event, p) => this.onFsEvent(resolve(p)));
    w.on('error', (err) => this.reportOnce(`watcher: ${(err as Error).message}`, `chokidar: ${(err as Error).message}; changes are still found by polling`));
    this.watcher = w;
  }

  /** Paths chokidar should report: followed directories, and followed files with their rotated siblings. */
  private interesting(p: string): boolean {
    const abs = resolve(p);
    for (const d of this.dirs) if (abs === d || abs.startsWith(d + sep)) return true;
    for (const f of this.followed.values()) {
      if (abs === f.path || abs === dirname(f.path)) return true;
      if (rotationBase(abs) === f.path) return true;
    }
    return false;
  }

  private onFsEvent(p: string): void {
    if (this.closed) return;
    const f = this.followed.get(p);
    if (f) { this.schedule(f); return; }
    const owner = this.followed.get(rotationBase(p));
    if (owner) { this.schedule(owner); return; }
    // A new file in a followed directory.
    for (const d of this.dirs) {
      if (!p.startsWith(d + sep)) continue;
      let st;
      try { st = statSync(p); } catch { return; }
      if (!st.isFile()) return;
      if (isRotatedName(p)) this.track(this.readOneShot(p));
      else this.follow(p, true);
      return;
    }
  }

  private sweep(): void {
    if (this.closed) return;
    for (const d of this.dirs) {
      let files: string[] = [];
      try { files = expandInputs([d]).files; } catch { continue; }
      for (const p of files.map((x) => resolve(x))) if (!isRotatedName(p) && !this.followed.has(p)) this.follow(p, true);
    }
    for (const f of this.followed.values()) this.schedule(f);
  }

  private startTail(f: Followed): void {
    if (f.tail || f.tailStarting || this.closed) return;
    f.tailStarting = true;
    const t = new TailFile(f.path, { pollFileIntervalMs: this.o.pollMs, pollFailureRetryMs: this.o.pollMs, maxPollFailures: 5, readStreamOpts: { highWaterMark: 64 * 1024 } });
    const poke = () => this.schedule(f);
    // The bytes themselves are not used: every read goes through ingest, from the stored offset.
    t.on('data', poke).on('renamed', poke).on('truncated', poke).on('retry', poke).on('tail_error', poke);
    t.on('error', () => { if (f.tail === t) f.tail = null; poke(); });
    t.on('end', () => { if (f.tail === t) f.tail = null; });
    t.start().then(() => {
      f.tailStarting = false;
      if (this.closed) { void t.quit().catch(() => undefined); return; }
      f.tail = t;
    }, () => { f.tailStarting = false; });
  }

  private schedule(f: Followed): void {
    if (this.closed) return;
    f.dirty = true;
    if (f.reading || f.timer) return;
    const wait = Math.max(0, f.lastReadStart + this.o.readIntervalMs - Date.now());
    f.timer = setTimeout(() => { f.timer = null; this.track(this.run(f)); }, wait);
  }

  private track(p: Promise<void>): void {
    this.inflight.add(p);
    void p.finally(() => this.inflight.delete(p));
  }

  private async run(f: Followed): Promise<void> {
    if (this.closed || f.reading) return;
    f.reading = true;
    try {
      await this.limit(async () => { if (!this.closed) await this.readFollowed(f); });
    } catch (err) {
      this.totals.errors++;
      const msg = err instanceof BytetrailError ? err.message : `internal error while reading ${f.path}: ${(err as Error).stack ?? err}`;
      this.reportOnce(`read:${f.path}:${(err as Error).message}`, msg);
    } finally {
      f.reading = false;
      if (f.dirty && !this.closed) this.schedule(f);
    }
  }

  // ---- reading ----

  private async readFollowed(f: Followed): Promise<void> {
    f.dirty = false;
    f.lastReadStart = Date.now();
    // At the first read (a restart may follow a rotation) and whenever the name gets new content,
    // the newest rotated sibling may hold lines of the old content not read yet.
    if (!f.readOnce) f.needSiblings = true;
    // The stream last read under this name, to find again if a restart finds it rotated away.
    const before = !f.readOnce ? this.store.latestFileAt(f.path, 'log') : null;

    // Does the name still point at the file we hold?
    let st: ReturnType<typeof statSync> | null = null;
    let statErr: unknown = null;
    try { st = statSync(f.path); } catch (err) { statErr = err; }
    if (f.cur && (!st || st.ino !== f.cur.ino || st.dev !== f.cur.dev)) {
      // Renamed away (logrotate `create`) or deleted: keep reading the old file through its descriptor.
      f.draining.push({ ...f.cur, quietSince: Date.now(), name: null });
      f.cur = null;
      f.needSiblings = true;
    }
    if (!f.cur) {
      if (st && !st.isFile()) this.problem(f, 'ENOTFILE', `cannot follow ${f.path}: not a regular file`);
      else if (st) {
        try {
          const fd = openSync(f.path, 'r');
          const fs = fstatSync(fd);
          f.cur = { fd, dev: fs.dev, ino: fs.ino, size: -1, mtimeMs: -1 };
          if (f.reported !== null) this.o.notice(`now following ${f.path}`);
          f.problem = null; f.reported = null; f.message = null; f.everOpened = true;
        } catch (err) {
          this.problem(f, errCode(err), `${describeFsError(f.path, err)}; waiting until it can be read`);
        }
      } else if (f.fromDir && errCode(statErr) === 'ENOENT') {
        // A file of a followed directory that went away: stop following it once its old content is read.
        f.gone = true;
      } else {
        const code = errCode(statErr);
        this.problem(f, code, code === 'ENOENT' ? `waiting for ${f.path}: no such file yet; it is read as soon as it appears` : `${describeFsError(f.path, statErr)}; waiting until it can be read`);
      }
    }
    if (f.cur) this.startTail(f);

    // Old files first: their lines are older than the new file's.
    for (const d of [...f.draining]) await this.drain(f, d);

    // A stream cut in place while part of it was unread: what the copy does not hold is lost.
    let cut: { fileId: number; size: number } | null = null;
    if (f.cur) {
      const fs = fstatSync(f.cur.fd);
      // copytruncate: the lines not read yet are only in the copy.
      if (f.cur.size >= 0 && fs.size < f.cur.size) {
        f.needSiblings = true;
        if (f.fileId !== null) cut = { fileId: f.fileId, size: f.cur.size };
      }
      if (fs.size !== f.cur.size || fs.mtimeMs !== f.cur.mtimeMs) {
        const before = f.fileId;
        const sizeBefore = f.cur.size;
        await this.readHandle(f, f.cur, f.path, false);
        // New content under the same name and inode (a copytruncate seen only after the file grew back).
        if (before !== null && f.fileId !== null && f.fileId !== before) {
          f.needSiblings = true;
          cut ??= sizeBefore >= 0 ? { fileId: before, size: sizeBefore } : null;
        }
      }
    }
    if (f.needSiblings && (f.kind === null || f.kind === 'log') && !this.o.signal.aborted) {
      f.needSiblings = false;
      await this.readSiblings(f);
    }
    if (before && !this.o.signal.aborted) await this.findRotatedAway(f, before);
    if (cut && !this.o.signal.aborted) this.countCut(f, cut);
    f.readOnce = true;
    if (f.gone && !f.draining.length) this.unfollow(f);
  }

  /**
   * After a truncation and the read of the newest rotated copy: the bytes of the old stream
   * seen in the file but still not read (no copy held them: `> mail.log`, or a copy of other
   * content) are lost. Counted in the store for status, and said once.
   */
  private countCut(f: Followed, cut: { fileId: number; size: number }): void {
    const rec = this.store.fileById(cut.fileId);
    if (!rec || rec.kind !== 'log' || rec.offset >= cut.size) return;
    const bytes = cut.size - rec.offset;
    this.store.addLoss({ path: f.path, reason: LOSS_TRUNCATED, lines: 0, bytes });
    this.o.notice(`${f.path} was truncated with ${bytes} bytes not read yet, and no rotated copy holds them: they are lost`);
  }

  /**
   * At the first read after a start: the stream last read under this name, if neither the file
   * there now nor its newest rotated copy continued it, was rotated more than once while watch
   * was stopped (mail.log → .1 → .2.gz). An older rotated copy that holds it (known by its first
   * bytes) is read from where watch stopped; if none does, what watch had seen of it but not
   * read is lost, counted for status and said once. Lines written after watch stopped cannot be
   * counted without the file, so the figure is a lower bound, and the message says so.
   */
  private async findRotatedAway(f: Followed, before: FileRecord): Promise<void> {
    const after = this.store.fileById(before.id);
    if (!after || after.path !== before.path || after.ino !== before.ino || after.offset !== before.offset) return;
    let st: ReturnType<typeof statSync> | null = null;
    try { st = statSync(f.path); } catch { /* gone: rotated away too */ }
    if (st && st.ino === before.ino && st.dev === before.dev) return;
    for (const p of this.siblings(f.path).slice(1)) {
      let same = false;
      try {
        const c = await openContent(p);
        try { same = c.head.length >= before.fpLen && sha1(c.head.subarray(0, before.fpLen)) === before.fpHash; } finally { c.close(); }
      } catch { continue; }
      if (same) { await this.readOneShot(p); return; }
    }
    const bytes = Math.max(0, (before.size ?? 0) - before.offset);
    this.store.addLoss({ path: f.path, reason: LOSS_ROTATED_AWAY, lines: 0, bytes });
    this.o.notice(`${f.path} was rotated more than once while watch was stopped, and no rotated copy holds what was last read there: ${bytes ? `${bytes} bytes seen but not read yet, and ` : ''}anything written there after watch stopped (how much cannot be known without the file) is lost`);
  }

  private unfollow(f: Followed): void {
    this.followed.delete(f.path);
    if (f.timer) { clearTimeout(f.timer); f.timer = null; }
    if (f.tail) { void f.tail.quit().catch(() => undefined); f.tail = null; }
  }

  private problem(f: Followed, code: string, message: string): void {
    const now = Date.now();
    if (f.problem !== code) f.problemSince = now;
    f.problem = code;
    f.message = message;
    if (f.reported === code) return;
    // A followed file missing for a moment is a rotation in progress, not news.
    if (code === 'ENOENT' && f.everOpened && now - f.problemSince < this.o.drainMs) {
      const t = setTimeout(() => this.schedule(f), this.o.drainMs);
      t.unref?.();
      return;
    }
    f.reported = code;
    this.o.notice(message);
  }

  /** Read a renamed or deleted file until it has been quiet for drainMs; then read its last partial line and close it. */
  private async drain(f: Followed, d: Drain): Promise<void> {
    const fs = fstatSync(d.fd);
    const now = Date.now();
    if (fs.size !== d.size || fs.mtimeMs !== d.mtimeMs) d.quietSince = now;
    const done = now - d.quietSince >= this.o.drainMs || this.closed;
    d.name = this.currentName(f, d);
    const shown = d.name ?? `${f.path} (deleted)`;
    if (fs.size !== d.size || fs.mtimeMs !== d.mtimeMs || done) await this.readHandle(f, d, shown, done, false);
    if (done && !this.o.signal.aborted) {
      try { closeSync(d.fd); } catch { /* closed */ }
      f.draining = f.draining.filter((x) => x !== d);
    } else if (!done) {
      // Come back when the quiet period is over even if nothing else happens.
      const t = setTimeout(() => this.schedule(f), Math.max(50, this.o.drainMs - (now - d.quietSince) + 10));
      t.unref?.();
    }
  }

  /** Where a renamed file is now (mail.log.1), found by its inode among the name's siblings. */
  private currentName(f: Followed, d: Drain): string | null {
    if (d.name) {
      try { const s = statSync(d.name); if (s.ino === d.ino && s.dev === d.dev) return d.name; } catch { /* moved again */ }
    }
    for (const p of this.siblings(f.path)) {
      try { const s = statSync(p); if (s.ino === d.ino && s.dev === d.dev) return p; } catch { /* gone */ }
    }
    return null;
  }

  /** Rotated siblings of a followed name, newest first. */
  private siblings(path: string): string[] {
    const dir = dirname(path);
    let names: string[];
    try { names = readdirSync(dir); } catch { return []; }
    const out: Array<{ p: string; mtime: number }> = [];
    for (const n of names) {
      const p = join(dir, n);
      if (p === path || rotationBase(p) !== path) continue;
      try { out.push({ p, mtime: statSync(p).mtimeMs }); } catch { /* gone */ }
    }
    return out.sort((a, b) => b.mtime - a.mtime).map((x) => x.p);
  }

  /** The newest rotated sibling: it resumes where the old stream stopped (same fingerprint), or is read whole if unknown. */
  private async readSiblings(f: Followed): Promise<void> {
    const newest = this.siblings(f.path)[0];
    if (newest) await this.readOneShot(newest);
  }

  /** A file read once by name (a rotated file), not followed. */
  private async readOneShot(path: string): Promise<void> {
    if (this.oneShots.has(path)) return;
    this.oneShots.add(path);
    try {
      const { report, summary } = await ingestOneFile(this.store, path, this.readOpts(this.o.drainMs));
      this.count(summary);
      if (report.kind === 'error' && report.message) this.reportOnce(`oneshot:${path}:${report.message}`, report.message);
      else this.warnings(summary);
    } finally {
      this.oneShots.delete(path);
    }
  }

  private readOpts(settleMs: number): IngestOptions {
    return { ...this.o.ingest, now: Date.now(), settleMs, signal: this.o.signal };
  }

  /**
   * Read one open file through its descriptor link. While following, only complete lines are
   * consumed (settleMs = Infinity); `final` (a drained file about to be closed) takes an
   * unterminated last line too.
   */
  private async readHandle(f: Followed, h: Handle, shown: string, final: boolean, isCurrent = true): Promise<void> {
    const fs = fstatSync(h.fd);
    const path = PROC_FD ? `${PROC_FD}/${h.fd}` : shown;
    const { report, summary } = await ingestOneFile(this.store, path, this.readOpts(final ? 0 : Infinity), shown);
    const now = Date.now();
    h.size = fs.size;
    h.mtimeMs = fs.mtimeMs;
    this.totals.reads++;
    this.count(summary);
    if (report.kind === 'error') {
      this.reportOnce(`read:${shown}:${report.message}`, (report.message ?? `cannot read ${shown}`).replaceAll(path, shown));
      return;
    }
    this.warnings(summary);
    const stored = report.lines > 0 || report.events > 0;
    if (isCurrent) {
      f.lastReadAt = now;
      if (report.kind === 'empty') { f.fileId = null; f.kind = null; }
      else {
        const rec = this.ws.fileByInode(h.dev, h.ino);
        f.fileId = rec?.id ?? null;
        f.kind = rec?.kind ?? (report.kind === 'binary' ? null : (report.kind as FileKind));
      }
    }
    if (stored) f.lastLineAt = now;
  }

  private count(s: IngestSummary): void {
    this.o.onRead?.(s);
    this.totals.lines += s.lines;
    this.totals.bytes += s.bytes;
    for (const n of Object.values(s.events)) this.totals.events += n;
    for (const n of Object.values(s.records)) this.totals.records += n;
  }

  private warnings(s: IngestSummary): void {
    for (const w of s.warnings) {
      // Another process (an `ingest` run) read these lines first: the next read resumes after them.
      if (/another bytetrail process/.test(w)) continue;
      this.reportOnce(`warn:${w}`, w);
    }
    for (const e of s.errors) this.reportOnce(`err:${e}`, e);
  }

  private reportOnce(key: string, message: string): void {
    if (this.reported.has(key)) return;
    if (this.reported.size > 10_000) this.reported.clear();
    this.reported.add(key);
    this.o.notice(message);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return Promise.race([p, new Promise<undefined>((r) => { const t = setTimeout(() => r(undefined), ms); t.unref?.(); })]);
}
