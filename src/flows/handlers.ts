/**
 * Ingest handlers for non-log inputs. A capture is aggregated whole and committed in one
 * transaction with its flows; the time of its last packet is kept, so a capture that has grown
 * since (tcpdump still writing) adds only newer packets, and the same capture read again adds
 * nothing.
 *
 * A counter snapshot (conntrack listing, OpenVPN status file, vnstat export) is read whole and
 * known by the hash of its content: the same snapshot read again adds nothing. Its deltas are
 * computed from the delta engine's stored state (snapshots.ts), and the flows, leases, interface
 * totals, the new state and the snapshot's record are committed in one transaction.
 */
import { basename } from 'node:path';
import type { IngestOptions, KindHandler } from '../ingest/index.js';
import { sha1, type OpenedContent } from '../ingest/content.js';
import type { FileKind, FileRecord } from '../store/index.js';
import type { WriteStore } from '../store/write.js';
import { FlowAggregator, RowSpill } from './aggregate.js';
import { readCapture, type CaptureSink } from './pcap.js';
import { COUNTER_SOURCES } from '../sources/counters.js';
import { CONNTRACK_STATE_KEY, conntrackSnapshot, type SnapshotResult, vnstatSnapshot } from './snapshots.js';

const pcapHandler: KindHandler = async (store, content, file, _startOffset, opts) => {
  // Finished rows wait in a temporary file, not in memory, for the inference to see the whole
  // capture: peak RSS stays flat whatever the capture's size.
  let spill: RowSpill | undefined;
  let spillWarning: string[] = [];
  try {
    spill = new RowSpill();
  } catch (err) {
    // No writable temporary folder: the rows stay in memory, as they did before the spill.
    spillWarning = [`cannot create a temporary file (${(err as Error).message}): flow records held in memory until the end (set TMPDIR)`];
  }
  try {
    const r = await ingestCapture(store, content, file, opts, spill);
    return { ...r, warnings: [...spillWarning, ...r.warnings] };
  } finally {
    spill?.close();
  }
};

async function ingestCapture(store: WriteStore, content: OpenedContent, file: FileRecord, opts: IngestOptions, spill: RowSpill | undefined): ReturnType<KindHandler> {
  const stateKey = `pcap-last:${file.id}`;
  const last = Number(store.getState(stateKey) ?? '-1');
  const agg = new FlowAggregator({ localIps: opts.localIps, servicePorts: opts.servicePorts, spill, fold: true });
  let newest = last;
  let skipped = 0;
  // Only packets after the last one already stored pass to the aggregator.
  const sink: CaptureSink = {
    iface: (d) => agg.iface(d),
    packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen) {
      const t = tsSec * 1000 + tsNsec / 1e6;
      if (t <= last) { skipped++; return; }
      if (t > newest) newest = t;
      agg.packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen);
    },
  };
  let bytesRead = 0;
  async function* counted() {
    for await (const c of content.from(0)) { bytesRead += c.length; yield c; }
  }
  const read = await readCapture(counted(), sink, { refTime: fileTimeOf(content, opts) });
  const summary = agg.summary();
  // The records are resolved a slice at a time inside the one transaction, so that a busy
  // day's half a million records never exist as objects all at once (peak RSS).
  let records = 0;
  const ok = store.commitBatch({
    fileId: file.id, expectOffset: file.offset, newOffset: bytesRead, newLines: file.lines, tailHash: null,
    events: [], aggs: [], stats: [], unparsed: [],
    flowSlices: { source: 'pcap', fill: (write) => { records = agg.finishEachPacked(write); } },
    counterState: [{ key: stateKey, value: String(newest) }],
  });
  const warnings = [...read.warnings, ...summary.warnings];
  if (!ok) warnings.push('another bytetrail process stored this capture first; nothing added');
  if (skipped && records === 0) { /* the same capture again: nothing new */ }
  return { records: ok ? records : 0, bytesRead, newOffset: bytesRead, warnings, label: 'flow records (pcap)' };
}

/** Snapshots larger than this are not read (a conntrack table of a million entries is about 300 MB). */
export const SNAPSHOT_MAX_BYTES = 256 << 20;
/** How often a snapshot is recomputed when another process stores one of the same source meanwhile. */
const RACE_RETRIES = 5;

type SnapshotKind = Exclude<FileKind, 'log' | 'pcap'>;

interface SnapshotInput {
  text: string;
  /** The file's time: its mtime, or now for stdin and /proc files (whose mtime is not the read time, and size 0). */
  fileTime: number;
  /** The file's name without its folder. */
  name: string;
}

/**
 * The generic part of a snapshot handler: read, hash, skip if seen, compute from the stored
 * state, commit all-or-nothing, and start over from the new state if another process won.
 */
