/**
 * The one result object of an investigation. Every renderer (terminal, JSON, Markdown, HTML)
 * is a pure function of it. Bytes are wire bytes, seen from the server: bytesIn received,
 * bytesOut sent.
 */
export type Confidence = 'exact' | 'shared-ip' | 'ip-only' | 'log-counters';
export type ServiceGroup = 'imap' | 'pop3' | 'smtp' | 'submission' | 'vpn' | 'dns' | 'other';

/** How a service group is named in verdicts, findings and reports. */
export const SERVICE_LABEL: Record<ServiceGroup, string> = {
  imap: 'IMAP', pop3: 'POP3', smtp: 'SMTP', submission: 'submission', vpn: 'VPN', dns: 'DNS', other: 'other',
};
export type FindingKind = 'imap-resync' | 'spam-relay' | 'vpn-heavy' | 'dns-amplification' | 'scan' | 'bruteforce' | 'unexplained' | 'normal-use';
export type FlowSourceName = 'pcap' | 'capture' | 'conntrack' | 'openvpn-status' | 'wireguard' | 'log-counters' | 'none';

export interface EvidenceLine {
  ts: string;
  /** `path:line`, so the report can be checked against the logs. */
  where: string;
  text: string;
}

export interface Evidence {
  /** Counts and first/last times, in plain words ("38 IMAP logins from 198.51.100.23 between 09:02 and 10:58"). */
  facts: string[];
  lines: EvidenceLine[];
}

export interface Suspect {
  account: string | null;
  ips: string[];
  service: ServiceGroup;
  bytesIn: number;
  bytesOut: number;
  /** Share of all bytes (in + out) in the window. */
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
}

export interface UnattributedBucket {
  reason: string;
  bytes: number;
  bytesIn: number;
  bytesOut: number;
  topRemotes: Array<{ ip: string; port: number | null; bytes: number }>;
}

export interface Finding {
  kind: FindingKind;
  subject: string;
  summary: string;
  evidence: Evidence;
}

export interface TimelineBucket { t: string; bytesIn: number; bytesOut: number; top: string | null }

export interface ThrottleProposal {
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
  interfaceTotals: Array<{ iface: string; rx: number; tx: number }> | null;
  notes: string[];
  throttle: ThrottleProposal | null;
}
