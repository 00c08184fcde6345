/**
 * Evidence by reference (migration 12): a stored line is its file's id, its byte offset and
 * length in the file's (decompressed) content and a check of its text. This module reads such
 * lines back for the store's readers, which receive `raw` as before.
 *
 * The file is found by the fingerprint its `files` row keeps (sha1 of the first fp_len bytes
 * of the decompressed content): at its last known path, or under a rotated name beside it
 * (`name.1`, `name.1.gz`, `name-YYYYMMDD[.gz]`, `name.old`...), whichever holds the same
 * content. Lines are read per file in offset order, the file opened once: a plain file in
 * windows of about 1 MB, a gzip file decompressed as a stream only as far as the last offset
 * needed. A line whose file is gone, or whose check fails (the file was rewritten), is not
 * read from anywhere else: it comes back as unreadable, and readers say so instead of quoting
 * a different line.
 */
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { lineCheck, MAX_RAW_CHARS } from './evidence-check.js';

/** What a reader shows in place of a line it cannot read back (text, JSON and HTML alike). */
export const UNREADABLE = 'no longer readable';

/** Why a line could not be read back. */
export const UNREADABLE_GONE = 'the file (or a rotated copy of it) is no longer there';
export const UNREADABLE_CHANGED = 'the file no longer holds this line (rewritten or truncated)';
export const UNREADABLE_DENIED = 'the file cannot be read by this user (permission denied)';

export interface EvidenceRef { fileId: number; off: number; len: number; check: number }

/** A files row's identity, as far as finding its content again goes. */
export interface ContentIdentity { path: string; fpHash: string; fpLen: number }

/** A line read back: its text, or null and why not. */
export type ReadBack = { text: string } | { text: null; reason: string };

/** Rotation suffixes (one of them, then an optional .gz) a successor may carry. */
const ROTATION = /^(\.\d+|-\d{8}(\d{2})?|\.old)?(\.gz)?$/;
const STRIP_ROTATION = /(\.\d+|-\d{8}(\d{2})?|\.old)?(\.gz)?$/;
/** A plain file is read in windows of this size. */
const WINDOW = 1 << 20;

/** Decode a line's bytes as ingest did (UTF-8, the carriage return dropped, cut to the evidence length). */
function decodeLine(bytes: Buffer): string {
  let s = bytes.toString('utf8');
  if (s.length && s.charCodeAt(s.length - 1) === 13) s = s.slice(0, -1);
  return s.length > MAX_RAW_CHARS ? s.slice(0, MAX_RAW_CHARS) : s;
}

/** The names a file may carry now: its last known path first, then rotated names beside it. */
export function successorCandidates(path: string): string[] {
  const dir = dirname(path);
  const base = basename(path).replace(STRIP_ROTATION, '');
  let names: string[] = [];
  try { names = readdirSync(dir); } catch { /* no directory: only the path itself */ }
  const others = names.filter((n) => n.startsWith(base) && ROTATION.test(n.slice(base.length))).map((n) => join(dir, n)).filter((p) => p !== path);
  // name, name.1, name.1.gz, then the rest in name order.
  const rank = (p: string) => { const s = basename(p).slice(base.length); return s === '' ? 0 : s === '.1' ? 1 : s === '.1.gz' ? 2 : 3; };
  others.sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return [path, ...others];
}

function isGzipName(p: string): boolean { return p.endsWith('.gz'); }

/** The first `n` bytes of the (decompressed) content at `p`, null when it cannot be read, 'denied' when this user may not. */
async function headOf(p: string, n: number): Promise<Buffer | null | 'denied'> {
  try {
    if (!isGzipName(p)) {
      const fh = await open(p, 'r');
      try {
        const buf = Buffer.alloc(n);
        const { bytesRead } = await fh.read(buf, 0, n, 0);
        return buf.subarray(0, bytesRead);
      } finally { await fh.close(); }
    }
    const parts: Buffer[] = [];
    let have = 0;
    const z = createReadStream(p).pipe(createGunzip());
    try {
      for await (const c of z) {
        parts.push(c as Buffer);
        have += (c as Buffer).length;
        if (have >= n) break;
      }
    } finally { z.destroy(); }
    return Buffer.concat(parts).subarray(0, n);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'EACCES' || code === 'EPERM' ? 'denied' : null;
  }
}

