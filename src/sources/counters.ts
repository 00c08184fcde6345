/**
 * Counter sources: snapshot files whose counters say how many bytes each client or peer moved
 * (OpenVPN status files, `wg show all dump`, WireGuard configurations for the peers' names).
 * Each declares how its files are recognised, its state key in the delta engine, and how a
 * snapshot becomes flow records, leases and the engine's next state. The file kinds, the
 * snapshot kinds of ingest, the ingest handlers and the counter flow sources (`--source`) are
 * derived from this list. Kept apart from src/sources/index.ts because it builds on
 * flows/snapshots.ts, which the log sources' service ports feed.
 */
import { OPENVPN_STATE_KEY, openvpnStatusSnapshot, type SnapshotResult } from '../flows/snapshots.js';
import type { ServicePorts } from '../flows/types.js';
import { isOpenvpnStatus } from '../parsers/openvpn-status.js';
import type { ServicePort } from './types.js';
import { isWgConfig, isWgDump, WIREGUARD_STATE_KEY, wireguardConfigSnapshot, wireguardDumpSnapshot } from './wireguard.js';

export interface CounterInput {
  text: string;
  /** The file's time: its mtime, or now for stdin and /proc files. */
  fileTime: number;
  /** The file's name without its folder (a one-interface `wg show wg0 dump` is named by it). */
  name: string;
}

export interface CounterSource<K extends string = string> {
  /** The file kind, and the flow source name of its flow records. */
  kind: K;
  title: string;
  /** What ingest says it stored, e.g. `flow records and leases (openvpn-status)`. */
  label: string;
  /** Does the (decompressed, left-trimmed) start of a file look like one of these? Cheap. */
  sniff(head: string): boolean;
  /** The delta engine's key in counter_state; kinds that share one see each other's state. */
  stateKey: string | null;
  /** Its flow records are a flow source of their own (the VPN's counters, not the wire). */
  flows: boolean;
  compute(input: CounterInput, prevState: string | null, opts: { tz: string; servicePorts?: ServicePorts }): SnapshotResult;
  /** Where the server keeps such files: investigate reads those that exist, as root, for a counter source of flows. */
  standardPaths: readonly string[];
  /** Ports of the service its flow records are for, with their group, as a log source declares them. */
  ports?: readonly ServicePort[];
}

const openvpnStatus: CounterSource<'openvpn-status'> = {
  kind: 'openvpn-status',
  title: 'OpenVPN status file',
  label: 'flow records and leases (openvpn-status)',
  sniff: isOpenvpnStatus,
  // A getter: flows/services.ts reads this list, and flows/snapshots.ts (which defines the key) builds on it.
  get stateKey() { return OPENVPN_STATE_KEY; },
  flows: true,
  compute: (input, prev, opts) => openvpnStatusSnapshot(input.text, prev, { tz: opts.tz, fileTime: input.fileTime, port: opts.servicePorts?.openvpn?.[0] }),
  standardPaths: ['/run/openvpn-server/status-server.log', '/run/openvpn/server.status', '/var/log/openvpn/openvpn-status.log', '/var/log/openvpn/status.log', '/etc/openvpn/openvpn-status.log'],
};

const wireguardDump: CounterSource<'wireguard'> = {
  kind: 'wireguard',
  title: 'WireGuard `wg show all dump`',
  label: 'flow records and leases (wireguard)',
  sniff: isWgDump,
  stateKey: WIREGUARD_STATE_KEY,
  flows: true,
  compute: (input, prev, opts) => wireguardDumpSnapshot(input.text, prev, { fileTime: input.fileTime, name: input.name, port: opts.servicePorts?.wireguard?.[0] }),
  standardPaths: [],
  ports: [['wireguard', 51820, ['udp'], 'vpn']],
};

const wireguardConfig: CounterSource<'wireguard-config'> = {
  kind: 'wireguard-config',
  title: 'WireGuard configuration (wg-quick, PiVPN) or wg-easy wg0.json: peer names',
  label: 'peer names (wireguard-config)',
  sniff: isWgConfig,
  stateKey: WIREGUARD_STATE_KEY,
  flows: false,
  compute: (input, prev) => wireguardConfigSnapshot(input.text, prev, { fileTime: input.fileTime }),
  standardPaths: ['/etc/wireguard/wg0.conf', '/etc/wireguard/wg0.json'],
};

/** In the order files are tested (the first whose sniff accepts a file takes it). */
export const COUNTER_SOURCES = [openvpnStatus, wireguardDump, wireguardConfig] as const;
export type CounterKind = (typeof COUNTER_SOURCES)[number]['kind'];

/** Counter sources whose records are a flow source. */
export const COUNTER_FLOW_SOURCES: readonly CounterKind[] = COUNTER_SOURCES.filter((c) => c.flows).map((c) => c.kind);

export function counterSourceOf(head: string): CounterSource<CounterKind> | null {
  return (COUNTER_SOURCES as readonly CounterSource<CounterKind>[]).find((c) => c.sniff(head)) ?? null;
}
