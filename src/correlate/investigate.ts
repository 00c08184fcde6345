/**
 * The investigation: load a window's events and flows, build identities, attribute every
 * flow byte to exactly one bucket, classify what the numbers show, and return one result
 * object that every renderer draws from.
 */
import { formatBytes } from '../output.js';
import { chooseFlowSource, WIRE_SOURCES } from '../flows/query.js';
import type { FlowSource } from '../flows/query.js';
import type { FlowRow, Store, StoredEvent } from '../store/index.js';
import { type AttributionContext, attributeFlow, groupOf, type Verdict } from './attribute.js';
import { COUNTER_FLOW_SOURCES } from '../sources/counters.js';
import { aggregateFact } from '../sources/index.js';
import { buildIdentities, type Identities, isMailSessionEvent, type Lease, type MailSession } from './identities.js';
import { SERVICE_LABEL } from './types.js';
import type {
  Confidence, Evidence, EvidenceLine, Finding, FindingKind, FlowSourceName, Investigation, ServiceGroup, Suspect, ThrottleProposal, UnattributedBucket,
} from './types.js';

export interface InvestigateOptions {
  from: number;
  to: number;
  /** How far before the window to look for logins of sessions still open in it (default 24 h). */
  lookbackMs?: number;
  /** The same for VPN sessions, which last longer (default 7 days). */
  vpnLookbackMs?: number;
  vpnPorts?: number[];
  /** Force a flow source instead of the most complete one. */
  source?: string;
}

const MINUTE = 60_000;
const HOUR = 3_600_000;

interface Bucket {
  account: string | null; group: ServiceGroup; reason: string | null;
  bytesIn: number; bytesOut: number; dupBytes: number;
  ips: Map<string, number>; remotes: Map<string, { ip: string; port: number | null; bytes: number }>;
  confidences: Set<Confidence>; split: boolean; minutes: Map<number, number>;
  /** Bytes per service group, to name the group of a bucket that spans several (a scan). */
  groups: Map<ServiceGroup, number>;
}

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

function evLine(e: StoredEvent): EvidenceLine {
  return { ts: new Date(e.ts).toISOString(), where: e.path ? `${e.path}:${e.line}` : `event ${e.id}`, text: (e.raw ?? '').slice(0, 400) };
}

/** A few lines from the start and the end of a list, as evidence. */
function sampleLines(events: StoredEvent[], n = 4): EvidenceLine[] {
  if (events.length <= n) return events.map(evLine);
  const head = Math.ceil(n / 2);
  return [...events.slice(0, head), ...events.slice(events.length - (n - head))].map(evLine);
}

/** The flow source to read (never two added together) and its name in the result. */
function chooseSource(store: Store, from: number, to: number, forced?: string): { name: FlowSourceName; table: string | null } {
  const { source, reason } = chooseFlowSource(store.flowSources(from, to), forced as FlowSource | undefined);
  if (reason === 'chosen') return { name: forced as FlowSourceName, table: forced! };
  // OpenVPN status deltas alone are the VPN's own counters, not the wire.
  if (source === null || (COUNTER_FLOW_SOURCES as readonly string[]).includes(source)) return { name: 'log-counters', table: source };
  return { name: source as FlowSourceName, table: source };
}

function* noFlows(): Generator<FlowRow> { /* nothing */ }

function newBucket(account: string | null, group: ServiceGroup, reason: string | null): Bucket {
  return { account, group, reason, bytesIn: 0, bytesOut: 0, dupBytes: 0, ips: new Map(), remotes: new Map(), confidences: new Set(), split: false, minutes: new Map(), groups: new Map() };
}

function addTo(b: Bucket, f: { bytesIn: number; bytesOut: number; rip: string; rport: number | null; minute: number }, group: ServiceGroup, frac: number, dup: boolean): void {
  const bi = f.bytesIn * frac, bo = f.bytesOut * frac;
  if (dup) { b.dupBytes += bi + bo; return; }
  b.bytesIn += bi; b.bytesOut += bo;
  b.ips.set(f.rip, (b.ips.get(f.rip) ?? 0) + bi + bo);
  b.groups.set(group, (b.groups.get(group) ?? 0) + bi + bo);
  b.minutes.set(f.minute, (b.minutes.get(f.minute) ?? 0) + bi + bo);
  // Remote ports are only listed for traffic no account explains.
  if (b.account !== null) return;
  const rk = `${f.rip}|${f.rport ?? ''}`;
  const r = b.remotes.get(rk);
  if (r) r.bytes += bi + bo; else b.remotes.set(rk, { ip: f.rip, port: f.rport, bytes: bi + bo });
}

