/**
 * Counter snapshots as flow input: conntrack listings, OpenVPN status files and vnstat exports
 * turned into what the store keeps (flow records, VPN leases, interface totals) plus the delta
 * engine's new state. Pure: the snapshot's text, its time, the zone and the previous engine
 * state come in; nothing here reads the clock, the disk or the database (handlers.ts does).
 *
 * Where the bytes go in time. A delta covers [since, snapshot): the previous sighting of the
 * connection or client, or, at a first sighting, its start (conntrack `[start=]`/`delta-time=`,
 * OpenVPN `Connected Since`). It is spread over the minutes of that span in proportion to time
 * (an even rate: the counters say no more), so that any window, "the last 2 hours" included,
 * gets the share of the bytes that falls inside it. Spans longer than 6 hours are spread in
 * coarser steps (5, 15, 60, 360, 1440 minutes) so that one old connection makes at most about
 * 360 rows. A first sighting whose start is unknown, in the very first snapshot of its source,
 * is taken as the baseline: its counters are remembered, not counted (they could cover days),
 * and a warning says how many bytes that was. A first sighting with no start after earlier
 * snapshots began after the previous snapshot, and is spread over [previous snapshot, now).
 */
import { InputError } from '../errors.js';
import type { ParseContext } from '../events.js';
import { counterProblem, timestampProblem } from '../parsers/check.js';
import { normalizeIp } from '../parsers/common.js';
import { parseOpenvpnStatus, type OpenvpnStatusClient } from '../parsers/openvpn-status.js';
import type { IfaceTotalInput, LeaseInput, OpenConnInput } from '../store/index.js';
import { ConntrackDeltas, keyOf, parseConntrackSnapshot, type ConntrackEntry, type ConntrackState } from './conntrack.js';
import { defaultServices, ServiceTable } from './services.js';
import type { FlowRecord, ServicePorts } from './types.js';
import { parseVnstatJson } from './vnstat.js';

const MINUTE = 60_000;
/** Step sizes in minutes for spreading a span; the smallest that keeps it within MAX_SPREAD_ROWS. */
const SPREAD_STEPS = [1, 5, 15, 60, 360, 1440];
const MAX_SPREAD_ROWS = 360;

