/**
 * `bytetrail flows`: the stored flow records of a past window, as top talkers (by remote
 * address, service or local port) or as a per-minute time series, from ONE flow source: the
 * most complete wire source in the window unless one is named. Two sources are never added
 * together: a capture and conntrack see the same traffic.
 */
import { UserError } from '../errors.js';
import { COUNTER_FLOW_SOURCES, type CounterKind } from '../sources/counters.js';
import { clean, dateTime, formatBytes, pad, padStart, percent, sparkline } from '../render/format.js';
import type { FlowTotals } from '../store/index.js';
import type { ReadStore } from '../store/read.js';

/** Sources that count packets on the wire (or in the kernel): preferred, the largest first. */
export const WIRE_SOURCES: readonly string[] = ['pcap', 'capture', 'conntrack'];
/** The wire sources, then the counter sources' own (src/sources/counters/: `openvpn-status`, `wireguard`). */
export const FLOW_SOURCES: readonly string[] = [...WIRE_SOURCES, ...COUNTER_FLOW_SOURCES];
export type FlowSource = 'pcap' | 'capture' | 'conntrack' | CounterKind;

export const FLOWS_BY = ['remote', 'service', 'local-port', 'minute'] as const;
export type FlowsBy = (typeof FLOWS_BY)[number];

export interface FlowsQuery {
  from: number;
  to: number;
  by: FlowsBy;
  /** Rows for remote, service and local-port; `minute` lists every minute of the window. */
  top: number;
  source?: FlowSource;
}

export interface FlowsRow extends FlowTotals {
  /** The remote address ('' for non-IP frames), the service, the local port, or the minute (ISO). */
  key: string;
}

export interface FlowsReport {
  window: { from: string; to: string };
  /** The source the figures come from; null when no source has data in the window. */
  source: FlowSource | null;
  /** Why that source: `chosen` (--source) or `most-complete`. */
  sourceReason: 'chosen' | 'most-complete' | 'none';
  /** Every source with data in the window, largest first; only `source` is counted. */
  sources: Array<{ source: string; bytesIn: number; bytesOut: number }>;
  by: FlowsBy;
  totals: FlowTotals;
  rows: FlowsRow[];
  /** How many keys there are in all (rows holds the `top` largest of them). */
  groups: number;
}

const MINUTE = 60_000;
const ZERO: FlowTotals = { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };

/**
 * The source to read: the one asked for, else the wire source (pcap, capture, conntrack) with
 * the most bytes in the window, else openvpn-status (the VPN's own counters), else none.
 */
export function chooseFlowSource(available: Array<{ source: string; bytesIn: number; bytesOut: number }>, forced?: FlowSource): { source: FlowSource | null; reason: FlowsReport['sourceReason'] } {
  if (forced) return { source: forced, reason: 'chosen' };
  const wire = available.filter((s) => (WIRE_SOURCES as readonly string[]).includes(s.source))
    .sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut) || WIRE_SOURCES.indexOf(a.source as FlowSource) - WIRE_SOURCES.indexOf(b.source as FlowSource));
  if (wire.length) return { source: wire[0].source as FlowSource, reason: 'most-complete' };
  // Else a VPN's own counters, the largest; OpenVPN's before WireGuard's when equal, in registry order.
  const counters = available.filter((s) => (COUNTER_FLOW_SOURCES as readonly string[]).includes(s.source))
    .sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut) || COUNTER_FLOW_SOURCES.indexOf(a.source as CounterKind) - COUNTER_FLOW_SOURCES.indexOf(b.source as CounterKind));
  if (counters.length) return { source: counters[0].source as FlowSource, reason: 'most-complete' };
  return { source: null, reason: 'none' };
}

export async function queryFlows(store: ReadStore, q: FlowsQuery): Promise<FlowsReport> {
  if (!Number.isInteger(q.top) || q.top < 1) throw new UserError(`--top must be a whole number of 1 or more, not ${q.top}`);
  if (!(q.from < q.to)) throw new UserError('the window is empty');
  const sources = (await store.flowSources(q.from, q.to))
    .map((s) => ({ source: s.source, bytesIn: s.bytesIn, bytesOut: s.bytesOut }))
    .sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut) || (a.source < b.source ? -1 : 1));
  const { source, reason } = chooseFlowSource(sources, q.source);
  const window = { from: new Date(q.from).toISOString(), to: new Date(q.to).toISOString() };
  const base = { window, source, sourceReason: reason, sources, by: q.by };
  if (source === null) {
    return { ...base, totals: { ...ZERO }, rows: q.by === 'minute' ? minuteSeries([], q.from, q.to) : [], groups: 0 };
  }
  const totals = await store.flowTotals(source, q.from, q.to);
  const g = await store.flowGroups(source, q.by, q.from, q.to, q.top);
  if (q.by === 'minute') {
    const rows = minuteSeries(g.rows.map((r) => ({ ...r, key: Number(r.key) })), q.from, q.to);
    return { ...base, totals, rows, groups: g.groups };
  }
  return { ...base, totals, rows: g.rows.map((r) => ({ key: String(r.key), bytesIn: r.bytesIn, bytesOut: r.bytesOut, packetsIn: r.packetsIn, packetsOut: r.packetsOut })), groups: g.groups };
}

