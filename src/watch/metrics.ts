/**
 * `watch --metrics`: what watch sees, as Prometheus / OpenMetrics text on `/metrics`.
 *
 * Counters only ever add what one closed minute held, so they are monotonic across scrapes
 * (a restart starts them at zero, which Prometheus reads as a reset). A minute is accounted
 * once, `settleMs` after it ends on the wall clock (as alerts judge windows), or when the
 * follower is idle on the data clock. Its traffic is measured as alerts measure it, and it is
 * attributed by the same correlation as `investigate`, run over that minute: once per minute
 * in the background, never per scrape, so a scrape costs no query but the lag's.
 *
 * Per-account series exist only for the top N accounts of the last hour (the sum of the last
 * 60 accounted minutes); every other account is summed into `account="(other)"`, so the
 * number of series is bounded whatever the number of mailboxes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Gauge, Registry, type RegistryContentType } from 'prom-client';
import { investigate } from '../correlate/investigate.js';
import type { Investigation } from '../correlate/types.js';
import { InputError, UserError } from '../errors.js';
import type { IngestSummary } from '../ingest/index.js';
import type { Store } from '../store/index.js';
import type { WatchStore } from '../store/watch.js';
import { SqliteReadStore } from '../store/sqlite-read.js';
import { TrafficMeter } from './traffic.js';

export interface Listen { host: string; port: number }

/**
 * `127.0.0.1:9188`, `[::1]:9188`, `0.0.0.0:9188`; `:9188` or `9188` alone mean loopback, so
 * that nothing is exposed to the network unless an address says so.
 */
