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
import type { IfaceTotalInput, LeaseInput, OpenConnInput } from '../store/index.js';
import { ConntrackDeltas, keyOf, parseConntrackSnapshot, type ConntrackEntry, type ConntrackState } from './conntrack.js';
import { defaultServices, ServiceTable } from './services.js';
import type { FlowRecord, ServicePorts } from './types.js';
import { parseVnstatJson } from './vnstat.js';
import { fmt, iso, mergeFlows, MINUTE, spreadFlow, type SnapshotResult } from './spread.js';

export { spreadOver, type SnapshotResult } from './spread.js';

/** Counter-state key in `counter_state` of the conntrack engine (each counter source declares its own). */
export const CONNTRACK_STATE_KEY = 'snapshot-deltas:conntrack';


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
