/**
 * Reading a file's content as decompressed bytes, from the start or from a resume offset,
 * with its first bytes available for sniffing and fingerprinting.
 */
import { createHash } from 'node:crypto';
import { fstatSync, readSync, statSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { createGunzip, type Gunzip } from 'node:zlib';
import { describeFsError, InputError } from '../errors.js';
import { isGzip } from './sniff.js';

export const HEAD_BYTES = 64 * 1024;
export const FP_MAX = 1024;
export const TAIL_BYTES = 64;

export interface FileStat { dev: number; ino: number; size: number; mtime: number }

export interface OpenedContent {
  path: string;
  stdin: boolean;
  /**
   * Read as a stream that ends once, with no identity but its content: stdin, a FIFO, process
   * substitution (`<(zcat …)`), a character device. `stat` is null for these.
   */
  stream: boolean;
  compressed: boolean;
  stat: FileStat | null;
  /** First bytes of the decompressed content (up to HEAD_BYTES; shorter when the content is). */
  head: Buffer;
  /** Content from byte `offset` on, decompressed. Call once. Errors carry a `truncated` flag for cut gzip streams. */
  from(offset: number): AsyncGenerator<Buffer>;
  /**
   * For a plain file, its first `max` bytes and its size as they are now, read again (another
   * process may have read further than this one's head while it waited for the write lock);
   * otherwise the head and the size at open. The bytes always start with `head`.
   */
  current(max: number): { head: Buffer; size: number | null };
  /** Close the file once any read still pending has finished. */
  close(): Promise<void>;
}

export function sha1(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

export class TruncatedInputError extends Error {
  constructor(message: string) { super(message); this.name = 'TruncatedInputError'; }
}

function gunzipErrorIsTruncation(err: unknown): boolean {
  const e = err as { code?: string; message?: string };
  return e.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(e.message ?? '');
}

/** Wrap a readable so that iteration yields Buffers and converts zlib's cut-stream error. */
async function* chunksOf(stream: Readable, compressed: boolean): AsyncGenerator<Buffer> {
  try {
    for await (const c of stream) yield c as Buffer;
  } catch (err) {
    if (compressed && gunzipErrorIsTruncation(err)) throw new TruncatedInputError('gzip stream is truncated');
    if (compressed) throw new TruncatedInputError(`gzip stream is corrupt: ${(err as Error).message}`);
    throw err;
  }
}

/**
 * Raw bytes of an open file from `start` on (null: from where the descriptor is, for a pipe).
 * Every read names its position, and the file is read through a FileHandle, whose close()
 * waits for a read still pending: a read left behind by a file given up early (binary, or
 * whose head was enough) can neither move the position of the next file opened under the
 * same descriptor number nor read from it. A read stream on a bare descriptor did both.
 */
async function* readAt(fh: FileHandle, start: number | null, chunk: number): AsyncGenerator<Buffer> {
  let pos = start;
  for (;;) {
    const buf = Buffer.allocUnsafe(chunk);
    const { bytesRead } = await fh.read(buf, 0, chunk, pos);
    if (bytesRead === 0) return;
    if (pos !== null) pos += bytesRead;
    yield bytesRead === chunk ? buf : buf.subarray(0, bytesRead);
  }
}

/** How long opening a FIFO may block before the wait is announced. */
const FIFO_NOTICE_MS = 1000;

/**
 * Open a path (or '-' for stdin) and read its head. Throws InputError with a one-line message.
 * Opening a FIFO waits for a writer; `onWait` hears of it once that takes more than a moment.
 */
export async function openContent(path: string, onWait?: ((message: string) => void) | null): Promise<OpenedContent> {
  const stdin = path === '-';
  let fh: FileHandle | null = null;
  let stat: FileStat | null = null;
  let seekable = false;
  let rawIter: AsyncIterator<Buffer>;
  if (stdin) {
    rawIter = process.stdin[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  } else {
    let size = 0;
    let notice: NodeJS.Timeout | null = null;
    try {
      if (onWait && statSync(path).isFIFO()) {
        notice = setTimeout(() => onWait(`waiting for a program to write to ${path} (a FIFO); it is read to its end once one does`), FIFO_NOTICE_MS);
      }
      fh = await open(path, 'r');
      if (notice) clearTimeout(notice);
      const st = await fh.stat();
      if (st.isDirectory()) throw Object.assign(new Error('is a directory'), { code: 'EISDIR' });
      seekable = st.isFile();
      size = st.size;
      // A pipe's size is 0 and its inode is new each time: only its content identifies it.
      if (seekable) stat = { dev: st.dev, ino: st.ino, size: st.size, mtime: st.mtimeMs };
    } catch (err) {
      if (notice) clearTimeout(notice);
      if (fh !== null) await fh.close().catch(() => undefined);
      throw new InputError(describeFsError(path, err));
    }
    // Small files get a small buffer: a 1 MiB buffer per file makes a directory of many files crawl.
    const chunk = seekable ? Math.min(1 << 20, Math.max(16 * 1024, size + 1)) : 64 * 1024;
    rawIter = readAt(fh, seekable ? 0 : null, chunk);
  }
  // Peek at the raw bytes to know whether to decompress.
  const first = await rawIter.next().catch(async (err: unknown) => {
    if (fh !== null) await fh.close().catch(() => undefined);
    throw new InputError(describeFsError(path, err));
  });
  const firstBuf: Buffer = first.done ? Buffer.alloc(0) : Buffer.from(first.value);
  const compressed = isGzip(firstBuf);
  let closed = false;

  // A single decompressed stream, from the start; its first chunks are kept for the head.
  async function* rawChunks(): AsyncGenerator<Buffer> {
    if (firstBuf.length) yield firstBuf;
    if (first.done) return;
    for (;;) {
      if (closed) return;
      const r = await rawIter.next();
      if (r.done) return;
      yield r.value;
    }
  }
  let contentIter: AsyncGenerator<Buffer>;
  let gunzip: Gunzip | null = null;
  if (compressed) {
    const gz = (gunzip = createGunzip());
    (async () => {
      try {
        for await (const c of rawChunks()) {
          if (closed) break;
          if (!gz.write(c)) await new Promise((r) => { gz.once('drain', r); gz.once('close', r); });
        }
        gz.end();
      } catch (err) { gz.destroy(err as Error); }
    })();
    contentIter = chunksOf(gz, true);
  } else contentIter = rawChunks();

  const buffered: Buffer[] = [];
  let have = 0;
  let ended = false;
  let pendingError: unknown = null;
  while (have < HEAD_BYTES) {
    let r: IteratorResult<Buffer>;
    try { r = await contentIter.next(); } catch (err) { pendingError = err; ended = true; break; }
    if (r.done) { ended = true; break; }
    buffered.push(r.value);
    have += r.value.length;
  }
  const all = Buffer.concat(buffered);
  const head = all.subarray(0, HEAD_BYTES);
  let used = false;

  const close = async () => {
    closed = true;
    contentIter.return(undefined as never).catch(() => undefined);
    gunzip?.destroy();
    if (fh !== null) { const h = fh; fh = null; await h.close().catch(() => undefined); }
  };

  async function* from(offset: number): AsyncGenerator<Buffer> {
    if (used) throw new Error('content already consumed');
    used = true;
    // A plain file resumed past its head: seek instead of reading through.
    if (!compressed && seekable && offset > all.length && fh !== null) {
      contentIter.return(undefined as never).catch(() => undefined);
      yield* readAt(fh, offset, 1 << 20);
      return;
    }
    let skip = offset;
    if (skip < all.length) yield all.subarray(skip);
    skip = Math.max(0, skip - all.length);
    if (pendingError) throw pendingError;
    if (ended) return;
    for (;;) {
      const r = await contentIter.next();
      if (r.done) return;
      let c = r.value;
      if (skip > 0) {
        if (c.length <= skip) { skip -= c.length; continue; }
        c = c.subarray(skip);
        skip = 0;
      }
      yield c;
    }
  }

  const current = (max: number): { head: Buffer; size: number | null } => {
    if (compressed || !seekable || fh === null) return { head, size: stat?.size ?? null };
    try {
      const size = fstatSync(fh.fd).size;
      if (head.length >= max || size <= head.length) return { head, size };
      const buf = Buffer.alloc(Math.min(max, size));
      const n = readSync(fh.fd, buf, 0, buf.length, 0);
      const fresh = buf.subarray(0, n);
      // Rewritten since it was opened: keep what the content stream will yield.
      return { head: fresh.subarray(0, head.length).equals(head) ? fresh : head, size };
    } catch {
      return { head, size: stat?.size ?? null };
    }
  };

  return { path, stdin, stream: stdin || !seekable, compressed, stat, head, from, current, close };
}
