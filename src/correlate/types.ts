/**
 * The one result object of an investigation. Every renderer (terminal, JSON, Markdown, HTML)
 * is a pure function of it. Bytes are wire bytes, seen from the server: bytesIn received,
 * bytesOut sent.
 */
import { GROUP_LABELS } from '../sources/index.js';
import { UNREADABLE } from '../store/evidence.js';

export type Confidence = 'exact' | 'shared-ip' | 'ip-only' | 'log-counters' | 'estimated';
/**
 * A service group, as the sources declare them (src/sources/, `groups`): `imap`, `pop3`,
 * `smtp`, `submission`, `vpn`, `dns`, `webmail`, and `other`.
 */
export type ServiceGroup = string;

/** How a service group is named in verdicts, findings and reports. */
export const SERVICE_LABEL: Readonly<Record<ServiceGroup, string>> = GROUP_LABELS;
export type FindingKind = 'imap-resync' | 'webmail-refetch' | 'spam-relay' | 'vpn-heavy' | 'dns-amplification' | 'scan' | 'bruteforce' | 'unexplained' | 'normal-use';
export type FlowSourceName = 'pcap' | 'capture' | 'conntrack' | 'openvpn-status' | 'wireguard' | 'log-counters' | 'none';

export interface EvidenceLine {
  ts: string;
  /** `path:line`, so the report can be checked against the logs. */
  where: string;
  /** The line as read; null when it was stored by reference and can no longer be read back (see `unreadable`). */
  text: string | null;
  /** Why the line can no longer be read (its file rotated away or rewritten); only when `text` is null. */
  unreadable?: string;
}

/** What every renderer shows for an evidence line: its text, or the one phrase for a line that cannot be read back. */
export function evidenceText(l: EvidenceLine): string {
  return l.text ?? `(${UNREADABLE}: ${l.unreadable ?? 'unknown reason'})`;
}

export interface Evidence {
  /** Counts and first/last times, in plain words ("38 IMAP logins from 198.51.100.23 between 09:02 and 10:58"). */
  facts: string[];
  lines: EvidenceLine[];
}

export interface Suspect {
  /** Fleet investigations only: the server whose logs and flows this comes from (never joined across servers). */
  server?: string;
  account: string | null;
  ips: string[];
  service: ServiceGroup;
  bytesIn: number;
  bytesOut: number;
  /** Share of the investigation's one named total (`shareBasis`: the interface's bytes when vnstat has them). */
  share: number;
  confidence: Confidence;
  finding: FindingKind;
  evidence: Evidence;
  sessions: number;
  firstSeen: string | null;
  lastSeen: string | null;
  /** True when some of the bytes were split between accounts sharing an IP. */
  split: boolean;
  /** Bytes that the capture saw a second time (forwarded VPN traffic on eth0, tun0 copies). */
  doubleCountedBytes: number;
  /** The dominant direction, from the server: `out` = the client downloads. */
  direction: 'in' | 'out';
  /** How the bytes are known: measured on the wire, the logs' own counters, estimated from log evidence (with the method). */
  measured: { bytesIn: number; bytesOut: number };
  logCounters: { bytesIn: number; bytesOut: number };
  estimated: { bytesIn: number; bytesOut: number; methods: string[] };
  /** Sessions still open whose bytes no evidence gives yet: how many, and since when. */
  openUnknown: { sessions: number; since: string } | null;
}

/**
 * How much of one interface's traffic in one direction the investigation explains, and how.
 * `total` is the interface counters' figure (vnstat); the parts add up to it: `measured` (flows
 * on the wire, conntrack counters), `logCounters` (Dovecot out=, OpenVPN status), `estimated`
 * (from log evidence, see estimates.ts), `labelled` (traffic seen on the wire with a known kind but
 * no account: web, inbound mail...), and `unexplained`, the rest. `excess`: what the evidence
 * claims beyond the total (estimates are upper bounds then), 0 normally.
 */