export function parseListen(value: string): Listen {
  const m = /^(?:(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):)?(\d{1,5})$/.exec(value.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new UserError(`--metrics is not an address and port: ${value}`, { hint: 'give a port (9188, loopback) or an address and port: 127.0.0.1:9188, [::1]:9188, 0.0.0.0:9188' });
  }
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export interface MetricsOptions {
  listen: Listen;
  /** Accounts with their own series (`--metrics-top`). */
  top: number;
  clock: 'wall' | 'data';
  settleMs: number;
  vpnPorts?: number[];
  /** Node's process metrics (CPU, memory, event-loop lag), prefixed `bytetrail_`. */
  processMetrics?: boolean;
  notice(message: string): void;
}

export const OTHER = '(other)';
const STEP = 60_000;
const HOUR = 3_600_000;
/** Minutes accounted per call at most: a long replay yields to reading in between. */
const MINUTES_PER_TICK = 30;

interface Minute { to: number; accounts: Map<string, { bytesIn: number; bytesOut: number }>; findings: Set<string> }

/**
 * The last hour of per-account bytes, minute by minute, and which accounts lead it. Kept as
 * per-minute maps of the accounts active in each minute, plus their running sum.
 */
export class AccountHour {
  private readonly minutes: Minute[] = [];
  private readonly sums = new Map<string, { bytesIn: number; bytesOut: number; minutes: number }>();
  private findingsSeen = new Map<string, number>();

  /** Add one minute (ending at `to`) and forget minutes that left the hour. Returns the findings new to the hour. */
  add(m: Minute): string[] {
    this.minutes.push(m);
    for (const [a, b] of m.accounts) {
      const s = this.sums.get(a);
      if (s) { s.bytesIn += b.bytesIn; s.bytesOut += b.bytesOut; s.minutes++; } else this.sums.set(a, { ...b, minutes: 1 });
    }
    while (this.minutes.length && this.minutes[0].to <= m.to - HOUR) {
      const old = this.minutes.shift()!;
      for (const [a, b] of old.accounts) {
        const s = this.sums.get(a)!;
        // Deleted with its last minute, so that float rounding never leaves a ghost account.
        if (--s.minutes === 0) this.sums.delete(a); else { s.bytesIn -= b.bytesIn; s.bytesOut -= b.bytesOut; }
      }
      for (const f of old.findings) if (this.findingsSeen.get(f) === old.to) this.findingsSeen.delete(f);
    }
    const raised: string[] = [];
    for (const f of m.findings) {
      if (!this.findingsSeen.has(f)) raised.push(f);
      this.findingsSeen.set(f, m.to);
    }
    return raised;
  }

  /** The `n` accounts with the most bytes (in + out) in the hour; ties by name, so the choice is stable. */
  top(n: number): Set<string> {
    const all = [...this.sums.entries()].map(([a, s]) => ({ a, bytes: s.bytesIn + s.bytesOut }));
    all.sort((x, y) => y.bytes - x.bytes || (x.a < y.a ? -1 : x.a > y.a ? 1 : 0));
    return new Set(all.slice(0, n).map((x) => x.a));
  }

  /** The hour's bytes per account in `top`, and everyone else's in `(other)`. */
  totals(top: Set<string>): Map<string, { bytesIn: number; bytesOut: number }> {
    const out = new Map<string, { bytesIn: number; bytesOut: number }>();
    const other = { bytesIn: 0, bytesOut: 0 };
    for (const [a, s] of this.sums) {
      if (top.has(a)) out.set(a, { bytesIn: s.bytesIn, bytesOut: s.bytesOut });
      else { other.bytesIn += s.bytesIn; other.bytesOut += s.bytesOut; }
    }
    out.set(OTHER, other);
    return out;
  }

  /** Distinct findings (kind and subject) in the hour, per kind. */
  findingsByKind(): Map<string, number> {
    const out = new Map<string, number>();
    for (const f of this.findingsSeen.keys()) { const kind = f.slice(0, f.indexOf('\t')); out.set(kind, (out.get(kind) ?? 0) + 1); }
    return out;
  }
}

export class WatchMetrics {
  readonly registry = new Registry<RegistryContentType>();
  private readonly meter: TrafficMeter;
  private readonly hour = new AccountHour();
  private accountedTo: number | null = null;
  private top = new Set<string>();
  private running: Promise<number> | null = null;
  private closed = false;
  private failed = new Set<string>();
  private server: Server | null = null;
  private scrapes: Promise<unknown> = Promise.resolve();

  private readonly interfaceBytes: Counter<'interface' | 'direction' | 'source'>;
  private readonly serviceBytes: Counter<'service' | 'direction'>;
  private readonly attributedBytes: Counter<'confidence' | 'direction'>;
  private readonly unattributedBytes: Counter<'reason' | 'direction'>;
  private readonly accountBytes: Counter<'account' | 'direction'>;
  private readonly accountHourBytes: Gauge<'account' | 'direction'>;
  private readonly findings: Counter<'kind'>;
  private readonly findingsHour: Gauge<'kind'>;
  private readonly lines: Counter;
  private readonly inputBytes: Counter;
  private readonly events: Counter<'source'>;
  private readonly unparsed: Counter<'source'>;
  private readonly skipped: Counter<'source'>;
  private readonly records: Counter<'kind'>;
  private readonly alertsSent: Counter<'sink' | 'type'>;
  private readonly alertFailures: Counter<'sink'>;
  private readonly accountedThrough: Gauge;
  private readonly attributionFailures: Counter;

  constructor(private readonly store: Store, private readonly ws: WatchStore, private readonly o: MetricsOptions) {
    this.meter = new TrafficMeter(store, ws);
    const registers = [this.registry];
    const counter = <L extends string>(name: string, help: string, labelNames: readonly L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[] = [], collect?: (this: Gauge<L>) => void) =>
      new Gauge<L>({ name, help, labelNames, registers, ...(collect ? { collect } : {}) });

    this.interfaceBytes = counter('bytetrail_interface_bytes_total', 'Bytes per interface and direction (in: received by the server), from the most complete wire source (pcap, capture, conntrack) or else the logs\' counters, per accounted minute.', ['interface', 'direction', 'source']);
    this.serviceBytes = counter('bytetrail_service_bytes_total', 'Bytes per service group and direction, as investigate attributes them, per accounted minute.', ['service', 'direction']);
    this.attributedBytes = counter('bytetrail_attributed_bytes_total', 'Bytes attributed to an account, by how they are known (exact, shared-ip, log-counters, estimated...).', ['confidence', 'direction']);
    this.unattributedBytes = counter('bytetrail_unattributed_bytes_total', 'Bytes no account explains, by reason.', ['reason', 'direction']);
    this.accountBytes = counter('bytetrail_account_bytes_total', `Bytes per account for the top accounts of the last hour; every other account in account="${OTHER}". An account leaving the top loses its series (and starts again from 0 if it comes back).`, ['account', 'direction']);
    this.accountHourBytes = gauge('bytetrail_account_last_hour_bytes', `Bytes per account over the last hour (60 accounted minutes), top accounts only, the rest in account="${OTHER}".`, ['account', 'direction']);
    this.findings = counter('bytetrail_findings_total', 'Findings raised: a kind and subject (account or address) found in a minute and not in the hour before it.', ['kind']);
    this.findingsHour = gauge('bytetrail_findings_last_hour', 'Distinct findings (kind and subject) over the last hour.', ['kind']);
    this.lines = counter('bytetrail_lines_ingested_total', 'Lines read from followed files and stored.');
    this.inputBytes = counter('bytetrail_ingested_bytes_total', 'Bytes of followed files read and stored.');
    this.events = counter('bytetrail_events_total', 'Events stored, per log source.', ['source']);
    this.unparsed = counter('bytetrail_unparsed_lines_total', 'Lines a parser could not read, per log source (bytetrail unparsed shows them).', ['source']);
    this.skipped = counter('bytetrail_skipped_lines_total', 'Lines a parser skipped on purpose (no bearing on traffic), per log source.', ['source']);
    this.records = counter('bytetrail_flow_records_total', 'Flow records stored from followed files, per kind of file (pcap, conntrack, openvpn-status...).', ['kind']);
    this.attributionFailures = counter('bytetrail_attribution_failures_total', 'Minutes whose correlation failed (their traffic is still counted per interface).');
    this.alertsSent = counter('bytetrail_alerts_sent_total', 'Alerts delivered, per sink (stderr, database, alert-log, exec) and type (alert, reminder, resolved).', ['sink', 'type']);
    this.alertFailures = counter('bytetrail_alert_failures_total', 'Alerts a sink failed to deliver (an --exec hook that failed or timed out, an unwritable --alert-log).', ['sink']);
    this.accountedThrough = gauge('bytetrail_accounted_through_timestamp_seconds', 'End of the last minute accounted in the traffic counters (data time).');
    gauge('bytetrail_follow_lag_bytes', 'Bytes written to followed files and not stored yet.', [], function collect() {
      let lag = 0;
      for (const r of ws.paths()) if (r.size !== null && r.offset !== null) lag += Math.max(0, r.size - r.offset);
      this.set(lag);
    });
    gauge('bytetrail_data_lag_seconds', 'Seconds between now and the newest stored line or flow minute (large when replaying old logs).', [], function collect() {
      const newest = ws.newestDataTime();
      if (newest === null) this.reset(); else this.set(Math.max(0, (Date.now() - newest) / 1000));
    });
    gauge('bytetrail_followed_files', 'Files and directories watch follows, by state (following, waiting, unreadable).', ['state'], function collect() {
      this.reset();
      const n = new Map<string, number>();
      for (const r of ws.paths()) n.set(r.state, (n.get(r.state) ?? 0) + 1);
      for (const [state, c] of n) this.set({ state }, c);
    });
    // Cheap: gauges read at scrape time, and Node's event-loop delay sampled every 100 ms (not
    // the default 10 ms: a wake-up per sample, for a figure that matters only in seconds here).
    if (o.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'bytetrail_', eventLoopMonitoringPrecision: 100 });
  }

  /** What one read of a followed file stored (the follower calls this for every read). */
  countRead(s: IngestSummary): void {
    if (s.lines) this.lines.inc(s.lines);
    if (s.bytes) this.inputBytes.inc(s.bytes);
    for (const [source, n] of Object.entries(s.events)) if (n) this.events.inc({ source }, n);
    for (const [source, n] of Object.entries(s.unparsed)) if (n) this.unparsed.inc({ source }, n);
    for (const [source, n] of Object.entries(s.skipped)) if (n) this.skipped.inc({ source }, n);
    // `records` is keyed by a human label; the files' kinds name the flow sources.
    for (const f of s.perFile) if (f.kind !== 'log' && f.events > 0) this.records.inc({ kind: f.kind }, f.events);
  }

  /** Given to the alert sinks, which report each delivery and failure here. */
  readonly alertReport = {
    delivered: (sink: string, type: string) => { this.alertsSent.inc({ sink, type }); },
    failed: (sink: string) => { this.alertFailures.inc({ sink }); },
  };

  /** Account every minute that has closed; one run at a time. Returns the number of minutes accounted. */
  tick(now: number, followerBusy: boolean): Promise<number> {
    if (this.running) return this.running;
    if (this.closed) return Promise.resolve(0);
    this.running = this.accountDue(now, followerBusy).finally(() => { this.running = null; });
    return this.running;
  }

  private async accountDue(now: number, followerBusy: boolean): Promise<number> {
    let due: number;
    if (this.o.clock === 'wall') {
      due = Math.floor((now - this.o.settleMs) / STEP) * STEP;
      // Counters start when watch starts; a gap longer than an hour (a suspended host) is skipped.
      if (this.accountedTo === null || this.accountedTo < due - HOUR) this.accountedTo = due;
    } else {
      if (followerBusy) return 0;
      const newest = this.ws.newestDataTime();
      if (newest === null) return 0;
      // The minute holding the newest data may still grow: it is accounted once data moves past it.
      due = Math.floor(newest / STEP) * STEP;
      if (this.accountedTo === null) this.accountedTo = Math.floor((this.ws.oldestRawTime() ?? newest) / STEP) * STEP;
    }
    let n = 0;
    while (this.accountedTo + STEP <= due && n < MINUTES_PER_TICK && !this.closed) {
      await this.accountMinute(this.accountedTo + STEP);
      this.accountedTo += STEP;
      n++;
    }
    if (n) this.accountedThrough.set(this.accountedTo / 1000);
    return n;
  }

  private async accountMinute(to: number): Promise<void> {
    const from = to - STEP;
    const { signals } = await this.meter.measure(from, to);
    for (const sig of signals) {
      if (sig.bytes > 0) this.interfaceBytes.inc({ interface: sig.iface, direction: sig.direction, source: sig.source }, sig.bytes);
    }
    let inv: Investigation;
    try {
      inv = await investigate(new SqliteReadStore(this.store), { from, to, vpnPorts: this.o.vpnPorts });
    } catch (err) {
      this.attributionFailures.inc();
      const m = `metrics: the correlation of a minute failed: ${(err as Error).message}`;
      if (!this.failed.has(m)) { this.failed.add(m); this.o.notice(m); }
      this.hour.add({ to, accounts: new Map(), findings: new Set() });
      return;
    }
    const accounts = new Map<string, { bytesIn: number; bytesOut: number }>();
    for (const s of inv.suspects) {
      this.addPair(this.serviceBytes, { service: s.service }, s.bytesIn, s.bytesOut);
      if (s.account === null) continue;
      this.addPair(this.attributedBytes, { confidence: s.confidence }, s.bytesIn, s.bytesOut);
      const a = accounts.get(s.account);
      if (a) { a.bytesIn += s.bytesIn; a.bytesOut += s.bytesOut; } else accounts.set(s.account, { bytesIn: s.bytesIn, bytesOut: s.bytesOut });
    }
    for (const u of inv.unattributed) this.addPair(this.unattributedBytes, { reason: u.reason }, u.bytesIn, u.bytesOut);
    // normal-use describes an account's traffic, it raises nothing.
    const findings = new Set(inv.findings.filter((f) => f.kind !== 'normal-use').map((f) => `${f.kind}\t${f.subject}`));
    for (const f of this.hour.add({ to, accounts, findings })) this.findings.inc({ kind: f.slice(0, f.indexOf('\t')) });
    this.findingsHour.reset();
    for (const [kind, c] of this.hour.findingsByKind()) this.findingsHour.set({ kind }, c);

    // The top of the hour decides which series this minute's bytes go to.
    const top = this.hour.top(this.o.top);
    for (const a of this.top) {
      if (!top.has(a)) for (const direction of ['in', 'out']) this.accountBytes.remove({ account: a, direction });
    }
    this.top = top;
    const other = { bytesIn: 0, bytesOut: 0 };
    for (const [a, b] of accounts) {
      if (top.has(a)) this.addPair(this.accountBytes, { account: a }, b.bytesIn, b.bytesOut);
      else { other.bytesIn += b.bytesIn; other.bytesOut += b.bytesOut; }
    }
    this.addPair(this.accountBytes, { account: OTHER }, other.bytesIn, other.bytesOut, true);
    this.accountHourBytes.reset();
    for (const [account, b] of this.hour.totals(top)) {
      this.accountHourBytes.set({ account, direction: 'in' }, b.bytesIn);
      this.accountHourBytes.set({ account, direction: 'out' }, b.bytesOut);
    }
  }

  /** Add bytes in and out to a counter with a `direction` label; zero adds nothing unless the series should exist anyway. */
  private addPair<L extends string>(c: Counter<L | 'direction'>, labels: Partial<Record<L, string>>, bytesIn: number, bytesOut: number, always = false): void {
    if (bytesIn > 0 || always) c.inc({ ...labels, direction: 'in' } as Partial<Record<L | 'direction', string>>, Math.max(0, bytesIn));
    if (bytesOut > 0 || always) c.inc({ ...labels, direction: 'out' } as Partial<Record<L | 'direction', string>>, Math.max(0, bytesOut));
  }

  /** The exposition, OpenMetrics when the scraper asks for it (Prometheus does), else Prometheus text 0.0.4. */
  scrape(accept: string | undefined): Promise<{ contentType: string; body: string }> {
    const openMetrics = /application\/openmetrics-text/i.test(accept ?? '');
    const contentType = openMetrics ? Registry.OPENMETRICS_CONTENT_TYPE : Registry.PROMETHEUS_CONTENT_TYPE;
    // One registry serves both formats, so scrapes take turns: its content type is set per scrape.
    const p = this.scrapes.then(async () => {
      this.registry.setContentType(contentType);
      try {
        return { contentType, body: await this.registry.metrics() };
      } finally {
        // prom-client strips `_total` from counter names for OpenMetrics (it adds it back to each
        // sample) and keeps the stripped name: put it back for the next Prometheus-format scrape.
        for (const m of this.registry.getMetricsAsArray() as unknown as Array<{ name: string; type?: string }>) {
          if (openMetrics && m.type === 'counter' && !m.name.endsWith('_total')) m.name += '_total';
        }
      }
    });
    this.scrapes = p.catch(() => undefined);
    return p;
  }

  /** Listen on the address given; resolves with the address actually bound (port 0 picks one). */
  async listen(): Promise<AddressInfo> {
    const server = createServer((req, res) => { void this.handle(req, res); });
    this.server = server;
    const { host, port } = this.o.listen;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new InputError(`cannot serve metrics on ${host.includes(':') ? `[${host}]` : host}:${port}: ${err.code === 'EADDRINUSE' ? 'the port is in use' : err.code === 'EADDRNOTAVAIL' ? 'no interface has this address' : err.message}`, { hint: 'give another port or address to --metrics', cause: err })));
      server.listen(port, host, () => resolve());
    });
    return server.address() as AddressInfo;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(path === '/' ? 200 : 404, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(path === '/' ? 'bytetrail watch: metrics on /metrics\n' : 'not found: metrics are on /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }); res.end(); return; }
    try {
      const { contentType, body } = await this.scrape(req.headers.accept);
      res.writeHead(200, { 'content-type': contentType });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(`cannot collect the metrics: ${(err as Error).message}\n`);
    }
  }

  /** Stop listening and wait for a minute being accounted. */
  async close(): Promise<void> {
    this.closed = true;
    const s = this.server;
    this.server = null;
    if (s) await new Promise<void>((resolve) => { s.close(() => resolve()); s.closeAllConnections(); });
    await this.running;
  }
}