/** Read the byte ranges `refs` (sorted by offset) from content at `p`; `put(i, bytes | null)` for each. */
async function readRanges(p: string, refs: EvidenceRef[], put: (i: number, bytes: Buffer | null) => void): Promise<void> {
  if (!isGzipName(p)) {
    const fh = await open(p, 'r');
    try {
      let wStart = 0;
      let win: Buffer = Buffer.alloc(0);
      for (let i = 0; i < refs.length; i++) {
        const r = refs[i];
        if (r.off < wStart || r.off + r.len > wStart + win.length) {
          // Up to WINDOW bytes, no further than the last line wanted (a single line reads only itself).
          const last = refs[refs.length - 1];
          const size = Math.max(r.len, Math.min(WINDOW, last.off + last.len - r.off));
          const buf = Buffer.allocUnsafe(size);
          const { bytesRead } = await fh.read(buf, 0, size, r.off);
          wStart = r.off;
          win = buf.subarray(0, bytesRead);
        }
        put(i, r.off + r.len <= wStart + win.length ? win.subarray(r.off - wStart, r.off - wStart + r.len) : null);
      }
    } finally { await fh.close(); }
    return;
  }
  // Decompress as a stream, keeping only the bytes from the next offset needed on.
  let next = 0;
  let bufStart = 0;
  let buf: Buffer = Buffer.alloc(0);
  const z = createReadStream(p).pipe(createGunzip());
  try {
    for await (const c of z) {
      const chunk = c as Buffer;
      const end = bufStart + buf.length + chunk.length;
      buf = buf.length ? Buffer.concat([buf, chunk]) : chunk;
      while (next < refs.length && refs[next].off + refs[next].len <= end) {
        const r = refs[next];
        put(next, r.off >= bufStart ? Buffer.from(buf.subarray(r.off - bufStart, r.off - bufStart + r.len)) : null);
        next++;
      }
      if (next >= refs.length) break;
      const keepFrom = Math.max(bufStart, Math.min(refs[next].off, end));
      buf = buf.subarray(keepFrom - bufStart);
      bufStart = keepFrom;
    }
  } catch { /* a cut or damaged stream: what was not reached is unreadable */ } finally { z.destroy(); }
  for (; next < refs.length; next++) put(next, null);
}

/**
 * Reads lines back by reference. Keeps which name each files row was found under, so that a
 * reader asking many times (investigate, whois-user) looks for a file once; a check that
 * fails under a remembered name looks again.
 */
export class EvidenceReader {
  private readonly found = new Map<number, string | null>();
  /** The files rows not found because a name that may hold them could not be opened by this user. */
  private readonly denied = new Set<number>();

  constructor(private readonly identityOf: (fileId: number) => ContentIdentity | null) {}

  /** Where the content of files row `fileId` is now, or null. */
  private async locate(fileId: number, fresh: boolean): Promise<string | null> {
    if (!fresh && this.found.has(fileId)) return this.found.get(fileId)!;
    const id = this.identityOf(fileId);
    let at: string | null = null;
    this.denied.delete(fileId);
    if (id) {
      for (const p of successorCandidates(id.path)) {
        const head = await headOf(p, id.fpLen);
        if (head === 'denied') { this.denied.add(fileId); continue; }
        if (head && head.length === id.fpLen && createHash('sha1').update(head).digest('hex') === id.fpHash) { at = p; break; }
      }
    }
    if (at !== null) this.denied.delete(fileId);
    this.found.set(fileId, at);
    return at;
  }

  /** The lines of `refs`, in their order. */
  async read(refs: EvidenceRef[]): Promise<ReadBack[]> {
    const out: ReadBack[] = new Array(refs.length);
    const byFile = new Map<number, number[]>();
    for (let i = 0; i < refs.length; i++) {
      let l = byFile.get(refs[i].fileId);
      if (!l) { l = []; byFile.set(refs[i].fileId, l); }
      l.push(i);
    }
    for (const [fileId, idx] of byFile) {
      idx.sort((a, b) => refs[a].off - refs[b].off);
      let todo = idx;
      for (const fresh of [false, true]) {
        const at = await this.locate(fileId, fresh);
        if (at === null) {
          const reason = this.denied.has(fileId) ? UNREADABLE_DENIED : UNREADABLE_GONE;
          for (const i of todo) out[i] = { text: null, reason };
          break;
        }
        const sorted = todo.map((i) => refs[i]);
        const failed: number[] = [];
        try {
          await readRanges(at, sorted, (k, bytes) => {
            const i = todo[k];
            const text = bytes === null ? null : decodeLine(bytes);
            if (text !== null && lineCheck(text) === refs[i].check) out[i] = { text };
            else { out[i] = { text: null, reason: UNREADABLE_CHANGED }; failed.push(i); }
          });
        } catch {
          for (const i of todo) { out[i] = { text: null, reason: UNREADABLE_GONE }; failed.push(i); }
        }
        // A remembered name may hold another file by now: look once more for the lines that failed.
        if (!failed.length || fresh || !this.found.has(fileId)) break;
        const before = at;
        if ((await this.locate(fileId, true)) === before) break;
        todo = failed;
      }
    }
    return out;
  }
}
