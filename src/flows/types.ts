/**
 * Flow records: traffic per minute and per connection, always from the server's point of view
 * (bytesIn = received by the server, bytesOut = sent by the server), like LogEvent's counters.
 */
import type { Service, ServicePorts } from './services.js';

export type { Service, ServicePorts };

export interface FlowRecord {
  /** UTC ms, floored to the minute. */
  minute: number;
  /** Interface name from the pcapng IDB `if_name`, else the `iface` option, else ''. */
  iface: string;
  /**
   * IP protocol: 6, 17, 1, 58 or any other number; 0 for non-IP frames (ARP, LLDP,
   * undecodable), which have no addresses and are all counted as received (bytesIn): the link
   * layer does not say which way they went.
   */
  proto: number;
  /** Local (server) address, normalised like parsers/common.ts normalizeIp; '' for non-IP. */
  lip: string;
  /** 0 where the protocol has no ports (ICMP, ICMPv6, GRE, ...) or the header was not captured. */
  lport: number;
  rip: string;
  rport: number;
  service: Service;
  /** Frame bytes (each frame's original length, as on the wire) received by the server. */
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

/**
 * Flow records packed into one flat array, FLOW_VALUES values per record in this order: minute,
 * iface, proto, lip, lport, rip, rport, service, bytesIn, bytesOut, packetsIn, packetsOut. How a
 * capture's records reach the store: no object per record (a busy capture has hundreds of
 * thousands). The array is reused: valid only while the call it was handed to runs.
 */
export interface PackedFlows {
  n: number;
  values: Array<string | number>;
}

export const FLOW_VALUES = 12;

/** Records as PackedFlows (a new array, not reused). */
export function packFlows(records: readonly FlowRecord[]): PackedFlows {
  const values: Array<string | number> = new Array(records.length * FLOW_VALUES);
  let o = 0;
  for (const f of records) {
    values[o++] = f.minute; values[o++] = f.iface; values[o++] = f.proto; values[o++] = f.lip; values[o++] = f.lport; values[o++] = f.rip;
    values[o++] = f.rport; values[o++] = f.service; values[o++] = f.bytesIn; values[o++] = f.bytesOut; values[o++] = f.packetsIn; values[o++] = f.packetsOut;
  }
  return { n: records.length, values };
}

/** Packed records as objects (the aggregator's `finish`, `finishEach` and `onFlush`). */
export function unpackFlows(p: PackedFlows): FlowRecord[] {
  const out: FlowRecord[] = new Array(p.n);
  const v = p.values;
  for (let r = 0, o = 0; r < p.n; r++, o += FLOW_VALUES) {
    out[r] = {
      minute: v[o] as number, iface: v[o + 1] as string, proto: v[o + 2] as number,
      lip: v[o + 3] as string, lport: v[o + 4] as number, rip: v[o + 5] as string, rport: v[o + 6] as number,
      service: v[o + 7] as string, bytesIn: v[o + 8] as number, bytesOut: v[o + 9] as number,
      packetsIn: v[o + 10] as number, packetsOut: v[o + 11] as number,
    };
  }
  return out;
}

/** Frames that were not TCP, UDP, ICMP or ICMPv6; see UNKNOWN_KEY in aggregate.ts for the keys. */
export type UnknownProtocols = Record<number, { packets: number; bytes: number }>;

export interface AggregateOptions {
  /**
   * The server's own addresses. When absent they are inferred from the capture
   * (see `inferLocal` in aggregate.ts).
   */
  localIps?: Iterable<string>;
  /** Interface name for captures whose format has none (classic pcap, pcapng IDB without if_name). */
  iface?: string;
  /** Extra service ports, e.g. `{ openvpn: [1195] }`. */
  servicePorts?: ServicePorts;
  /**
   * How many minutes a minute stays open for late packets before it is flushed (default 2).
   * Captures are nearly time-ordered; a packet later than this still counts, in a second
   * record for its minute (records are additive).
   */
  lagMinutes?: number;
  /**
   * Fold probes and DNS exchanges into one record per minute, remote address and local port,
   * with remote port 0 (see `foldRows` in aggregate.ts for exactly which). Off by default, so
   * that the aggregator alone counts every connection as tcpdump and tshark do; every path that
   * stores records (ingest, capture, watch) turns it on.
   */
  fold?: boolean;
}

export interface CaptureSummary {
  /** Every frame read, decoded or not. */
  packets: number;
  /** Sum of original frame lengths of every frame read. */
  bytes: number;
  /** UTC ms of the earliest and latest frame (fractional ms kept), null when there were none. */
  firstTs: number | null;
  lastTs: number | null;
  /** True when the capture ended inside a record or a damaged record stopped the reading. */
  truncated: boolean;
  /** One line each, e.g. "capture ends inside a record at byte 4096 (...)". */
  warnings: string[];
  /** Link types seen, in order of first appearance. */
  linkTypes: number[];
  unknownProtocols: UnknownProtocols;
}

export interface AggregateResult extends CaptureSummary {
  flows: FlowRecord[];
}