/** Counter-state keys in `counter_state`: one engine per flow source. */
export const CONNTRACK_STATE_KEY = 'snapshot-deltas:conntrack';
export const OPENVPN_STATE_KEY = 'snapshot-deltas:openvpn-status';

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
function mergeFlows(records: FlowRecord[]): FlowRecord[] {
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

function spreadFlow(base: Omit<FlowRecord, 'minute' | 'bytesIn' | 'bytesOut' | 'packetsIn' | 'packetsOut'>, since: number, ts: number,
  c: { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }): FlowRecord[] {
  return spreadOver(since, ts, [c.bytesIn, c.bytesOut, c.packetsIn, c.packetsOut]).map(({ minute, values }) => ({
    ...base, minute, bytesIn: values[0], bytesOut: values[1], packetsIn: values[2], packetsOut: values[3],
  }));
}

const fmt = (n: number) => n.toLocaleString('en-US');
const iso = (t: number) => new Date(t).toISOString();

// ---------------------------------------------------------------------------------------------
// conntrack

export interface ConntrackSnapshotOptions {
  tz: string;
  /** When the listing was taken (UTC ms): the file's mtime, or now for /proc and stdin. */
  ts: number;
  /** The server's addresses; inferred from the listing when absent (see inferConntrackLocal). */
  localIps?: string[];
  servicePorts?: ServicePorts;
}

/** Entries an address must be in before a listing alone is trusted to name the server. */
const SURE_AFTER_ENTRIES = 3;

/**
 * The server's own addresses as a listing shows them, for when none are given: per address
 * family, an address inferred from earlier listings (`known`) if the listing has one, else the
 * address in the most entries (the server is one end of nearly every connection it tracks),
 * ties broken by which end has the service port; plus every address the kernel masqueraded to
 * (a reply addressed elsewhere than the originator is ours). `sure`: the addresses worth
 * remembering for later listings (a lone outbound SMTP connection would name the remote MTA).
 */
export function inferConntrackLocal(entries: ConntrackEntry[], services: ServiceTable = defaultServices(), known: readonly string[] = []):
  { local: Set<string>; sure: Set<string> } {
  const score = new Map<string, number>();
  const entriesOf = new Map<string, number>();
  const sure = new Set<string>();
  const bump = (ip: string, by: number) => score.set(ip, (score.get(ip) ?? 0) + by);
  for (const e of entries) {
    for (const ip of new Set([e.orig.src, e.orig.dst, e.reply.src, e.reply.dst])) { bump(ip, 1); entriesOf.set(ip, (entriesOf.get(ip) ?? 0) + 1); }
    if (e.reply.dst !== e.orig.src) sure.add(e.reply.dst);
    const o = e.orig;
    if (o.dport !== null && o.sport !== null) {
      const sd = services.isServicePort(e.protoNum, o.dport), ss = services.isServicePort(e.protoNum, o.sport);
      if (sd && !ss) bump(o.dst, 0.5);
      else if (ss && !sd) bump(o.src, 0.5);
    }
  }
  const local = new Set(sure);
  const famOf = (ip: string) => (ip.includes(':') ? 6 : 4);
  for (const fam of [4, 6]) {
    const seenBefore = known.filter((ip) => famOf(ip) === fam && score.has(ip));
    if (seenBefore.length) {
      for (const ip of seenBefore) { local.add(ip); sure.add(ip); }
      continue;
    }
    const ranked = [...score.entries()].filter(([ip]) => famOf(ip) === fam).sort((a, b) => b[1] - a[1]);
    if (ranked.length && (ranked.length === 1 || ranked[0][1] > ranked[1][1])) {
      local.add(ranked[0][0]);
      if ((entriesOf.get(ranked[0][0]) ?? 0) >= SURE_AFTER_ENTRIES) sure.add(ranked[0][0]);
    }
  }
  return { local, sure };
}

/**
 * One conntrack listing (`conntrack -L -o extended[,id,ktimestamp]`, /proc/net/nf_conntrack):
 * the bytes each connection moved since the previous listing, as flow records of source
 * `conntrack`, from the server's point of view.
 */
export function conntrackSnapshot(text: string, prevState: string | null, o: ConntrackSnapshotOptions): SnapshotResult {
  const warnings: string[] = [];
  const snap = parseConntrackSnapshot(text, { tz: o.tz, now: o.ts });
  const lines = text.split('\n');
  const unparsed = snap.errorSamples.map((s) => ({ line: s.line, reason: s.error, text: (lines[s.line - 1] ?? '').slice(0, 400) }));
  if (snap.errors && !snap.entries.length) {
    return { ts: o.ts, flows: [], leases: [], ifaceTotals: [], state: null, warnings, unparsed, unparsedCount: snap.errors, entries: 0,
      error: `no conntrack entry in ${fmt(snap.errors)} line(s) (line ${snap.errorSamples[0]?.line}: ${snap.errorSamples[0]?.error})` };
  }
  if (snap.errors) warnings.push(`${fmt(snap.errors)} line(s) are not conntrack entries (first at line ${snap.errorSamples[0]?.line}: ${snap.errorSamples[0]?.error})`);
  if (lines.some((l) => /^\s*(?:\[\d+\.\d+\]\s+)?\[(?:NEW|UPDATE|DESTROY)\]/.test(l))) {
    warnings.push('event lines ([NEW]/[UPDATE]/[DESTROY], from conntrack -E) were read as one listing taken at the file\'s time; use `conntrack -L -o extended` snapshots');
  }
  const services = o.servicePorts ? new ServiceTable(o.servicePorts) : defaultServices();
  let parsed: ConntrackState | null = null;
  if (prevState !== null) {
    try {
      parsed = JSON.parse(prevState) as ConntrackState;
    } catch {
      warnings.push('the stored conntrack delta state is unreadable: started afresh (this listing is a baseline)');
    }
  }
  const given = Boolean(o.localIps?.length);
  const known = Array.isArray(parsed?.inferredLocal) ? parsed.inferredLocal.filter((ip) => typeof ip === 'string') : [];
  const inferred = given ? null : inferConntrackLocal(snap.entries, services, known);
  const local = inferred ? inferred.local : new Set(o.localIps);
  const prevLast = parsed?.lastSnapshot ?? null;
  // Remember a vanished connection for three snapshot intervals (at least 15 minutes), so that
  // one left out of a listing or two and seen again counts only its growth.
  const forgetAfterMs = Math.max(15 * MINUTE, prevLast !== null ? 3 * (o.ts - prevLast) : 0);
  let engine: ConntrackDeltas;
  try {
    engine = parsed ? ConntrackDeltas.fromJSON(parsed, local, { forgetAfterMs }) : new ConntrackDeltas(local, { forgetAfterMs });
  } catch (err) {
    warnings.push(`${(err as Error).message}: started afresh (this listing is a baseline)`);
    engine = new ConntrackDeltas(local, { forgetAfterMs });
  }
  let deltas;
  try {
    deltas = engine.ingest(o.ts, snap.entries);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    warnings.push(`taken at ${iso(o.ts)}, before the last listing ingested (${prevLast === null ? '?' : iso(prevLast)}): its counters were not used`);
    return { ts: o.ts, flows: [], leases: [], ifaceTotals: [], state: null, warnings, unparsed, unparsedCount: snap.errors, entries: snap.entries.length };
  }
  // Deltas name the protocol; flow records want its number.
  const protoOf = new Map(snap.entries.map((e) => [keyOf(e), e.protoNum]));
  const flows: FlowRecord[] = [];
  const openConns: OpenConnInput[] = [];
  let unaccounted = 0, baseline = 0, baselineBytes = 0;
  for (const d of deltas) {
    if (d.bytesIn === null || d.bytesOut === null) { unaccounted++; continue; }
    const lport = d.lport ?? 0, rport = d.rport ?? 0;
    const protoNum = protoOf.get(d.key) ?? 0;
    let since = d.since;
    if (since === null) {
      if (prevLast === null) {
        baseline++; baselineBytes += d.bytesIn + d.bytesOut;
        openConns.push({ listingTs: o.ts, proto: protoNum, lip: d.lip, lport, rip: d.rip, rport, service: services.classify(protoNum, lport, rport),
          bytesIn: d.bytesIn, bytesOut: d.bytesOut, packetsIn: d.packetsIn ?? 0, packetsOut: d.packetsOut ?? 0 });
        continue;
      }
      since = prevLast;
    }
    flows.push(...spreadFlow(
      { iface: '', proto: protoNum, lip: d.lip, lport, rip: d.rip, rport, service: services.classify(protoNum, lport, rport) },
      Math.min(since, o.ts), o.ts,
      { bytesIn: d.bytesIn, bytesOut: d.bytesOut, packetsIn: d.packetsIn ?? 0, packetsOut: d.packetsOut ?? 0 },
    ));
  }
  if (unaccounted) {
    warnings.push(`${fmt(unaccounted)} connection(s) without byte counters: accounting is off (sysctl -w net.netfilter.nf_conntrack_acct=1)`);
  }
  if (baseline) {
    warnings.push(`first listing: ${fmt(baseline)} connection(s) without a start time (${fmt(baselineBytes)} bytes so far) taken as the baseline, not counted as flows; ` +
      'kept as open connections, which investigate dates by the sessions they carried; later listings count their growth (sysctl -w net.netfilter.nf_conntrack_timestamp=1 gives start times)');
  }
  // Remember the addresses inferred with confidence (and those of earlier listings this one did not show).
  const state: ConntrackState = engine.toJSON();
  if (inferred) state.inferredLocal = [...new Set([...known, ...inferred.sure])];
  return {
    ts: o.ts, flows: mergeFlows(flows), leases: [], ifaceTotals: [], openConns, state: JSON.stringify(state),
    warnings, unparsed, unparsedCount: snap.errors, entries: snap.entries.length,
  };
}

// ---------------------------------------------------------------------------------------------
// OpenVPN status

/** What the OpenVPN engine remembers of one client (one session at one real address). */
interface OvpnClientState {
  connectedSince: number | null;
  bytesIn: number;
  bytesOut: number;
  firstSeen: number;
  lastSeen: number;
}

export interface OpenvpnDeltaState {
  version: 1;
  lastSnapshot: number | null;
  clients: Record<string, OvpnClientState>;
}

export interface OpenvpnDelta {
  client: OpenvpnStatusClient;
  /** Start of the span the bytes cover; null for a baseline (first snapshot, no Connected Since). */
  since: number | null;
  kind: 'new' | 'update' | 'reset';
  bytesIn: number;
  bytesOut: number;
  /** When the engine first saw this session (for leases without Connected Since). */
  firstSeen: number;
}

/** A client is remembered this long after its last sighting, so that one seen again is not counted twice. */
const OVPN_FORGET_MS = 24 * 3_600_000;
/** Connected Since in v1 is whole seconds of local time, in v2/v3 a time_t: equal within this. */
const SINCE_TOLERANCE_MS = 2_000;

const clientKey = (c: OpenvpnStatusClient) => `${c.cn}\u0000${c.realIp}\u0000${c.realPort ?? ''}`;

/**
 * Per-client byte deltas between OpenVPN status snapshots. A client is its CN and real address
 * (ip:port), as OpenVPN keys them; a new `Connected Since` or a counter that went down is a
 * reconnect (a new session: counted from zero, from when it connected). Order is checked per
 * client, so the status files of two OpenVPN instances can share the engine.
 */
export class OpenvpnDeltas {
  private state: OpenvpnDeltaState;

  constructor(state?: OpenvpnDeltaState) {
    this.state = state ? structuredClone(state) : { version: 1, lastSnapshot: null, clients: {} };
  }

  static fromJSON(state: OpenvpnDeltaState): OpenvpnDeltas {
    if (state?.version !== 1 || typeof state.clients !== 'object' || state.clients === null) {
      throw new InputError('stored OpenVPN status state is not a version 1 delta state');
    }
    return new OpenvpnDeltas(state);
  }

  toJSON(): OpenvpnDeltaState {
    return structuredClone(this.state);
  }

  /**
   * Deltas of one snapshot taken at `ts`, one per client (zero when nothing moved); `stale`: the
   * clients already seen in a later snapshot, whose counters are not used.
   */
  ingest(ts: number, clients: OpenvpnStatusClient[]): { deltas: OpenvpnDelta[]; stale: OpenvpnStatusClient[] } {
    const st = this.state;
    const prevLast = st.lastSnapshot;
    // Rows of one key oldest session first, so that an old session's last growth is counted
    // before its successor (same real address) takes its place.
    const sorted = [...clients].sort((a, b) => {
      const ka = clientKey(a), kb = clientKey(b);
      if (ka !== kb) return ka < kb ? -1 : 1;
      return (a.connectedSince ?? -Infinity) - (b.connectedSince ?? -Infinity) || (a.bytesIn + a.bytesOut) - (b.bytesIn + b.bytesOut);
    });
    const deltas: OpenvpnDelta[] = [];
    const stale: OpenvpnStatusClient[] = [];
    for (const c of sorted) {
      const key = clientKey(c);
      const prev = st.clients[key];
      if (prev && ts < prev.lastSeen) { stale.push(c); continue; }
      const sameSession = prev !== undefined && sameSince(prev.connectedSince, c.connectedSince) && c.bytesIn >= prev.bytesIn && c.bytesOut >= prev.bytesOut;
      let d: OpenvpnDelta;
      if (prev && sameSession) {
        d = { client: c, since: prev.lastSeen, kind: 'update', bytesIn: c.bytesIn - prev.bytesIn, bytesOut: c.bytesOut - prev.bytesOut, firstSeen: prev.firstSeen };
      } else if (prev) {
        // A reconnect: the new session's bytes began when it connected, and after the last sighting of the old one.
        const since = Math.min(ts, Math.max(c.connectedSince ?? prev.lastSeen, prev.lastSeen));
        d = { client: c, since, kind: 'reset', bytesIn: c.bytesIn, bytesOut: c.bytesOut, firstSeen: ts };
      } else {
        const since = c.connectedSince !== null ? Math.min(c.connectedSince, ts) : prevLast !== null ? Math.min(prevLast, ts) : null;
        d = { client: c, since, kind: 'new', bytesIn: c.bytesIn, bytesOut: c.bytesOut, firstSeen: ts };
      }
      st.clients[key] = { connectedSince: c.connectedSince, bytesIn: c.bytesIn, bytesOut: c.bytesOut, firstSeen: d.firstSeen, lastSeen: ts };
      deltas.push(d);
    }
    const newest = Math.max(ts, prevLast ?? ts);
    for (const [k, c] of Object.entries(st.clients)) if (newest - c.lastSeen > OVPN_FORGET_MS) delete st.clients[k];
    st.lastSnapshot = newest;
    return { deltas, stale };
  }
}

function sameSince(a: number | null, b: number | null): boolean {
  if (a === null || b === null) return a === b;
  return Math.abs(a - b) <= SINCE_TOLERANCE_MS;
}

export interface OpenvpnSnapshotOptions {
  tz: string;
  /** The file's time (UTC ms), used when the status has no readable `Updated`/`TIME`. */
  fileTime: number;
  /** The server's OpenVPN port (default 1194): the local port of the flow records. */
  port?: number;
}

/**
 * One OpenVPN server status file (v1, v2 or v3): per-client byte deltas as flow records of
 * source `openvpn-status` (rip/rport = the client's real address, lport = the OpenVPN port,
 * lip = '' as the status does not say, proto 17: the status does not say either, and UDP is
 * OpenVPN's default), and each client's virtual addresses as leases.
 */
export function openvpnStatusSnapshot(text: string, prevState: string | null, o: OpenvpnSnapshotOptions): SnapshotResult {
  const ctx: ParseContext = { tz: o.tz, refTime: o.fileTime, bootTime: null };
  const st = parseOpenvpnStatus(text, ctx);
  if ('error' in st) {
    return { ts: o.fileTime, flows: [], leases: [], ifaceTotals: [], state: null, warnings: [], unparsed: [], unparsedCount: 0, entries: 0, error: st.error };
  }
  const warnings = [...st.warnings];
  let ts = st.updated;
  if (ts === null) {
    ts = o.fileTime;
    warnings.push(`no readable Updated/TIME: taken as written at ${iso(ts)} (the file's time)`);
  }
  let engine = new OpenvpnDeltas();
  if (prevState !== null) {
    try {
      engine = OpenvpnDeltas.fromJSON(JSON.parse(prevState) as OpenvpnDeltaState);
    } catch (err) {
      warnings.push(`${(err as Error).message}: started afresh`);
    }
  }
  const { deltas, stale } = engine.ingest(ts, st.clients);
  if (stale.length) warnings.push(`${stale.length} client(s) were already seen in a later status file: their counters here were not used`);
  const port = o.port ?? 1194;
  const flows: FlowRecord[] = [];
  const leases: LeaseInput[] = [];
  let baseline = 0, baselineBytes = 0;
  const all = [...deltas, ...stale.map((c): OpenvpnDelta => ({ client: c, since: ts, kind: 'update', bytesIn: 0, bytesOut: 0, firstSeen: ts }))];
  for (const d of all) {
    const c = d.client;
    if (d.bytesIn || d.bytesOut) {
      if (d.since === null) { baseline++; baselineBytes += d.bytesIn + d.bytesOut; }
      else {
        flows.push(...spreadFlow(
          { iface: '', proto: 17, lip: '', lport: port, rip: c.realIp, rport: c.realPort ?? 0, service: 'openvpn' },
          d.since, ts, { bytesIn: d.bytesIn, bytesOut: d.bytesOut, packetsIn: 0, packetsOut: 0 },
        ));
      }
    }
    // A client still in its TLS handshake has no account yet.
    if (c.cn === 'UNDEF') continue;
    for (const vip of [c.virtualIp, c.virtualIp6]) {
      const v = vip === null ? null : normalizeIp(vip);
      if (v === null) continue;
      leases.push({ account: c.cn, realIp: c.realIp, realPort: c.realPort, vip: v, firstTs: Math.min(c.connectedSince ?? d.firstSeen, ts), lastTs: ts, source: 'openvpn-status' });
    }
  }
  if (baseline) {
    warnings.push(`first status file: ${baseline} client(s) without Connected Since (${fmt(baselineBytes)} bytes so far) taken as the baseline, not counted`);
  }
  return { ts, flows: mergeFlows(flows), leases, ifaceTotals: [], state: JSON.stringify(engine.toJSON()), warnings, unparsed: st.rejected, unparsedCount: st.rejected.length, entries: st.clients.length };
}

// ---------------------------------------------------------------------------------------------
// vnstat

/**
 * `vnstat --json`: every interface's series (five minutes, hours, days, months) as interface
 * totals. Totals are upserted keeping the larger value, so a later export of a period still
 * in progress raises it and an older one never lowers it.
 */
export function vnstatSnapshot(text: string, o: { tz: string; fileTime: number }): SnapshotResult {
  const r = parseVnstatJson(text, o.tz);
  if ('error' in r) {
    return { ts: o.fileTime, flows: [], leases: [], ifaceTotals: [], state: null, warnings: [], unparsed: [], unparsedCount: 0, entries: 0, error: r.error };
  }
  const ifaceTotals: IfaceTotalInput[] = [];
  const unparsed: SnapshotResult['unparsed'] = [];
  let rejected = 0;
  let newest = -Infinity;
  for (const it of r.interfaces) {
    for (const p of it.series) {
      // The values no export can mean (a period in 1970 or 9999, a fractional or 1e30 counter)
      // are counted and left out, as the event check does for log lines (parsers/check.ts).
      const why = timestampProblem(p.start, o.fileTime) ?? counterProblem('rx', p.rx) ?? counterProblem('tx', p.tx);
      if (why !== null) {
        rejected++;
        if (unparsed.length < 20) unparsed.push({ line: 0, reason: `${it.name} ${p.granularity}: ${why}`, text: JSON.stringify({ start: p.start, rx: p.rx, tx: p.tx }) });
        continue;
      }
      ifaceTotals.push({ iface: it.name, granularity: p.granularity, start: p.start, rx: p.rx, tx: p.tx });
      if (p.start > newest) newest = p.start;
    }
  }
  const warnings = r.interfaces.length ? [] : ['vnstat export lists no interfaces'];
  if (rejected) warnings.push(`${rejected} vnstat period(s) with an impossible date or counter left out`);
  return { ts: Number.isFinite(newest) ? newest : o.fileTime, flows: [], leases: [], ifaceTotals, state: null, warnings, unparsed, unparsedCount: rejected, entries: ifaceTotals.length };
}