export function investigate(store: Store, opts: InvestigateOptions): Investigation {
  const { from, to } = opts;
  const lookback = opts.lookbackMs ?? 24 * HOUR;
  const vpnLookback = opts.vpnLookbackMs ?? 7 * 24 * HOUR;
  const vpnPorts = new Set(opts.vpnPorts ?? [1194]);
  const notes: string[] = [];

  // Identities: logins and connects from well before the window (sessions outlive it),
  // everything else from the window itself (plus a little slack for late logouts).
  const before = [...store.vpnIdentityEvents(from - vpnLookback, from - lookback), ...store.identityEvents(from - lookback, from)];
  const during = store.eventsInRange(from, to + 5 * MINUTE);
  const events = [...before, ...during];
  const extent = store.dataExtent();
  const dataEnd = Math.min(to, extent.last ?? to);
  const leaseRows = store.leasesInRange(from - vpnLookback, to);
  const leases: Lease[] = leaseRows.map((l) => ({ account: l.account, vip: l.vip, start: l.firstTs, end: l.lastTs, realIp: l.realIp }));
  const ids = buildIdentities(events, Math.max(dataEnd, to), leases);
  // Without OpenVPN log lines, the status file's leases still name the client on its real address.
  for (const l of leaseRows) {
    const known = ids.vpnByIp.get(l.realIp)?.some((x) => x.account === l.account && x.start <= l.lastTs && x.end >= l.firstTs);
    if (known) continue;
    const sess = { account: l.account, rip: l.realIp, rport: l.realPort || null, start: l.firstTs, end: l.lastTs, open: false, vips: [l.vip], events: [] };
    ids.vpn.push(sess);
    const list = ids.vpnByIp.get(l.realIp);
    if (list) list.push(sess); else ids.vpnByIp.set(l.realIp, [sess]);
  }
  // Only sessions that reach within 6 hours of the window can explain its flows (ip-only
  // looks that far); dropping the rest keeps per-flow lookups short on a month of data.
  const horizon = from - 6 * HOUR;
  for (const [ip, list] of ids.mailByIp) {
    const keep = list.filter((x) => x.end > horizon);
    if (keep.length) ids.mailByIp.set(ip, keep); else ids.mailByIp.delete(ip);
  }
  const aggs = store.aggregatesInRange(from - (from % MINUTE), to);

  const drops = new Map<string, { count: number; ports: Set<number> }>();
  for (const a of aggs) {
    if (aggregateFact(a.source, a.kind) !== 'firewall-drop' || !a.rip) continue;
    const d = drops.get(a.rip) ?? { count: 0, ports: new Set<number>() };
    d.count += a.count;
    d.ports.add(a.lport);
    drops.set(a.rip, d);
  }

  const { name: flowSource, table } = chooseSource(store, from, to, opts.source);
  const wire = (WIRE_SOURCES as readonly string[]).includes(flowSource);
  const rows = () => (table ? store.iterateFlows(table, from, to) : noFlows());
  let flowCount = 0;

  // VPN: which accounts have tunnel traffic, and the inner (virtual-address) flows by their far end.
  const tunnelAccounts = new Set<string>();
  const innerKeys = new Map<string, string>();
  // A long-lived mail connection whose login is older than the look-back: ask the store for the
  // last login from that IP that never logged out (30 days back), once per IP.
  const lastLogin = new Map<string, { account: string; service: string } | null>();
  const openLoginOn = (ip: string) => {
    if (!lastLogin.has(ip)) {
      const e = store.openMailLoginBefore(ip, from - lookback, from - 30 * 24 * HOUR);
      lastLogin.set(ip, e && e.account ? { account: e.account, service: String(e.attrs?.service ?? 'imap') } : null);
    }
    return lastLogin.get(ip)!;
  };
  const ctx: AttributionContext = { ids, vpnPorts, drops, tunnelAccounts, innerKeys, openLoginOn };
  const vpnRows = table ? store.vpnFlowsInRange(table, from, to, [...vpnPorts], [...ids.leasesByVip.keys()]) : [];
  for (const f of vpnRows) {
    if (groupOf(f, vpnPorts) === 'vpn') {
      const v = attributeFlow(f, ctx);
      if (v.kind === 'account') for (const s of v.shares) tunnelAccounts.add(s.account);
    }
    for (const [vipSide, far, farPort] of [[f.rip, f.lip, f.lport], [f.lip, f.rip, f.rport]] as const) {
      const l = ids.leasesByVip.get(vipSide)?.find((x) => x.start - 5 * MINUTE < f.minute + MINUTE && x.end + 5 * MINUTE > f.minute);
      if (l) innerKeys.set(`${f.proto}|${far}|${farPort}|${f.minute}`, l.account);
    }
  }

  const buckets = new Map<string, Bucket>();
  const bucketFor = (key: string, account: string | null, group: ServiceGroup, reason: string | null) => {
    let b = buckets.get(key);
    if (!b) { b = newBucket(account, group, reason); buckets.set(key, b); }
    return b;
  };
  let totalIn = 0, totalOut = 0, packetsIn = 0, packetsOut = 0;
  const minuteTotals = new Map<number, { bytesIn: number; bytesOut: number }>();
  let vpnDup = 0;

  for (const f of rows()) {
    flowCount++;
    totalIn += f.bytesIn; totalOut += f.bytesOut; packetsIn += f.packetsIn; packetsOut += f.packetsOut;
    const mt = minuteTotals.get(f.minute) ?? { bytesIn: 0, bytesOut: 0 };
    mt.bytesIn += f.bytesIn; mt.bytesOut += f.bytesOut;
    minuteTotals.set(f.minute, mt);
    const v: Verdict = attributeFlow(f, ctx);
    if (v.kind === 'account') {
      const sum = v.shares.reduce((a, s) => a + s.weight, 0) || 1;
      for (const s of v.shares) {
        const b = bucketFor(`a|${s.account}|${v.group}`, s.account, v.group, null);
        b.confidences.add(v.confidence);
        if (v.shares.length > 1) b.split = true;
        addTo(b, f, v.group, v.shares.length > 1 ? s.weight / sum : 1, v.duplicate);
      }
      if (v.duplicate) vpnDup += f.bytesIn + f.bytesOut;
    } else {
      addTo(bucketFor(`u|${v.reason}`, null, v.group, v.reason), f, v.group, 1, false);
    }
  }

  // Without wire flows, the logs' own counters are all there is: Dovecot in=/out= per session
  // (spread over the session's time in the window) and OpenVPN status deltas (already flows).
  if (!wire) {
    for (const s of ids.mail) {
      if (s.bytesOut === null && s.bytesIn === null) continue;
      const span = Math.max(1, s.end - s.start);
      const overlap = Math.max(0, Math.min(s.end, to) - Math.max(s.start, from));
      if (overlap <= 0 && !(s.end >= from && s.end < to)) continue;
      const frac = s.end === s.start ? 1 : overlap / span;
      const b = bucketFor(`a|${s.account}|${s.service}`, s.account, s.service, null);
      b.confidences.add('log-counters');
      const f = { bytesIn: s.bytesIn ?? 0, bytesOut: s.bytesOut ?? 0, rip: s.rip, rport: s.rport, minute: s.end - (s.end % MINUTE) };
      addTo(b, f, s.service, frac, false);
      totalIn += f.bytesIn * frac; totalOut += f.bytesOut * frac;
      const mt = minuteTotals.get(f.minute) ?? { bytesIn: 0, bytesOut: 0 };
      mt.bytesIn += f.bytesIn * frac; mt.bytesOut += f.bytesOut * frac;
      minuteTotals.set(f.minute, mt);
    }
    for (const b of buckets.values()) if (b.account && b.group === 'vpn') { b.confidences.clear(); b.confidences.add('log-counters'); }
    notes.push(flowCount || ids.mail.length
      ? 'No capture or conntrack data covers this window: byte counts come from the logs\' own counters (Dovecot in=/out= at logout, OpenVPN status). Sessions still open are undercounted until they log out.'
      : 'No flow data and no byte counters in this window.');
  }
  if (vpnDup > 0) {
    notes.push(`VPN traffic is counted twice on the wire: ${formatBytes(vpnDup)} seen again as forwarded or tunnel-interface traffic (eth0 counts it once as rx from the internet and once as tx to the client over the VPN port). Each account's figure counts those bytes once.`);
  }

  const total = totalIn + totalOut;
  const suspects: Suspect[] = [];
  const findings: Finding[] = [];
  const unattributed: UnattributedBucket[] = [];
  let attributedBytes = 0;

  const index = indexByAccount(events, ids);
  for (const b of buckets.values()) {
    const bytes = b.bytesIn + b.bytesOut;
    if (b.account === null) {
      unattributed.push({
        reason: b.reason ?? 'unknown', bytes, bytesIn: b.bytesIn, bytesOut: b.bytesOut,
        topRemotes: [...b.remotes.values()].sort((x, y) => y.bytes - x.bytes).slice(0, 5).map((r) => ({ ...r, bytes: Math.round(r.bytes) })),
      });
      continue;
    }
    attributedBytes += bytes + b.dupBytes;
    const conf: Confidence = b.confidences.has('log-counters') ? 'log-counters' : b.confidences.has('ip-only') ? 'ip-only' : b.split || b.confidences.has('shared-ip') ? 'shared-ip' : 'exact';
    suspects.push(makeSuspect(b, conf, ids, index, from, to, total));
  }

  // Traffic no account explains but that has a clear cause becomes a suspect without an account.
  const dnsBucket = [...buckets.values()].find((b) => b.account === null && b.reason === 'dns');
  const dnsFinding = dnsBucket ? classifyDns(dnsBucket, aggs, total) : null;
  if (dnsBucket && dnsFinding) {
    suspects.push(anonymousSuspect(dnsBucket, 'dns', 'dns-amplification', dnsFinding.evidence, total));
    findings.push(dnsFinding);
  }
  for (const reason of ['scan', 'bruteforce'] as const) {
    const bs = [...buckets.values()].filter((b) => b.account === null && b.reason === reason);
    for (const b of bs) {
      const ev = anonymousEvidence(b, reason, ids, aggs);
      if (b.bytesIn + b.bytesOut > 0) suspects.push(anonymousSuspect(b, reason === 'scan' ? 'other' : dominantGroup(b), reason, ev, total));
    }
  }
  suspects.sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut));
  // Findings in the order of the suspects they explain; scans and brute force come last.
  const dnsFindings = findings.splice(0);
  for (const s of suspects) {
    if (s.account && s.finding !== 'normal-use') {
      findings.push({ kind: s.finding, subject: s.account, summary: findingSummary(s), evidence: s.evidence });
    } else if (!s.account && s.finding === 'dns-amplification') findings.push(...dnsFindings);
  }
  const unknown = unattributed.filter((u) => u.reason === 'unknown' || u.reason === 'outbound-unknown').reduce((a, u) => a + u.bytes, 0);
  if (total > 0 && unknown / total >= 0.05) {
    const tops = unattributed.filter((u) => u.reason === 'unknown' || u.reason === 'outbound-unknown').flatMap((u) => u.topRemotes).sort((a, b) => b.bytes - a.bytes).slice(0, 5);
    findings.push({
      kind: 'unexplained', subject: 'unattributed traffic',
      summary: `${formatBytes(unknown)} (${pct(unknown / total)}) of the traffic matches no login, VPN session or mail delivery`,
      evidence: { facts: tops.map((r) => `${hostPort(r.ip, r.port)}: ${formatBytes(r.bytes)}`), lines: [] },
    });
  }
  // Scans and brute force that never reached the capture (dropped early) are findings too.
  findings.push(...scanFindings(aggs, ids));
  unattributed.sort((a, b) => b.bytes - a.bytes);
  const unattributedBytes = unattributed.reduce((a, u) => a + u.bytes, 0);

  const timeline = buildTimeline(from, to, minuteTotals, buckets);
  const baseline = wire ? computeBaseline(store, flowSource, from, to, total) : null;
  const ifaces = store.interfaceTotals('hour', from - (from % HOUR), to);
  const top = suspects[0] ?? null;
  const topBucket = top ? [...buckets.values()].find((b) => b.account === top.account && (top.account !== null ? b.group === top.service : b.reason === top.finding || (b.reason === 'dns' && top.finding === 'dns-amplification'))) : undefined;
  const submitters = top?.account ? suspects.find((x) => x.account === top.account && x.service === 'submission')?.ips : undefined;
  const throttle = top ? proposeThrottle(top, from, to, topBucket ? peakWindow(topBucket.minutes, 5) : 0, submitters) : null;

  return {
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    flowSource: flowCount || !wire ? flowSource : 'none',
    totals: { bytesIn: Math.round(totalIn), bytesOut: Math.round(totalOut), attributedBytes: Math.round(attributedBytes), unattributedBytes: Math.round(unattributedBytes), packetsIn, packetsOut },
    verdict: verdictLine(top, totalIn, totalOut, to - from),
    suspects: suspects.map((s) => ({ ...s, bytesIn: Math.round(s.bytesIn), bytesOut: Math.round(s.bytesOut), doubleCountedBytes: Math.round(s.doubleCountedBytes) })),
    findings,
    unattributed: unattributed.map((u) => ({ ...u, bytes: Math.round(u.bytes), bytesIn: Math.round(u.bytesIn), bytesOut: Math.round(u.bytesOut) })),
    timeline,
    baseline,
    interfaceTotals: ifaces.length ? ifaces : null,
    notes,
    throttle,
  };
}

