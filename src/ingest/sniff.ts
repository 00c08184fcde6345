/** Recognise what a file holds from its first bytes, never from its name. */
import { CONNTRACK_TRAILER } from '../flows/conntrack.js';
import { counterSourceOf } from '../sources/counters.js';
import type { FileKind } from '../store/index.js';

const CONNTRACK_LINE = /^[ \t]*(?:\[\d+\.\d+\][ \t]+)?(?:\[(?:NEW|UPDATE|DESTROY)\][ \t]+)?(?:ipv[46][ \t]+\d+[ \t]+)?[a-z][a-z0-9]*[ \t]+\d{1,3}[ \t]+(?:\d+[ \t]+)?(?:[A-Z][A-Z_]+[ \t]+)?src=\S/m;

/**
 * A counter source's kind is any string its module names (src/sources/counters/), so `kind`
 * alone no longer tells `binary` apart for the compiler: `why` is there only on `binary`.
 */
export type Sniffed = { kind: FileKind; why?: never } | { kind: 'binary'; why: string } | { kind: 'empty'; why?: never };

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');
const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a]);

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** `head` is the start of the decompressed content. */
export function sniffContent(head: Buffer): Sniffed {
  if (head.length === 0) return { kind: 'empty' };
  if (head.length >= 4 && PCAP_MAGICS.has(head.readUInt32BE(0))) return { kind: 'pcap' };
  // A database (bytetrail's own, kept beside the logs) is not text, whatever its first pages hold.
  if (head.subarray(0, SQLITE_MAGIC.length).equals(SQLITE_MAGIC)) return { kind: 'binary', why: 'an SQLite database' };
  const text = head.subarray(0, Math.min(head.length, 4096)).toString('latin1');
  const trimmed = text.trimStart();
  // OpenVPN status files, WireGuard dumps and configurations: each counter source knows its own (src/sources/counters/).
  const counter = counterSourceOf(trimmed);
  if (counter) return { kind: counter.kind };
  if (trimmed.startsWith('{') && /"vnstatversion"\s*:/.test(text)) return { kind: 'vnstat' };
  // conntrack -L / /proc/net/nf_conntrack lines, also offloaded entries (no timeout) and -E events.
  if (CONNTRACK_LINE.test(trimmed.slice(0, 512))) return { kind: 'conntrack' };
  // A listing of an empty table saved with 2>&1 is only the trailer; it still dates an instant
  // with no connection (new ones began after it), so it is a listing, not a log line.
  if (CONNTRACK_TRAILER.test(trimmed.split('\n', 1)[0].trimEnd())) return { kind: 'conntrack' };
  const judged = binaryShare(head.subarray(0, Math.min(head.length, SNIFF_BYTES)));
  if (judged.share > 0.5) return { kind: 'binary', why: `${Math.round(judged.share * 100)}% of the first ${judged.bytes} bytes in lines of NUL or control bytes` };
  return { kind: 'log' };
}

/** Bytes judged: enough lines to see past a damaged start, few enough to stay cheap per file. */
const SNIFF_BYTES = 16 * 1024;

/** NUL, or a C0 control byte other than tab, LF, FF, CR and ESC (colour codes appear in logs). */
function isControl(c: number): boolean {
  return c === 0 || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27);
}

/**
 * The share of `buf` in lines that are not text: lines with a NUL, or with more than a tenth
 * control bytes. Judging by lines rather than by bytes overall keeps a log whose start has a
 * few NULs (a crash leaves a run of them) a log, with those lines counted as unparsed, while
 * random data (a NUL about every 256 bytes), wtmp records and sparse files (lastlog) are binary.
 */
export function binaryShare(buf: Buffer): { share: number; bytes: number } {
  let bad = 0;
  let lineStart = 0;
  let control = 0;
  let nul = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i];
    if (isControl(c)) { control++; if (c === 0) nul = true; }
    if (c === 10 || i === buf.length - 1) {
      const len = i + 1 - lineStart;
      if (nul || control * 10 > len) bad += len;
      lineStart = i + 1; control = 0; nul = false;
    }
  }
  return { share: buf.length ? bad / buf.length : 0, bytes: buf.length };
}