function snapshotHandler(kind: SnapshotKind, label: string, stateKey: string | null,
  compute: (input: SnapshotInput, prevState: string | null, opts: IngestOptions) => SnapshotResult): KindHandler {
  return async (store, content, file, _startOffset, opts) => {
    const read = await readWhole(content, SNAPSHOT_MAX_BYTES);
    if (read.buf === null) {
      return { records: 0, bytesRead: 0, newOffset: file.offset, warnings: [`larger than ${SNAPSHOT_MAX_BYTES >> 20} MB: not read as a ${kind} snapshot (split it, or filter the listing)`], label };
    }
    const hash = sha1(read.buf);
    if (store.snapshotSeen(kind, hash)) return { records: 0, bytesRead: read.bytes, newOffset: file.offset, warnings: [], label };
    const input: SnapshotInput = { text: read.buf.toString('utf8'), fileTime: fileTimeOf(content, opts), name: content.stdin ? '' : basename(content.path) };
    const lines = countLines(read.buf);
    for (let attempt = 0; ; attempt++) {
      const prev = stateKey ? store.getState(stateKey) : null;
      const r = compute(input, prev, opts);
      // Not a snapshot this reads (a vnstat rate sample, a client status file): nothing stored, so it is reported every time.
      if (r.error !== undefined) return { records: 0, bytesRead: read.bytes, newOffset: file.offset, warnings: [r.error, ...r.warnings], label };
      const cur = store.fileById(file.id);
      const outcome = store.commitSnapshot({
        fileId: file.id, expectOffset: cur?.offset ?? file.offset, newOffset: read.bytes, newLines: lines, tailHash: null,
        events: [], aggs: [], unparsed: r.unparsed.map((u) => ({ ...u, source: kind })),
        stats: [{ source: kind, events: r.entries, skipped: 0, unparsed: r.unparsedCount }],
        flows: r.flows.length ? { source: kind, records: r.flows } : undefined,
        leases: r.leases, ifaceTotals: r.ifaceTotals, openConns: r.openConns,
        counterState: stateKey && r.state !== null ? [{ key: stateKey, value: r.state }] : [],
      }, { kind, contentHash: hash, path: content.stdin ? '(stdin)' : content.path, ts: Math.round(r.ts) },
      stateKey ? { key: stateKey, value: prev } : undefined);
      if (outcome === 'stored') {
        for (const u of r.unparsed) opts.onUnparsed?.({ ...u, source: kind, path: content.stdin ? '(stdin)' : content.path });
        return { records: r.flows.length + r.leases.length + r.ifaceTotals.length, bytesRead: read.bytes, newOffset: read.bytes, warnings: r.warnings, label };
      }
      if (outcome === 'seen') return { records: 0, bytesRead: read.bytes, newOffset: file.offset, warnings: [], label };
      if (attempt >= RACE_RETRIES) {
        return { records: 0, bytesRead: read.bytes, newOffset: file.offset, warnings: ['other bytetrail processes kept storing snapshots of this kind: not stored this time; ingest it again'], label };
      }
    }
  };
}

/** The content, whole, or null beyond `max` bytes. */
async function readWhole(content: OpenedContent, max: number): Promise<{ buf: Buffer | null; bytes: number }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of content.from(0)) {
    bytes += c.length;
    if (bytes > max) return { buf: null, bytes };
    chunks.push(c);
  }
  return { buf: Buffer.concat(chunks, bytes), bytes };
}

function countLines(buf: Buffer): number {
  let n = 0;
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) n++;
  return buf.length && buf[buf.length - 1] !== 10 ? n + 1 : n;
}

function fileTimeOf(content: OpenedContent, opts: IngestOptions): number {
  if (content.stdin || !content.stat || content.stat.size === 0 || content.path.startsWith('/proc/')) return opts.now;
  return Math.round(content.stat.mtime);
}

const conntrackHandler = snapshotHandler('conntrack', 'flow records (conntrack)', CONNTRACK_STATE_KEY, (input, prev, opts) =>
  conntrackSnapshot(input.text, prev, { tz: opts.tz, ts: input.fileTime, localIps: opts.localIps, servicePorts: opts.servicePorts }));

const vnstatHandler = snapshotHandler('vnstat', 'interface totals (vnstat)', null, (input, _prev, opts) =>
  vnstatSnapshot(input.text, { tz: opts.tz, fileTime: input.fileTime }));

export function flowHandlers(): NonNullable<IngestOptions['handlers']> {
  const handlers: NonNullable<IngestOptions['handlers']> = { pcap: pcapHandler, conntrack: conntrackHandler, vnstat: vnstatHandler };
  for (const c of COUNTER_SOURCES) handlers[c.kind] = snapshotHandler(c.kind, c.label, c.stateKey, (input, prev, opts) => c.compute(input, prev, opts));
  return handlers;
}
