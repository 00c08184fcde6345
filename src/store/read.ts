/**
 * The read side of the store (issue 11): what investigate, whois-user, report, flows, status
 * and unparsed need, in the domain's words, asynchronous because a network store cannot answer
 * synchronously. Two implementations: SQLite (src/store/index.ts, answering synchronously inside
 * the promise) and ClickHouse (src/store/clickhouse/read.ts, the fleet). Nothing outside
 * src/store sees SQL or a driver.
 *
 * Fleet rows carry the server that recorded them (`server`); a single-server SQLite store sets
 * it to its own server name (or leaves it undefined when none was ever recorded). Results are
 * ordered exactly as documented per method, so that both implementations give identical
 * investigations (float sums may differ in the last digits; callers round for display).
 */
import type { AggRow, FlowRow, FlowTotals, LeaseRow, OpenConnInput, SessionKeys, StoredEvent, UnparsedRow } from './index.js';

export type FlowGroupBy = 'remote' | 'service' | 'local-port' | 'minute';

export interface FlowSourceTotals { source: string; bytesIn: number; bytesOut: number; first: number; last: number }

export interface AccountIp { ip: string; firstSeen: number; lastSeen: number; otherAccounts: string[] }

export interface LossTotal { reason: string; paths: number; lines: number; bytes: number; lastAt: number }

export interface ReadStore {
  /** 'sqlite' for one server's file, 'clickhouse' for the fleet. */
  readonly backend: 'sqlite' | 'clickhouse';
  /** The servers whose rows this store answers with (after any --server filter), sorted. */
  servers(): Promise<string[]>;

  /** First and last event time, or nulls when empty. */
  dataExtent(): Promise<{ first: number | null; last: number | null }>;
  counts(): Promise<{ events: number; aggregated: number; flows: number; files: number }>;

  /** Events with ts in [from, to), optionally only of some kinds, oldest first (ts, then id). */
  eventsInRange(fromMs: number, toMs: number, kinds?: string[]): Promise<StoredEvent[]>;
  /** The events that make identities (session start/end, leases, submissions) in [from, to), oldest first. */
  identityEvents(fromMs: number, toMs: number): Promise<StoredEvent[]>;
  /** Identity events of sources whose sessions last days (VPNs: `longSessions`) in [from, to). Was vpnIdentityEvents. */
  longSessionEvents(fromMs: number, toMs: number): Promise<StoredEvent[]>;
  /** The last login from an IP in [since, before) whose session had not ended by `before`, or null. Was openMailLoginBefore. */
  openLoginBefore(ip: string, before: number, since: number): Promise<StoredEvent | null>;
  eventsForIp(ip: string, fromMs: number, toMs: number): Promise<StoredEvent[]>;
  /** Events of one source with any of these session keys, of these accounts, from `sinceMs` on, oldest first. */
  eventsForSessions(source: string, keys: SessionKeys): Promise<StoredEvent[]>;
  /** The IPs an account used in [from, to), each with the other accounts seen on it then (NAT). */
  accountIps(account: string, fromMs: number, toMs: number): Promise<AccountIp[]>;

  aggregatesInRange(fromMs: number, toMs: number): Promise<AggRow[]>;
  /**
   * Read back the text of these rows where it was stored by reference (migration 12): events'
   * `raw` and aggregates' `sampleRaw`, or why it can no longer be read (`rawUnreadable`,
   * `sampleUnreadable`). The readers above hand such rows out without their text, so that only
   * the lines a caller shows are read from the log files. Rows that have their text are left alone.
   */
  quote(events: StoredEvent[], aggs: AggRow[]): Promise<void>;

  /** Which flow sources hold data in [from, to), with their byte totals, by source name. */
  flowSources(fromMs: number, toMs: number): Promise<FlowSourceTotals[]>;
  flowsInRange(source: string, fromMs: number, toMs: number): Promise<FlowRow[]>;
  /** Flow records one at a time, without holding a window's worth in memory. */
  iterateFlows(source: string, fromMs: number, toMs: number): AsyncIterable<FlowRow>;
  /** VPN traffic in [from, to): the VPN ports, and anything to or from the given virtual addresses. */
  vpnFlowsInRange(source: string, fromMs: number, toMs: number, vpnPorts: number[], vips: string[]): Promise<FlowRow[]>;
  flowBytesBetween(source: string, fromMs: number, toMs: number): Promise<{ bytes: number; n: number }>;
  flowExtent(source: string): Promise<{ first: number | null; last: number | null }>;
  flowTotals(source: string, fromMs: number, toMs: number): Promise<FlowTotals>;
  flowGroups(source: string, by: FlowGroupBy, fromMs: number, toMs: number, limit: number):
    Promise<{ rows: Array<FlowTotals & { key: string | number }>; groups: number }>;

  leasesInRange(fromMs: number, toMs: number): Promise<LeaseRow[]>;
  /** Open connections of conntrack listings taken in [from, to) whose start the listing did not give. */
  openConnections(fromMs: number, toMs: number): Promise<OpenConnInput[]>;
  /** Interface byte totals (vnstat) of one granularity in [from, to). */
  interfaceTotals(granularity: string, fromMs: number, toMs: number): Promise<Array<{ iface: string; rx: number; tx: number }>>;

  unparsedReport(source: string | null, limit: number): Promise<{ counts: Record<string, number>; samples: UnparsedRow[] }>;
  lossTotals(): Promise<LossTotal[]>;

  close(): Promise<void>;
}