/** Every minute that starts in [from, to), oldest first, zero where nothing was stored. */
function minuteSeries(rows: Array<FlowTotals & { key: number }>, from: number, to: number): FlowsRow[] {
  const by = new Map(rows.map((r) => [r.key, r]));
  const out: FlowsRow[] = [];
  for (let m = Math.ceil(from / MINUTE) * MINUTE; m < to; m += MINUTE) {
    const r = by.get(m);
    out.push({ key: new Date(m).toISOString(), bytesIn: r?.bytesIn ?? 0, bytesOut: r?.bytesOut ?? 0, packetsIn: r?.packetsIn ?? 0, packetsOut: r?.packetsOut ?? 0 });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Text

const HEADING: Record<FlowsBy, string> = { remote: 'REMOTE', service: 'SERVICE', 'local-port': 'LOCAL PORT', minute: 'MINUTE' };
const PLURAL: Record<Exclude<FlowsBy, 'minute'>, string> = { remote: 'remote addresses', service: 'services', 'local-port': 'local ports' };
/** Lines of a time series at most; minutes are summed into larger steps beyond. */
const SERIES_LINES = 60;
const SERIES_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 360, 720, 1440];

/** The report as text for a terminal: a table of the top rows, or a small time series. */
export function renderFlowsText(r: FlowsReport): string {
  const out: string[] = [];
  const windowText = `${dateTime(r.window.from)} – ${dateTime(r.window.to)} UTC`;
  if (r.source === null) {
    out.push(`No flow records between ${windowText}.`);
    out.push('Ingest a capture, conntrack listings or OpenVPN status files (bytetrail ingest), or run bytetrail capture.');
    return out.join('\n');
  }
  const others = r.sources.filter((s) => s.source !== r.source);
  const why = r.sourceReason === 'chosen' ? 'chosen' : r.source === 'openvpn-status' ? 'the only source here' : 'the most complete here';
  out.push(`Flows ${windowText}, source ${r.source} (${why})`);
  if (others.length) out.push(`  also stored for this window, not added: ${others.map((s) => `${s.source} ${formatBytes(s.bytesIn + s.bytesOut)}`).join(', ')}`);
  out.push('');
  const total = r.totals.bytesIn + r.totals.bytesOut;
  if (r.by === 'minute') out.push(...seriesLines(r));
  else {
    const label = (k: string) => (r.by === 'remote' && k === '' ? '(non-IP)' : clean(k));
    const w = Math.max(HEADING[r.by].length, 12, ...r.rows.map((x) => label(x.key).length));
    const line = (a: string, i: string, o: string, s: string) => `${pad(a, w)}  ${padStart(i, 10)}  ${padStart(o, 10)}  ${padStart(s, 6)}`;
    out.push(line(HEADING[r.by], 'IN', 'OUT', 'SHARE'));
    let restIn = r.totals.bytesIn, restOut = r.totals.bytesOut;
    for (const x of r.rows) {
      restIn -= x.bytesIn; restOut -= x.bytesOut;
      out.push(line(label(x.key), formatBytes(x.bytesIn), formatBytes(x.bytesOut), percent(total ? (x.bytesIn + x.bytesOut) / total : 0)));
    }
    if (r.groups > r.rows.length) {
      out.push(`… ${r.groups - r.rows.length} more ${PLURAL[r.by]}`);
      out.push(line('  (together)', formatBytes(restIn), formatBytes(restOut), percent(total ? (restIn + restOut) / total : 0)));
    }
    out.push(line('TOTAL', formatBytes(r.totals.bytesIn), formatBytes(r.totals.bytesOut), total ? '100%' : '0%'));
  }
  out.push('');
  out.push(`In: ${formatBytes(r.totals.bytesIn)} in ${r.totals.packetsIn.toLocaleString('en-US')} packets; out: ${formatBytes(r.totals.bytesOut)} in ${r.totals.packetsOut.toLocaleString('en-US')} packets (received and sent by the server).`);
  if (r.source === 'openvpn-status') out.push('OpenVPN status counters carry no packet counts, and count the tunnel\'s payload, not IP and UDP headers.');
  return out.join('\n');
}

function seriesLines(r: FlowsReport): string[] {
  const n = r.rows.length;
  const step = SERIES_STEPS.find((s) => Math.ceil(n / s) <= SERIES_LINES) ?? Math.ceil(n / SERIES_LINES);
  const buckets: Array<{ t: string; bytesIn: number; bytesOut: number }> = [];
  for (let i = 0; i < n; i += step) {
    const part = r.rows.slice(i, i + step);
    buckets.push({ t: part[0].key, bytesIn: part.reduce((a, x) => a + x.bytesIn, 0), bytesOut: part.reduce((a, x) => a + x.bytesOut, 0) });
  }
  const max = Math.max(0, ...buckets.map((b) => b.bytesIn + b.bytesOut));
  const out = [`${sparkline(r.rows.map((x) => x.bytesIn + x.bytesOut), 60)}  (${step === 1 ? 'per minute' : `per ${step} minutes`}, ${n} minutes)`, ''];
  out.push(`${pad('START', 16)}  ${padStart('IN', 10)}  ${padStart('OUT', 10)}`);
  for (const b of buckets) {
    const bar = max > 0 ? '#'.repeat(Math.round(((b.bytesIn + b.bytesOut) / max) * 30)) : '';
    out.push(`${pad(dateTime(b.t), 16)}  ${padStart(formatBytes(b.bytesIn), 10)}  ${padStart(formatBytes(b.bytesOut), 10)}  ${bar}`);
  }
  return out;
}