const pct = (x: number) => `${Math.round(x * 100)}%`;

/** `192.0.2.1:25`, `[2001:db8::1]:25`, or the bare address without a port. */
function hostPort(ip: string, port: number | null): string {
  if (port === null) return ip;
  return ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`;
}

function humanDuration(ms: number): string {
  const h = ms / HOUR;
  if (h >= 48 && Number.isInteger(h / 24)) return `${h / 24}d`;
  if (h >= 1) return `${Number.isInteger(h) ? h : h.toFixed(1)}h`;
  return `${Math.round(ms / MINUTE)}m`;
}


function verdictLine(top: Suspect | null, totalIn: number, totalOut: number, span: number): string {
  if (!top) return totalIn + totalOut > 0 ? `No account or known cause explains the ${formatBytes(totalIn + totalOut)} in this window.` : 'No traffic recorded in this window.';
  const dirTotal = top.direction === 'out' ? totalOut : totalIn;
  const dirBytes = top.direction === 'out' ? top.bytesOut : top.bytesIn;
  const share = dirTotal > 0 ? dirBytes / dirTotal : 0;
  const who = top.account ?? `${top.finding} from ${top.ips.slice(0, 2).join(', ')}${top.ips.length > 2 ? ` and ${top.ips.length - 2} more` : ''}`;
  const where = top.account ? ` (${SERVICE_LABEL[top.service]}, ${top.ips.slice(0, 2).join(', ')}${top.ips.length > 2 ? ', …' : ''})` : ` (${SERVICE_LABEL[top.service]})`;
  const sessions = top.sessions ? `, ${top.sessions} session${top.sessions === 1 ? '' : 's'}` : '';
  const split = top.split ? ' (split with other accounts on a shared IP)' : '';
  return `${who}${where} caused ${pct(share)} of ${top.direction === 'out' ? 'outbound' : 'inbound'} traffic: ${formatBytes(dirBytes)} in ${humanDuration(span)}${sessions}${split}.`;
}

/** The IPs that carry a real part (at least 2%) of a bucket's bytes, largest first. */
function topIps(b: Bucket, n = 10): string[] {
  const total = [...b.ips.values()].reduce((a, v) => a + v, 0);
  const sorted = [...b.ips.entries()].sort((x, y) => y[1] - x[1]);
  const big = sorted.filter(([, v], i) => i === 0 || v >= 0.02 * total);
  return big.slice(0, n).map(([ip]) => ip);
}

function dominantGroup(b: Bucket): ServiceGroup {
  let best: ServiceGroup = b.group, max = -1;
  for (const [g, v] of b.groups) if (v > max) { max = v; best = g; }
  return best;
}

/** Per-account lookups, built once: a month of data has thousands of accounts. */
interface AccountIndex {
  events: Map<string, StoredEvent[]>;
  mail: Map<string, MailSession[]>;
  vpn: Map<string, Identities['vpn']>;
  submissions: Map<string, Array<Identities['submissions'] extends Map<string, infer V> ? V : never>>;
  deliveries: Map<string, Identities['deliveries']>;
}

function groupBy<T>(list: Iterable<T>, key: (x: T) => string | null): Map<string, T[]> {
  const m = new Map<string, T[]>();
  for (const x of list) {
    const k = key(x);
    if (k === null) continue;
    const l = m.get(k);
    if (l) l.push(x); else m.set(k, [x]);
  }
  return m;
}

function indexByAccount(events: StoredEvent[], ids: Identities): AccountIndex {
  return {
    events: groupBy(events, (e) => e.account),
    mail: groupBy(ids.mail, (s) => s.account),
    vpn: groupBy(ids.vpn, (s) => s.account),
    submissions: groupBy(ids.submissions.values(), (s) => s.account),
    deliveries: groupBy(ids.deliveries, (d) => d.account),
  };
}

function makeSuspect(b: Bucket, confidence: Confidence, ids: Identities, index: AccountIndex, from: number, to: number, total: number): Suspect {
  const account = b.account!;
  const ips = topIps(b);
  const mine = (index.events.get(account) ?? []).filter((e) => e.ts < to + 5 * MINUTE);
  const inWindow = mine.filter((e) => e.ts >= from);
  let finding: FindingKind = 'normal-use';
  const facts: string[] = [];
  let lines: EvidenceLine[] = [];
  let sessions = 0;
  const bytes = b.bytesIn + b.bytesOut;
  const share = total > 0 ? bytes / total : 0;

  if (b.group === 'imap' || b.group === 'pop3') {
    const ss: MailSession[] = (index.mail.get(account) ?? []).filter((s) => s.service === b.group && s.start < to && s.end > from);
    sessions = ss.length;
    const outs = ss.map((s) => s.bytesOut).filter((x): x is number => x !== null).sort((x, y) => x - y);
    const maxParallel = parallelism(ss);
    const openNow = ss.filter((s) => s.open).length;
    const medianOut = outs.length ? outs[Math.floor(outs.length / 2)] : 0;
    facts.push(`${sessions} ${SERVICE_LABEL[b.group]} sessions in the window from ${new Set(ss.map((s) => s.rip)).size} IP(s), up to ${maxParallel} at once, ${openNow} still open`);
    if (outs.length) facts.push(`${outs.length} logged out with out= between ${formatBytes(outs[0])} and ${formatBytes(outs[outs.length - 1])} (median ${formatBytes(medianOut)})`);
    facts.push(`${formatBytes(b.bytesOut)} sent to the client, ${formatBytes(b.bytesIn)} received`);
    // Re-download loop: the mailbox goes out again and again, in repeated or parallel sessions.
    // "Large" is relative to the mailbox (the biggest out= seen) and never trivial (20 MB).
    const biggest = outs.length ? outs[outs.length - 1] : 0;
    const repeatedLarge = outs.filter((o) => o >= 0.5 * biggest && o >= 20e6).length;
    const downloadHeavy = b.bytesOut > 4 * Math.max(1, b.bytesIn);
    if (downloadHeavy && (repeatedLarge >= 3 || ((sessions >= 3 || maxParallel >= 2) && share >= 0.2))) finding = 'imap-resync';
    lines = sampleLines(inWindow.filter(isMailSessionEvent), 6);
  } else if (b.group === 'smtp' || b.group === 'submission') {
    const subs = (index.submissions.get(account) ?? []).filter((s) => s.ts >= from && s.ts < to);
    sessions = subs.length;
    const rcpts = subs.reduce((a, s) => a + (s.nrcpt ?? s.deliveries.length), 0);
    const clientIps = new Set(subs.map((s) => s.rip).filter(Boolean) as string[]);
    const nets = new Set([...clientIps].map((ip) => (ip.includes(':') ? ip.split(':').slice(0, 3).join(':') : ip.split('.').slice(0, 3).join('.'))));
    const ds = (index.deliveries.get(account) ?? []).filter((d) => d.ts >= from && d.ts < to);
    const bad = ds.filter((d) => d.status !== 'sent').length;
    const fails = ids.authFailByAccount.get(account)?.length ?? 0;
    void ids;
    facts.push(`${subs.length} messages submitted with SASL from ${clientIps.size} IP(s) in ${nets.size} network(s), ${rcpts} recipients`);
    facts.push(`${ds.length} deliveries, ${bad} deferred or bounced${fails ? `; ${fails} failed logins for this account` : ''}`);
    const spam = (rcpts >= 50 || subs.length >= 30) && (nets.size >= 3 || clientIps.size >= 4 || (ds.length > 0 && bad / ds.length >= 0.2));
    if (spam) finding = 'spam-relay';
    const scans = subs.map((s) => s.scan).filter((x): x is StoredEvent => x !== null);
    lines = [...sampleLines(subs.map((s) => s.login), 3), ...sampleLines(ds.filter((d) => d.status !== 'sent').map((d) => d.event), 2), ...sampleLines(scans, 1)];
  } else if (b.group === 'vpn') {
    const vs = (index.vpn.get(account) ?? []).filter((s) => s.start < to && s.end > from);
    sessions = vs.length;
    facts.push(`${vs.length} VPN session(s) from ${new Set(vs.map((s) => s.rip)).size} real IP(s); virtual address(es) ${[...new Set(vs.flatMap((s) => s.vips))].join(', ') || 'unknown'}`);
    facts.push(`${formatBytes(b.bytesOut)} sent to the client through the tunnel, ${formatBytes(b.bytesIn)} received`);
    if (b.dupBytes > 0) facts.push(`${formatBytes(b.dupBytes)} of the same traffic seen again forwarded or on the tunnel interface (not added)`);
    if (share >= 0.3 || bytes >= 100e6) finding = 'vpn-heavy';
    lines = sampleLines(vs.flatMap((s) => s.events), 4);
  } else {
    sessions = mine.filter((e) => e.kind === 'login' || e.kind === 'connect' || e.kind === 'sasl-login').length;
    lines = sampleLines(inWindow, 3);
  }
  let first = Infinity, last = -Infinity;
  for (const e of mine) { if (e.ts < first) first = e.ts; if (e.ts > last) last = e.ts; }
  return {
    account, ips, service: b.group, bytesIn: b.bytesIn, bytesOut: b.bytesOut, share, confidence, finding,
    evidence: { facts, lines }, sessions,
    firstSeen: iso(mine.length ? first : null), lastSeen: iso(mine.length ? last : null),
    split: b.split, doubleCountedBytes: b.dupBytes, direction: b.bytesOut >= b.bytesIn ? 'out' : 'in',
  };
}

function parallelism(ss: MailSession[]): number {
  const pts: Array<[number, number]> = [];
  for (const s of ss) { pts.push([s.start, 1]); pts.push([s.end, -1]); }
  pts.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let cur = 0, max = 0;
  for (const [, d] of pts) { cur += d; max = Math.max(max, cur); }
  return max;
}

function anonymousSuspect(b: Bucket, group: ServiceGroup, finding: FindingKind, evidence: Evidence, total: number): Suspect {
  const bytes = b.bytesIn + b.bytesOut;
  return {
    account: null, ips: topIps(b), service: group, bytesIn: b.bytesIn, bytesOut: b.bytesOut, share: total > 0 ? bytes / total : 0,
    confidence: 'ip-only', finding, evidence, sessions: 0, firstSeen: null, lastSeen: null, split: false, doubleCountedBytes: 0,
    direction: b.bytesOut >= b.bytesIn ? 'out' : 'in',
  };
}

/** DNS amplification: small queries in, large answers out, to few destinations (the spoofed victims). */
function classifyDns(b: Bucket, aggs: ReturnType<Store['aggregatesInRange']>, total: number): Finding | null {
  const ratio = b.bytesOut / Math.max(1, b.bytesIn);
  const queries = aggs.filter((a) => aggregateFact(a.source, a.kind) === 'dns-query');
  const byType = new Map<string, number>();
  const bySrc = new Map<string, number>();
  let n = 0;
  for (const q of queries) { byType.set(q.detail, (byType.get(q.detail) ?? 0) + q.count); bySrc.set(q.rip, (bySrc.get(q.rip) ?? 0) + q.count); n += q.count; }
  const any = (byType.get('ANY') ?? 0) + (byType.get('TXT') ?? 0) + (byType.get('DNSKEY') ?? 0) + (byType.get('RRSIG') ?? 0);
  const topSrc = [...bySrc.entries()].sort((x, y) => y[1] - x[1]).slice(0, 3);
  const concentrated = n > 0 && topSrc.reduce((a, [, c]) => a + c, 0) / n >= 0.5;
  const bigShare = total > 0 && (b.bytesIn + b.bytesOut) / total >= 0.05;
  if (!(ratio >= 5 && bigShare) && !(n >= 100 && any / n >= 0.5 && concentrated)) return null;
  const samples = queries.filter((q) => q.sampleRaw).sort((x, y) => y.count - x.count).slice(0, 3);
  return {
    kind: 'dns-amplification', subject: topIps(b, 3).join(', '),
    summary: `DNS answers out are ${ratio.toFixed(0)}× the queries in (${formatBytes(b.bytesOut)} out, ${formatBytes(b.bytesIn)} in)${n ? `; ${pct(any / n)} of ${n} logged queries ask for ANY/TXT/DNSSEC types` : ''}`,
    evidence: {
      facts: [
        `${formatBytes(b.bytesOut)} of DNS responses sent, ${formatBytes(b.bytesIn)} of queries received (${ratio.toFixed(1)}×)`,
        ...topSrc.map(([ip, c]) => `${ip}: ${c} queries`),
        ...[...byType.entries()].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([t, c]) => `qtype ${t}: ${c}`),
      ],
      lines: samples.map((q) => ({ ts: new Date(q.firstTs).toISOString(), where: q.samplePath ? `${q.samplePath}:${q.sampleLine}` : 'aggregate', text: `${q.sampleRaw} (×${q.count} that minute)` })),
    },
  };
}

function anonymousEvidence(b: Bucket, reason: string, ids: Identities, aggs: ReturnType<Store['aggregatesInRange']>): Evidence {
  const ips = topIps(b, 5);
  const facts: string[] = [];
  const lines: EvidenceLine[] = [];
  for (const ip of ips) {
    const fails = ids.authFailByIp.get(ip) ?? [];
    const drops = aggs.filter((a) => aggregateFact(a.source, a.kind) === 'firewall-drop' && a.rip === ip);
    const dropCount = drops.reduce((a, d) => a + d.count, 0);
    const ports = new Set(drops.map((d) => d.lport));
    facts.push(`${ip}: ${formatBytes(b.ips.get(ip) ?? 0)}${fails.length ? `, ${fails.length} failed logins` : ''}${dropCount ? `, ${dropCount} firewall drops on ${ports.size} port(s)` : ''}`);
    lines.push(...sampleLines(fails, 2));
    const d = drops.find((x) => x.sampleRaw);
    if (d) lines.push({ ts: new Date(d.firstTs).toISOString(), where: d.samplePath ? `${d.samplePath}:${d.sampleLine}` : 'aggregate', text: d.sampleRaw! });
  }
  void reason;
  return { facts, lines: lines.slice(0, 6) };
}

/** Scans and brute force, from firewall drops and failed logins, whether or not they moved bytes. */
function scanFindings(aggs: ReturnType<Store['aggregatesInRange']>, ids: Identities): Finding[] {
  const out: Finding[] = [];
  const bySrc = new Map<string, { count: number; ports: Set<number>; first: number; last: number; sample: (typeof aggs)[number] | null }>();
  for (const a of aggs) {
    if (aggregateFact(a.source, a.kind) !== 'firewall-drop' || !a.rip) continue;
    const s = bySrc.get(a.rip) ?? { count: 0, ports: new Set<number>(), first: a.firstTs, last: a.lastTs, sample: null };
    s.count += a.count; s.ports.add(a.lport); s.first = Math.min(s.first, a.firstTs); s.last = Math.max(s.last, a.lastTs);
    if (!s.sample && a.sampleRaw) s.sample = a;
    bySrc.set(a.rip, s);
  }
  const scanners = [...bySrc.entries()].filter(([, s]) => s.ports.size >= 5 || s.count >= 50).sort((x, y) => y[1].count - x[1].count);
  if (scanners.length) {
    out.push({
      kind: 'scan', subject: `${scanners.length} source IP(s)`,
      summary: `${scanners.reduce((a, [, s]) => a + s.count, 0)} packets dropped by the firewall from ${scanners.length} source(s) probing ${new Set(scanners.flatMap(([, s]) => [...s.ports])).size} port(s)`,
      evidence: {
        facts: scanners.slice(0, 5).map(([ip, s]) => `${ip}: ${s.count} drops on ${s.ports.size} port(s), ${new Date(s.first).toISOString()} to ${new Date(s.last).toISOString()}`),
        lines: scanners.slice(0, 3).filter(([, s]) => s.sample).map(([, s]) => ({ ts: new Date(s.sample!.firstTs).toISOString(), where: s.sample!.samplePath ? `${s.sample!.samplePath}:${s.sample!.sampleLine}` : 'aggregate', text: s.sample!.sampleRaw! })),
      },
    });
  }
  const brute = [...ids.authFailByIp.entries()].filter(([ip, l]) => l.length >= 5 && !ids.successIps.has(ip)).sort((x, y) => y[1].length - x[1].length);
  if (brute.length) {
    const accounts = new Set(brute.flatMap(([, l]) => l.map((e) => e.account).filter(Boolean)));
    out.push({
      kind: 'bruteforce', subject: `${brute.length} source IP(s)`,
      summary: `${brute.reduce((a, [, l]) => a + l.length, 0)} failed logins from ${brute.length} IP(s) that never logged in, against ${accounts.size} account name(s)`,
      evidence: {
        facts: brute.slice(0, 5).map(([ip, l]) => `${ip}: ${l.length} failures (${[...new Set(l.map((e) => e.source))].join(', ')}), accounts tried: ${[...new Set(l.map((e) => e.account ?? '?'))].slice(0, 4).join(', ')}`),
        lines: brute.slice(0, 2).flatMap(([, l]) => sampleLines(l, 2)),
      },
    });
  }
  return out;
}

function findingSummary(s: Suspect): string {
  const total = formatBytes(s.bytesIn + s.bytesOut);
  switch (s.finding) {
    case 'imap-resync': return `${s.account} downloads the mailbox again and again over ${SERVICE_LABEL[s.service]}: ${total} in ${s.sessions} sessions (a mail client such as Outlook re-synchronising in a loop)`;
    case 'spam-relay': return `${s.account} submits mail in bulk from several networks: likely a compromised SASL account relaying spam`;
    case 'vpn-heavy': return `${s.account} dominates the VPN: ${total} through the tunnel`;
    default: return `${s.account}: ${total}`;
  }
}

function buildTimeline(from: number, to: number, minutes: Map<number, { bytesIn: number; bytesOut: number }>, buckets: Map<string, Bucket>): Investigation['timeline'] {
  const span = to - from;
  const bucketMs = Math.max(MINUTE, Math.ceil(span / 24 / MINUTE) * MINUTE);
  const n = Math.max(1, Math.ceil(span / bucketMs));
  const out = Array.from({ length: n }, (_, i) => ({ t: new Date(from + i * bucketMs).toISOString(), bytesIn: 0, bytesOut: 0, top: null as string | null, topBytes: 0 }));
  for (const [m, v] of minutes) {
    const i = Math.min(n - 1, Math.max(0, Math.floor((m - from) / bucketMs)));
    out[i].bytesIn += v.bytesIn; out[i].bytesOut += v.bytesOut;
  }
  const perBucket = out.map(() => new Map<string, number>());
  for (const b of buckets.values()) {
    const label = b.account ?? b.reason ?? 'unknown';
    for (const [m, v] of b.minutes) {
      const i = Math.min(n - 1, Math.max(0, Math.floor((m - from) / bucketMs)));
      perBucket[i].set(label, (perBucket[i].get(label) ?? 0) + v);
    }
  }
  perBucket.forEach((mp, i) => {
    for (const [k, v] of mp) if (v > out[i].topBytes) { out[i].topBytes = v; out[i].top = k; }
  });
  return { bucketSeconds: bucketMs / 1000, buckets: out.map(({ t, bytesIn, bytesOut, top }) => ({ t, bytesIn: Math.round(bytesIn), bytesOut: Math.round(bytesOut), top })) };
}

/** The same hours on up to 7 earlier days: how many times normal is this window? */
function computeBaseline(store: Store, source: string, from: number, to: number, total: number): Investigation['baseline'] {
  const days: number[] = [];
  for (let d = 1; d <= 7; d++) {
    const r = store.flowBytesBetween(source, from - d * 24 * HOUR, to - d * 24 * HOUR);
    if (r.n > 0) days.push(r.bytes);
  }
  if (!days.length) return null;
  days.sort((a, b) => a - b);
  const typical = days[Math.floor(days.length / 2)];
  return { days: days.length, typicalBytes: typical, ratio: typical > 0 ? total / typical : 0 };
}

/** The largest sum over `n` consecutive minutes. */
function peakWindow(minutes: Map<number, number>, n: number): number {
  const ms = [...minutes.entries()].sort((a, b) => a[0] - b[0]);
  let best = 0;
  for (let i = 0; i < ms.length; i++) {
    let sum = 0;
    for (let j = i; j < ms.length && ms[j][0] < ms[i][0] + n * MINUTE; j++) sum += ms[j][1];
    best = Math.max(best, sum);
  }
  return best;
}

const PORTS: Record<ServiceGroup, number[]> = { imap: [143, 993], pop3: [110, 995], smtp: [25], submission: [587, 465], vpn: [1194], dns: [53], other: [] };

/** A throttle, not a block: a quarter of the suspect's average rate, within sane bounds. */
function proposeThrottle(s: Suspect, from: number, to: number, peak5min: number, submitters?: string[]): ThrottleProposal | null {
  if (!s.ips.length) return null;
  const dir = s.direction;
  const bytes = dir === 'out' ? s.bytesOut : s.bytesIn;
  // A quarter of the suspect's busiest five minutes (its average understates a bursty client).
  const avgBits = (bytes * 8) / Math.max(1, (to - from) / 1000);
  const peakBits = Math.max(avgBits, (peak5min * 8) / 300);
  const target = Math.min(20e6, Math.max(1e6, peakBits / 4));
  const rate = target >= 1e6 ? `${Math.max(1, Math.round(target / 1e6))}mbit` : `${Math.round(target / 1e3)}kbit`;
  let ports = s.account ? PORTS[s.service] : [];
  let ips = s.ips;
  let direction: 'in' | 'out' = dir;
  if (s.finding === 'spam-relay' && submitters && submitters.length) {
    // Slow the submissions from the account's client IPs, not the relays it sends to.
    ports = PORTS.submission; ips = submitters; direction = 'in';
  }
  const who = s.account ?? s.ips[0];
  const q = (x: string) => (/^[A-Za-z0-9@._:+-]+$/.test(x) ? x : `'${x.replace(/'/g, `'\\''`)}'`);
  const cmd = ['bytetrail', 'throttle', q(who), '--rate', rate, '--direction', direction, ...(ports.length ? ['--ports', ports.join(',')] : [])].join(' ');
  const advice: Partial<Record<FindingKind, string>> = {
    'spam-relay': 'the account looks compromised: change its password and disable SASL for it first (a throttle only slows the spam down); the throttle below holds its submissions meanwhile',
    'dns-amplification': 'the answers go to spoofed victims: restrict recursion to your own clients (allow-recursion) and enable response rate limiting (rate-limit { responses-per-second 5; };); the throttle below caps the flood meanwhile',
    bruteforce: 'failed logins from addresses that never logged in: blocking them (fail2ban) is the usual answer; the throttle below only slows them',
    scan: 'probes that the firewall already drops: nothing to throttle unless they persist',
  };
  return {
    target: who, ips, direction, rate, ports,
    reason: `${s.finding === 'normal-use' ? 'heaviest client' : s.finding}: ${formatBytes(bytes)} ${dir === 'out' ? 'sent to' : 'received from'} ${who}. ${advice[s.finding] ?? 'A quarter of its peak rate keeps the service usable for it without letting the traffic run.'}`,
    command: cmd,
  };
}

export type { Investigation };
