/**
 * What a counter snapshot becomes, and how a counter's delta is spread over the minutes it covers
 * (see flows/snapshots.ts for why). Apart from snapshots.ts because the counter sources
 * (src/sources/counters/) build on it, and snapshots.ts builds on the service table, which
 * is derived from the counter sources: importing it from a counter source would be a cycle
 * that the registry's top-level await cannot settle.
 */
import type { IfaceTotalInput, LeaseInput, OpenConnInput } from '../store/index.js';
import type { FlowRecord } from './types.js';

export const MINUTE = 60_000;
/** Step sizes in minutes for spreading a span; the smallest that keeps it within MAX_SPREAD_ROWS. */
const SPREAD_STEPS = [1, 5, 15, 60, 360, 1440];
const MAX_SPREAD_ROWS = 360;


export interface SnapshotResult {
  /** The snapshot's time (UTC ms). */
  ts: number;
  flows: FlowRecord[];
  leases: LeaseInput[];
  ifaceTotals: IfaceTotalInput[];
  /** Connections of a first listing whose start is unknown (not counted as flows; investigate dates them by their sessions). */
  openConns?: OpenConnInput[];
  /** The engine's state after this snapshot (JSON text), or null when the kind keeps none. */
  state: string | null;
  warnings: string[];
  /** Lines that were not understood: 1-based line number, reason, text. */
  unparsed: Array<{ line: number; reason: string; text: string }>;
  unparsedCount: number;
  /** Entries (conntrack), clients (OpenVPN) or series points (vnstat) read. */
  entries: number;
  /** Set when the text is not a snapshot of this kind at all: nothing is to be stored. */
  error?: string;
}

// ---------------------------------------------------------------------------------------------
// Spreading a delta over minutes

/**
 * Split each of `values` over [since, ts) in proportion to time, in whole units whose sums are
 * exact. Returns one element per step of the span that gets anything, oldest first, its
 * `minute` the step's start (UTC ms, a whole minute). `since >= ts` puts everything in the
 * minute of `ts`.
 */
export function spreadOver(sinceMs: number, tsMs: number, values: number[]): Array<{ minute: number; values: number[] }> {
  const since = Math.round(sinceMs), ts = Math.round(tsMs);
  if (!(since < ts)) return [{ minute: ts - (((ts % MINUTE) + MINUTE) % MINUTE), values: values.slice() }];
  const spanMinutes = Math.ceil((ts - since) / MINUTE) + 1;
  const step = (SPREAD_STEPS.find((s) => Math.ceil(spanMinutes / s) + 1 <= MAX_SPREAD_ROWS) ?? SPREAD_STEPS[SPREAD_STEPS.length - 1]) * MINUTE;
  const first = Math.floor(since / step) * step;
  const total = BigInt(ts - since);
  const out: Array<{ minute: number; values: number[] }> = [];
  const bigValues = values.map((v) => BigInt(Math.round(v)));
  const given = values.map(() => 0n);
  let covered = 0n;
  for (let start = first; start < ts; start += step) {
    const overlap = Math.min(start + step, ts) - Math.max(start, since);
    if (overlap <= 0) continue;
    covered += BigInt(overlap);
    // Cumulative rounding: the first k steps get floor(v * covered_k / total) in all.
    const row = bigValues.map((v, i) => {
      const upTo = (v * covered) / total;
      const here = upTo - given[i];
      given[i] = upTo;
      return Number(here);
    });
    if (row.some((x) => x !== 0)) out.push({ minute: start, values: row });
  }
  return out;
}

/** Sum records with the same key (minute, iface, proto, lip, lport, rip, rport) into one. */
export function mergeFlows(records: FlowRecord[]): FlowRecord[] {
  const by = new Map<string, FlowRecord>();
  for (const r of records) {
    const k = `${r.minute}|${r.iface}|${r.proto}|${r.lip}|${r.lport}|${r.rip}|${r.rport}`;
    const have = by.get(k);
    if (!have) { by.set(k, { ...r }); continue; }
    have.bytesIn += r.bytesIn; have.bytesOut += r.bytesOut;
    have.packetsIn += r.packetsIn; have.packetsOut += r.packetsOut;
  }
  return [...by.values()].sort((a, b) => a.minute - b.minute || (a.rip < b.rip ? -1 : a.rip > b.rip ? 1 : 0) || a.rport - b.rport || a.lport - b.lport);
}

export function spreadFlow(base: Omit<FlowRecord, 'minute' | 'bytesIn' | 'bytesOut' | 'packetsIn' | 'packetsOut'>, since: number, ts: number,
  c: { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }): FlowRecord[] {
  return spreadOver(since, ts, [c.bytesIn, c.bytesOut, c.packetsIn, c.packetsOut]).map(({ minute, values }) => ({
    ...base, minute, bytesIn: values[0], bytesOut: values[1], packetsIn: values[2], packetsOut: values[3],
  }));
}

export const fmt = (n: number) => n.toLocaleString('en-US');
export const iso = (t: number) => new Date(t).toISOString();