export interface ClosureEntry {
  /** Fleet investigations only: the server whose logs and flows this comes from (never joined across servers). */
  server?: string;
  iface: string;
  direction: 'in' | 'out';
  /** vnstat's five-minute entries when they cover the window, else its hourly ones. */
  basis: 'vnstat-5min' | 'vnstat-hour';
  total: number;
  measured: number;
  logCounters: number;
  estimated: number;
  labelled: Array<{ reason: string; bytes: number }>;
  unexplained: number;
  excess: number;
}

export interface UnattributedBucket {
  /** Fleet investigations only: the server whose logs and flows this comes from (never joined across servers). */
  server?: string;
  reason: string;
  bytes: number;
  bytesIn: number;
  bytesOut: number;
  topRemotes: Array<{ ip: string; port: number | null; bytes: number }>;
}

export interface Finding {
  /** Fleet investigations only: the server whose logs and flows this comes from (never joined across servers). */
  server?: string;
  kind: FindingKind;
  subject: string;
  summary: string;
  evidence: Evidence;
}

export interface TimelineBucket { t: string; bytesIn: number; bytesOut: number; top: string | null }

export interface ThrottleProposal {
  /** Fleet investigations only: the server to run the command on. */
  server?: string;
  target: string;
  ips: string[];
  direction: 'in' | 'out' | 'both';
  rate: string;
  ports: number[];
  reason: string;
  command: string;
}

export interface Investigation {
  window: { from: string; to: string };
  flowSource: FlowSourceName;
  totals: { bytesIn: number; bytesOut: number; attributedBytes: number; unattributedBytes: number; packetsIn: number; packetsOut: number };
  verdict: string;
  suspects: Suspect[];
  findings: Finding[];
  unattributed: UnattributedBucket[];
  timeline: { bucketSeconds: number; buckets: TimelineBucket[] };
  baseline: { days: number; typicalBytes: number; ratio: number } | null;
  interfaceTotals: Array<{ iface: string; rx: number; tx: number; server?: string }> | null;
  /** The one total every share is of, named. */
  shareBasis: { label: string; bytes: number };
  closure: ClosureEntry[] | null;
  /** When the verdict rests on estimates or counters: what would make it exact next time (one paragraph). */
  missingEvidence: string | null;
  notes: string[];
  throttle: ThrottleProposal | null;
  /** Only when several servers were investigated (each on its own, then merged): see FleetSummary. */
  fleet?: FleetSummary;
}

/** One server's own investigation, in short: its shares are of its own total. */
export interface FleetServer {
  server: string;
  flowSource: FlowSourceName;
  totals: Investigation['totals'];
  shareBasis: { label: string; bytes: number };
  verdict: string;
  /** The interface its shares are of (the busiest by vnstat), or null without vnstat. */
  mainInterface: { iface: string; rx: number; tx: number } | null;
}

/** An account that is a suspect on several servers: one person, with a row per server and service and the total (shares of the fleet's total). */
export interface FleetPerson {
  account: string;
  bytesIn: number;
  bytesOut: number;
  share: number;
  rows: Array<{ server: string; service: ServiceGroup; bytesIn: number; bytesOut: number; share: number }>;
}

/** A closure direction summed over servers (each server's main interface only: tun0 repeats eth0's VPN bytes). */
export type FleetClosureTotal = Omit<ClosureEntry, 'server' | 'iface' | 'basis'>;

export interface FleetSummary {
  /** In the order investigated (sorted by name). */
  servers: FleetServer[];
  /** Accounts that are suspects on more than one server, largest total first. */
  people: FleetPerson[];
  /** Per direction, summed over the servers with interface totals; null when none has them. */
  closure: FleetClosureTotal[] | null;
  /** The servers' main interfaces summed; null when none has vnstat data. */
  interfaceTotals: { rx: number; tx: number } | null;
}
