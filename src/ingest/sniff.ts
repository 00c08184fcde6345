/** Recognise what a file holds from its first bytes, never from its name. */
import { CONNTRACK_TRAILER } from '../flows/conntrack.js';
import { counterSourceOf } from '../sources/counters.js';
import type { FileKind } from '../store/index.js';

const CONNTRACK_LINE = /^[ \t]*(?:\[\d+\.\d+\][ \t]+)?(?:\[(?:NEW|UPDATE|DESTROY)\][ \t]+)?(?:ipv[46][ \t]+\d+[ \t]+)?[a-z][a-z0-9]*[ \t]+\d{1,3}[ \t]+(?:\d+[ \t]+)?(?:[A-Z][A-Z_]+[ \t]+)?src=\S/m;

export type Sniffed = { kind: FileKind } | { kind: 'binary'; why: string } | { kind: 'empty' };

const PCAP_MAGICS = new Set([0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0x0a0d0d0a]);

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/** `head` is the start of the decompressed content. */
export function sniffContent(head: Buffer): Sniffed {
  if (head.length === 0) return { kind: 'empty' };
  if (head.length >= 4 && PCAP_MAGICS.has(head.readUInt32BE(0))) return { kind: 'pcap' };
  const text = head.subarray(0, Math.min(head.length, 4096)).toString('latin1');
  const trimmed = text.trimStart();
  // OpenVPN status files, WireGuard dumps and configurations: each counter source knows its own (src/sources/counters.ts).
  const counter = counterSourceOf(trimmed);
  if (counter) return { kind: counter.kind };
  if (trimmed.startsWith('{') && /"vnstatversion"\s*:/.test(text)) return { kind: 'vnstat' };
  // conntrack -L / /proc/net/nf_conntrack lines, also offloaded entries (no timeout) and -E events.
  if (CONNTRACK_LINE.test(trimmed.slice(0, 512))) return { kind: 'conntrack' };
  // A listing of an empty table saved with 2>&1 is only the trailer; it still dates an instant
  // with no connection (new ones began after it), so it is a listing, not a log line.
  if (CONNTRACK_TRAILER.test(trimmed.split('\n', 1)[0].trimEnd())) return { kind: 'conntrack' };
  // Binary: NULs or control bytes in more than a tenth of the first 4 KiB.
  let bad = 0;
  const n = Math.min(head.length, 4096);
  for (let i = 0; i < n; i++) {
    const c = head[i];
    if (c === 0 || (c < 32 && c !== 9 && c !== 10 && c !== 13 && c !== 12 && c !== 27)) bad++;
  }
  if (bad > n / 10) return { kind: 'binary', why: `${Math.round((bad * 100) / n)}% control bytes in the first ${n} bytes` };
  return { kind: 'log' };
}
