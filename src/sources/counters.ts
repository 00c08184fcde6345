/**
 * The counter source registry: snapshot files whose counters say how many bytes each client or
 * peer moved (OpenVPN status files, `wg show all dump`, WireGuard configurations for the peers'
 * names), found in src/sources/counters/ (one module each, exporting `source`). The file kinds,
 * the snapshot kinds of ingest, the ingest handlers, the counter flow sources (`--source`), the
 * live files investigate reads and their service ports are derived from here: adding a counter
 * source is adding its module (and its fixtures).
 *
 * Loaded like the log sources (src/sources/index.ts), with a top-level await, and under the same
 * rule: a module in counters/ must not import this registry, flows/services.ts or
 * flows/snapshots.ts (which builds on the service table), directly or through what it imports;
 * flows/spread.ts is what they share. Kept apart from the log registry because flows/services.ts,
 * which the log sources' service ports feed, reads this one.
 */
import { loadSourceModules } from './load.js';
import type { CounterSource } from './types.js';

export type { CounterInput, CounterSource } from './types.js';

/** The counter source modules, in sniffing order. */
async function loadModules(): Promise<CounterSource[]> {
  const out = await loadSourceModules<CounterSource>(new URL('./counters/', import.meta.url));
  out.sort((a, b) => a.rank - b.rank);
  for (let i = 0; i < out.length; i++) {
    if (out.findIndex((c) => c.kind === out[i].kind) !== i) throw new Error(`counter source ${out[i].kind} registered twice`);
    if (i > 0 && out[i - 1].rank === out[i].rank) throw new Error(`counter sources ${out[i - 1].kind} and ${out[i].kind} have the same rank ${out[i].rank}`);
  }
  return out;
}

/** In the order files are tested (the first whose sniff accepts a file takes it). */
export const COUNTER_SOURCES: readonly CounterSource[] = await loadModules();
/** A counter source's file kind (`openvpn-status`, `wireguard`, ...). */
export type CounterKind = string;

/** Counter sources whose records are a flow source. */
export const COUNTER_FLOW_SOURCES: readonly CounterKind[] = COUNTER_SOURCES.filter((c) => c.flows).map((c) => c.kind);

export function counterSourceOf(head: string): CounterSource | null {
  return COUNTER_SOURCES.find((c) => c.sniff(head)) ?? null;
}
