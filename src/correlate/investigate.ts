/**
 * The investigation: load a window's events and flows, build identities, attribute every
 * flow byte to exactly one bucket, classify what the numbers show, and return one result
 * object that every renderer draws from.
 */
import { formatBytes } from '../output.js';
import { chooseFlowSource, WIRE_SOURCES } from '../flows/query.js';
import { spreadOver } from '../flows/snapshots.js';
import type { FlowSource } from '../flows/query.js';
import { groupPorts } from '../flows/services.js';
import type { AggRow, FlowRow, OpenConnInput, StoredEvent } from '../store/index.js';
import type { ReadStore } from '../store/read.js';
import { type AttributionContext, attributeFlow, groupOf, type Verdict } from './attribute.js';
import { COUNTER_FLOW_SOURCES } from '../sources/counters.js';
import { aggregateFact, GROUP_OF_REALM } from '../sources/index.js';
import { buildIdentities, isMailSessionEvent, overlapping, webAccountAt, WEB_SESSION_MS, type Identities, type Lease, type MailSession, type VpnSession } from './identities.js';
import { dnsEstimates, dropEstimates, inboundEstimates, relayEstimates, submissionEstimates, webmailEstimates, type Estimate } from './estimates.js';
import { matchLifetimes, type ConnLifetime } from './lifetimes.js';
import { SERVICE_LABEL } from './types.js';
import { throttleCommandLine } from '../throttle/command.js';
import type {
  ClosureEntry, Confidence, Evidence, EvidenceLine, Finding, FindingKind, FlowSourceName, Investigation, ServiceGroup, Suspect, ThrottleProposal, UnattributedBucket,
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
/** The groups whose traffic their realm's sessions claim (src/sources/ GroupDecl.realm): a VPN's, a webmail's. */
const TUNNEL = GROUP_OF_REALM.tunnel, WEB = GROUP_OF_REALM.web;
/** OpenVPN's share of a full-size tunnel packet (outer UDP/IP and its own header), for the forwarded-copy estimate. */
const OPENVPN_OVERHEAD = 0.04;

interface Bucket {
  account: string | null; group: ServiceGroup; reason: string | null;
  bytesIn: number; bytesOut: number; dupBytes: number;
  ips: Map<string, number>; remotes: Map<string, { ip: string; port: number | null; bytes: number }>;
  confidences: Set<Confidence>; split: boolean; minutes: Map<number, number>;
  /** Bytes per service group, to name the group of a bucket that spans several (a scan). */
  groups: Map<ServiceGroup, number>;
  /** Wire bytes per interface ('' = the one the flow source does not name), copies included: for the closure. */
  wire: Map<string, { bytesIn: number; bytesOut: number }>;
  /** Of bytesIn/bytesOut: what the logs' own counters gave, and what was estimated (with how). */
  log: { bytesIn: number; bytesOut: number };
  est: { bytesIn: number; bytesOut: number };
  methods: Set<string>;
  /** A VPN client's traffic forwarded to and from the internet, estimated from its tunnel: on the interface, not in its bytes. */
  forwarded: { bytesIn: number; bytesOut: number };
  /** Connections paired with their session by lifetime on a shared address, and those left to split. */
  lifetimeMatched: number; lifetimeAmbiguous: number;
}

function iso(t: number | null): string | null {
  return t === null ? null : new Date(t).toISOString();
}

/**
 * The message part of a syslog line: the time and host are in `ts` and `where` already, and
 * shown again they push the fields that matter (user=, rip=, out=) off a terminal line.
 */
export function messagePart(raw: string): string {
  const m = /^(?:\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)?|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d) \S+ (?=\S+: )/.exec(raw);
  return m ? raw.slice(m[0].length) : raw;
}

/**
 * Evidence lines made before their row's text was read: a line stored by reference (migration
 * 12) comes from the store without its text, and only the few lines an investigation quotes are
 * read back from their files, all at once at its end (quoteEvidence). Each maps to its row and
 * to how the line is made again once the row has its text.
 */
const unread = new WeakMap<EvidenceLine, { event?: StoredEvent; agg?: AggRow; make: () => EvidenceLine }>();

function evLine(e: StoredEvent): EvidenceLine {
  const line = evLineOf(e);
  if (e.raw === null && !e.rawUnreadable) unread.set(line, { event: e, make: () => evLineOf(e) });
  return line;
}

function evLineOf(e: StoredEvent): EvidenceLine {
  const where = e.path ? `${e.path}:${e.line}` : `event ${e.id}`;
  // A line stored by reference that cannot be read back is named, never replaced by another.
  if (e.rawUnreadable) return { ts: new Date(e.ts).toISOString(), where, text: null, unreadable: e.rawUnreadable };
  return { ts: new Date(e.ts).toISOString(), where, text: messagePart(e.raw ?? '').slice(0, 400) };
}

/** An aggregate's sample line as evidence, its text made by `text` (or why it cannot be read). */
function aggLine(a: AggRow, text: (raw: string) => string): EvidenceLine {
  const make = (): EvidenceLine => {
    const ts = new Date(a.firstTs).toISOString();
    const where = a.samplePath ? `${a.samplePath}:${a.sampleLine}` : 'aggregate';
    if (a.sampleUnreadable) return { ts, where, text: null, unreadable: a.sampleUnreadable };
    // Only a sample the store could not hand over at all (a central copy shipped without it).
    if (a.sampleRaw === null) return { ts, where, text: null, unreadable: 'the sample line was not stored' };
    return { ts, where, text: text(a.sampleRaw) };
  };
  const line = make();
  if (a.sampleRaw === null && !a.sampleUnreadable) unread.set(line, { agg: a, make });
  return line;
}

/** Whether an aggregate has a sample line (its text read back, to be read, or unreadable). */
function hasSample(a: AggRow): boolean { return Boolean(a.sampleRaw) || Boolean(a.sampleUnreadable) || (a.sampleRaw === null && a.sampleLine !== null); }

/**
 * Read back the text of the evidence lines an investigation quotes (see `unread`), in one call
 * to the store, and make those lines again with it. The lines are found by walking the result.
 */
async function quoteEvidence(store: ReadStore, result: Investigation): Promise<void> {
  const found: Array<[EvidenceLine, { event?: StoredEvent; agg?: AggRow; make: () => EvidenceLine }]> = [];
  const seen = new Set<object>();
  const walk = (v: unknown): void => {
    if (v === null || typeof v !== 'object' || seen.has(v)) return;
    seen.add(v);
    const u = unread.get(v as EvidenceLine);
    if (u) { found.push([v as EvidenceLine, u]); return; }
    for (const x of Array.isArray(v) ? v : Object.values(v)) walk(x);
  };
  walk(result);
  if (!found.length) return;
  await store.quote(found.flatMap(([, u]) => (u.event ? [u.event] : [])), found.flatMap(([, u]) => (u.agg ? [u.agg] : [])));
  for (const [line, u] of found) {
    unread.delete(line);
    const now = u.make();
    // The same object (it is referenced from the result), its keys in the order a new one has.
    for (const k of Object.keys(line)) delete (line as unknown as Record<string, unknown>)[k];
    Object.assign(line, now);
  }
}

/** A few lines from the start and the end of a list, as evidence. */
function sampleLines(events: StoredEvent[], n = 4): EvidenceLine[] {
  if (events.length <= n) return events.map(evLine);
  const head = Math.ceil(n / 2);
  return [...events.slice(0, head), ...events.slice(events.length - (n - head))].map(evLine);
}

/** The flow source to read (never two added together) and its name in the result. */
async function chooseSource(store: ReadStore, from: number, to: number, forced?: string): Promise<{ name: FlowSourceName; table: string | null }> {
  const { source, reason } = chooseFlowSource(await store.flowSources(from, to), forced as FlowSource | undefined);
  if (reason === 'chosen') return { name: forced as FlowSourceName, table: forced! };
  // OpenVPN status deltas alone are the VPN's own counters, not the wire.
  if (source === null || (COUNTER_FLOW_SOURCES as readonly string[]).includes(source)) return { name: 'log-counters', table: source };
  return { name: source as FlowSourceName, table: source };
}

async function* noFlows(): AsyncGenerator<FlowRow> { /* nothing */ }

function newBucket(account: string | null, group: ServiceGroup, reason: string | null): Bucket {
  return {
    account, group, reason, bytesIn: 0, bytesOut: 0, dupBytes: 0, ips: new Map(), remotes: new Map(), confidences: new Set(), split: false, minutes: new Map(), groups: new Map(),
    wire: new Map(), log: { bytesIn: 0, bytesOut: 0 }, est: { bytesIn: 0, bytesOut: 0 }, methods: new Set(), forwarded: { bytesIn: 0, bytesOut: 0 }, lifetimeMatched: 0, lifetimeAmbiguous: 0,
  };
}

/** Loopback sessions (a webmail's own IMAP connections) never cross an interface. */
export function isLoopback(ip: string): boolean {
  return ip.startsWith('127.') || ip === '::1';
}

function addWire(b: Bucket, iface: string, bytesIn: number, bytesOut: number): void {
  const w = b.wire.get(iface) ?? { bytesIn: 0, bytesOut: 0 };
  w.bytesIn += bytesIn; w.bytesOut += bytesOut;
  b.wire.set(iface, w);
}

function addTo(b: Bucket, f: { bytesIn: number; bytesOut: number; rip: string; rport: number | null; minute: number }, group: ServiceGroup, frac: number, dup: boolean): void {
  const bi = f.bytesIn * frac, bo = f.bytesOut * frac;
  if (dup) { b.dupBytes += bi + bo; return; }
  b.bytesIn += bi; b.bytesOut += bo;
  b.ips.set(f.rip, (b.ips.get(f.rip) ?? 0) + bi + bo);
  b.groups.set(group, (b.groups.get(group) ?? 0) + bi + bo);
  b.minutes.set(f.minute, (b.minutes.get(f.minute) ?? 0) + bi + bo);
  // Remotes are only listed for traffic no account explains, by address: a client's ephemeral
  // ports would fill the list with one scanner.
  if (b.account !== null) return;
  const r = b.remotes.get(f.rip);
  if (r) r.bytes += bi + bo; else b.remotes.set(f.rip, { ip: f.rip, port: null, bytes: bi + bo });
}

export async function investigate(store: ReadStore, opts: InvestigateOptions): Promise<Investigation> {
  const { from, to } = opts;
  const lookback = opts.lookbackMs ?? 24 * HOUR;
  const vpnLookback = opts.vpnLookbackMs ?? 7 * 24 * HOUR;
  const vpnPorts = new Set(opts.vpnPorts ?? [1194]);
  const notes: string[] = [];

  // Identities: logins and connects from well before the window (sessions outlive it),
  // everything else from the window itself (plus a little slack for late logouts).
  const before = [...await store.longSessionEvents(from - vpnLookback, from - lookback), ...await store.identityEvents(from - lookback, from)];
  const during = await store.eventsInRange(from, to + 5 * MINUTE);
  const events = [...before, ...during];
  const extent = await store.dataExtent();
  const dataEnd = Math.min(to, extent.last ?? to);
  const leaseRows = await store.leasesInRange(from - vpnLookback, to);
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
  const aggs = await store.aggregatesInRange(from - (from % MINUTE), to);

  const drops = new Map<string, { count: number; ports: Set<number> }>();
  for (const a of aggs) {
    if (!firewallHit(a) || !a.rip) continue;
    const d = drops.get(a.rip) ?? { count: 0, ports: new Set<number>() };
    d.count += a.count;
    d.ports.add(a.lport);
    drops.set(a.rip, d);
  }

  const { name: flowSource, table } = await chooseSource(store, from, to, opts.source);
  const wire = (WIRE_SOURCES as readonly string[]).includes(flowSource);
  const rows = () => (table ? store.iterateFlows(table, from, to) : noFlows());
  let flowCount = 0;

  // VPN: which accounts have tunnel traffic, and the inner (virtual-address) flows by their far end.
  const tunnelAccounts = new Set<string>();
  const innerKeys = new Map<string, string>();
  // A long-lived mail connection whose login is older than the look-back: ask the store for the
  // last login from that IP that never logged out (30 days back), once per IP.
  const lastLogin = new Map<string, { account: string; service: string } | null>();
  const loadLogin = async (ip: string) => {
    if (!lastLogin.has(ip)) {
      const e = await store.openLoginBefore(ip, from - lookback, from - 30 * 24 * HOUR);
      lastLogin.set(ip, e && e.account ? { account: e.account, service: String(e.attrs?.service ?? 'imap') } : null);
    }
  };
  // Attribution is synchronous and the store is not: an IP not looked up yet is noted, looked
  // up, and the flow attributed again (verdictOf).
  let unknownIp: string | null = null;
  const openLoginOn = (ip: string) => {
    if (!lastLogin.has(ip)) { unknownIp = ip; return null; }
    return lastLogin.get(ip)!;
  };
  const ctx: AttributionContext = { ids, vpnPorts, drops, tunnelAccounts, innerKeys, openLoginOn };
  const verdictOf = (f: FlowRow): Verdict | Promise<Verdict> => {
    unknownIp = null;
    const v = attributeFlow(f, ctx);
    return unknownIp === null ? v : loadLogin(unknownIp).then(() => attributeFlow(f, ctx));
  };
  const vpnRows = table ? await store.vpnFlowsInRange(table, from, to, [...vpnPorts], [...ids.leasesByVip.keys()]) : [];
  for (const f of vpnRows) {
    if (groupOf(f, vpnPorts) === TUNNEL) {
      const v = await verdictOf(f);
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
  const countMinute = (minute: number, bytesIn: number, bytesOut: number) => {
    totalIn += bytesIn; totalOut += bytesOut;
    const mt = minuteTotals.get(minute) ?? { bytesIn: 0, bytesOut: 0 };
    mt.bytesIn += bytesIn; mt.bytesOut += bytesOut;
    minuteTotals.set(minute, mt);
  };
  let vpnDup = 0;
  // Minutes in which a wire source saw a remote address, per service group and in all: log
  // counters and estimates only fill what these do not cover (flows win).
  const wireSeen = new Map<string, Set<number>>();
  const markSeen = (rip: string, group: ServiceGroup, minute: number) => {
    for (const k of [`${rip}|${group}`, `${rip}|*`]) {
      const set = wireSeen.get(k);
      if (set) set.add(minute); else wireSeen.set(k, new Set([minute]));
    }
  };
  const seenBetween = (rip: string, group: ServiceGroup | '*', a: number, b: number) => {
    const set = wireSeen.get(`${rip}|${group}`);
    if (!set) return false;
    for (let m = a - (a % MINUTE) - MINUTE; m <= b + MINUTE; m += MINUTE) if (set.has(m)) return true;
    return false;
  };
  // A session is covered when flows from its address fill most of its minutes: a neighbour's
  // connection in its first or last minute does not make it so.
  const sessionCovered = (rip: string, group: ServiceGroup, a: number, b: number) => {
    const set = wireSeen.get(`${rip}|${group}`);
    if (!set) return false;
    let n = 0, seen = 0;
    for (let m = a - (a % MINUTE); m <= b; m += MINUTE) { n++; if (set.has(m)) seen++; }
    return seen * 2 >= n;
  };

  // Flow rows of a source that is not the wire (OpenVPN status deltas) are the VPN's own counters.
  const attribute = (f: FlowRow, v: Verdict) => {
    if (v.kind === 'account') {
      const sum = v.shares.reduce((a, s) => a + s.weight, 0) || 1;
      for (const s of v.shares) {
        const b = bucketFor(`a|${s.account}|${v.group}`, s.account, v.group, null);
        b.confidences.add(wire ? v.confidence : 'log-counters');
        if (v.shares.length > 1) b.split = true;
        const frac = v.shares.length > 1 ? s.weight / sum : 1;
        if (!wire && !v.duplicate) { b.log.bytesIn += f.bytesIn * frac; b.log.bytesOut += f.bytesOut * frac; }
        else addWire(b, f.iface, f.bytesIn * frac, f.bytesOut * frac);
        addTo(b, f, v.group, frac, v.duplicate);
      }
      if (v.duplicate) vpnDup += f.bytesIn + f.bytesOut;
    } else {
      const b = bucketFor(`u|${v.reason}`, null, v.group, v.reason);
      addWire(b, f.iface, f.bytesIn, f.bytesOut);
      addTo(b, f, v.group, 1, false);
    }
  };

  // Mail flows on an address that several accounts use are held back, to pair each connection
  // with the session it carried by lifetime (lifetimes.ts) once all of them are seen.
  const sharedIps = new Set<string>();
  for (const [ip, list] of ids.mailByIp) if (new Set(list.map((x) => x.account)).size > 1) sharedIps.add(ip);
  const held: FlowRow[] = [];

  // One conntrack listing without start times: each open connection joined to the session it
  // carried (counted below). An OpenVPN status file's counters for a tunnel the listing has are
  // the same bytes again (and only the payload): the listing's win.
  const open = await store.openConnections(from, to + 24 * HOUR);
  const firstListing = open.length ? open[0].listingTs : null;
  const openJoins = firstListing === null ? [] : joinOpenConnections(open.filter((x) => x.listingTs === firstListing), ids, vpnPorts);
  const listedTunnels = new Set(openJoins.filter((j) => j.session && j.group === TUNNEL).map((j) => `${j.conn.rip}|${j.conn.rport}`));

  for await (const f of rows()) {
    if (!wire && listedTunnels.has(`${f.rip}|${f.rport}`)) continue;
    flowCount++;
    packetsIn += f.packetsIn; packetsOut += f.packetsOut;
    countMinute(f.minute, f.bytesIn, f.bytesOut);
    const group = groupOf(f, vpnPorts);
    if (wire) markSeen(f.rip, group, f.minute);
    if ((group === 'imap' || group === 'pop3') && sharedIps.has(f.rip) && !leaseOn(ids, f)) { held.push(f); continue; }
    // Awaited only when a lookup was made: an await per flow costs a turn of the microtask queue.
    const v = verdictOf(f);
    attribute(f, v instanceof Promise ? await v : v);
  }
  if (held.length) await attributeByLifetime(held, ids, verdictOf, { from, to: Math.max(from + MINUTE, Math.min(to, (extent.last ?? to) + MINUTE)) }, attribute, buckets, vpnPorts);

  // The listing's open connections, each dated by the session it carried: what falls in the window counts.
  const unmatchedOpen: typeof open = [];
  const coveredSessions = new Set<MailSession | VpnSession>();
  let openUsed = 0;
  for (const c of openJoins) {
    if (!c.session) { unmatchedOpen.push(c.conn); continue; }
    coveredSessions.add(c.session);
    const start = Math.min(c.session.start, c.conn.listingTs);
    const group = c.group;
    const b = bucketFor(`a|${c.session.account}|${group}`, c.session.account, group, null);
    b.confidences.add(c.shared ? 'shared-ip' : 'exact');
    if (c.shared) b.split = true;
    for (const { minute, values } of spreadOver(start, c.conn.listingTs, [c.conn.bytesIn, c.conn.bytesOut, c.conn.packetsIn, c.conn.packetsOut])) {
      if (minute < from || minute >= to) continue;
      const f = { bytesIn: values[0], bytesOut: values[1], rip: c.conn.rip, rport: c.conn.rport, minute };
      openUsed += values[0] + values[1];
      packetsIn += values[2]; packetsOut += values[3];
      countMinute(minute, values[0], values[1]);
      markSeen(c.conn.rip, group, minute);
      addWire(b, '', values[0], values[1]);
      addTo(b, f, group, 1, false);
    }
  }
  if (unmatchedOpen.length) {
    const top = unmatchedOpen.sort((x, y) => (y.bytesIn + y.bytesOut) - (x.bytesIn + x.bytesOut)).slice(0, 3);
    notes.push(`${unmatchedOpen.length} open connection(s) in the conntrack listing of ${new Date(firstListing!).toISOString().slice(0, 16).replace('T', ' ')} match no session in the logs, so when their bytes moved is unknown and they are not counted: ` +
      top.map((x) => `${hostPort(x.rip, x.rport)} → port ${x.lport}: ${formatBytes(x.bytesIn + x.bytesOut)} so far`).join('; ') + '.');
  }

  // The logs' own counters (Dovecot in=/out= at logout) fill the sessions no flow covers: all of
  // them without wire flows, the closed sessions a conntrack listing no longer shows with one.
  let logBytes = 0;
  const openUnknown = new Map<string, { sessions: number; since: number }>();
  for (const s of ids.mail) {
    if (isLoopback(s.rip) || coveredSessions.has(s)) continue;
    if (s.end < from || s.start >= to) continue;
    if (wire && sessionCovered(s.rip, s.service, Math.max(s.start, from), Math.min(s.end, to))) continue;
    if (s.bytesOut === null && s.bytesIn === null) {
      if (!s.open) continue;
      const o = openUnknown.get(s.account) ?? { sessions: 0, since: s.start };
      o.sessions++; o.since = Math.min(o.since, s.start);
      openUnknown.set(s.account, o);
      continue;
    }
    const span = Math.max(1, s.end - s.start);
    const overlap = Math.max(0, Math.min(s.end, to) - Math.max(s.start, from));
    if (overlap <= 0 && !(s.end >= from && s.end < to)) continue;
    const frac = s.end === s.start ? 1 : overlap / span;
    const b = bucketFor(`a|${s.account}|${s.service}`, s.account, s.service, null);
    b.confidences.add('log-counters');
    const f = { bytesIn: s.bytesIn ?? 0, bytesOut: s.bytesOut ?? 0, rip: s.rip, rport: s.rport, minute: s.end - (s.end % MINUTE) };
    addTo(b, f, s.service, frac, false);
    b.log.bytesIn += f.bytesIn * frac; b.log.bytesOut += f.bytesOut * frac;
    logBytes += (f.bytesIn + f.bytesOut) * frac;
    countMinute(Math.min(f.minute, to - MINUTE), f.bytesIn * frac, f.bytesOut * frac);
  }

  // A VPN client that browses through the tunnel makes each byte cross the interface twice: in
  // the tunnel, and forwarded (after NAT) to or from the internet. A capture sees both copies; a
  // listing of closed connections or the status file sees only the tunnel, so the forwarded copy
  // is estimated from it for the closure (not added to the account's bytes): the tunnel's bytes
  // less OpenVPN's per-packet overhead (UDP/IP 28 + OpenVPN ~24 bytes on ~1,400: about 4%).
  if (flowSource !== 'pcap' && flowSource !== 'capture') {
    for (const b of buckets.values()) {
      if (!b.account || b.group !== TUNNEL || b.dupBytes > 0) continue;
      b.forwarded = { bytesIn: b.bytesOut * (1 - OPENVPN_OVERHEAD), bytesOut: b.bytesIn * (1 - OPENVPN_OVERHEAD) };
    }
  }

  // Estimates from log evidence, for what no flow source covers.
  const estimates: Estimate[] = [
    ...relayEstimates(ids.deliveries), ...submissionEstimates(ids.submissions.values()), ...inboundEstimates(during), ...dnsEstimates(aggs), ...dropEstimates(aggs), ...webmailEstimates(during, ids),
  ];
  let estBytes = 0;
  for (const e of estimates) {
    if (e.ts < from || e.ts >= to) continue;
    // Webmail flows are HTTPS flows (group `other` on the wire) from the client's address.
    if (wire && seenBetween(e.rip, e.group === 'other' ? '*' : e.group === WEB ? 'other' : e.group, e.ts - 3 * MINUTE, e.ts + 3 * MINUTE)) continue;
    const d = drops.get(e.rip);
    const reason = e.reason === 'firewall-drop' && d && (d.count >= 5 || d.ports.size >= 3) ? 'scan' : e.reason;
    const b = e.account ? bucketFor(`a|${e.account}|${e.group}`, e.account, e.group, null) : bucketFor(`u|${reason}`, null, e.group, reason);
    b.confidences.add('estimated');
    b.methods.add(e.method);
    b.est.bytesIn += e.bytesIn; b.est.bytesOut += e.bytesOut;
    estBytes += e.bytesIn + e.bytesOut;
    const minute = e.ts - (e.ts % MINUTE);
    addTo(b, { bytesIn: e.bytesIn, bytesOut: e.bytesOut, rip: e.rip, rport: null, minute }, e.group, 1, false);
    countMinute(minute, e.bytesIn, e.bytesOut);
  }

  if (!wire && !openUsed) {
    notes.push(flowCount || logBytes || estBytes
      ? 'No capture or conntrack data covers this window: byte counts come from the logs\' own counters (Dovecot in=/out= at logout, OpenVPN status) and from estimates made from the logs.'
      : (await store.counts()).events + (await store.counts()).flows === 0 ? 'The database is empty: nothing has been ingested yet (bytetrail ingest /var/log/mail.log …).' : 'No flow data and no byte counters in this window.');
  } else if (openUsed && !wire) {
    notes.push(`One conntrack listing without start times: each open connection is dated from its session's login and spread evenly up to the listing (${formatBytes(openUsed)} in the window); closed sessions count by their logs' counters.`);
  }
  if (vpnDup > 0) {
    notes.push(`VPN traffic is counted twice on the wire: ${formatBytes(vpnDup)} seen again as forwarded or tunnel-interface traffic (eth0 counts it once as rx from the internet and once as tx to the client over the VPN port). Each account's figure counts those bytes once.`);
  }

  const ifaceRows = await interfaceRows(store, from, to);
  const mainIface = ifaceRows.length ? [...ifaceRows].sort((a, b) => (b.rx + b.tx) - (a.rx + a.tx))[0] : null;
  const evidenceTotal = totalIn + totalOut;
  const shareBasis = mainIface
    ? { label: `${mainIface.iface}'s traffic in + out, per vnstat`, bytes: mainIface.rx + mainIface.tx }
    : { label: 'the traffic the evidence accounts for (in + out)', bytes: Math.round(evidenceTotal) };
  const total = shareBasis.bytes;
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
    suspects.push(makeSuspect(b, confidenceOf(b), ids, index, from, to, total, openUnknown.get(b.account)));
  }

  // Traffic no account explains but that has a clear cause becomes a suspect without an account.
  const promoted = new Set<string>();
  const dnsBucket = [...buckets.values()].find((b) => b.account === null && b.reason === 'dns');
  const dnsFinding = dnsBucket ? classifyDns(dnsBucket, aggs, total) : null;
  if (dnsBucket && dnsFinding) {
    suspects.push(anonymousSuspect(dnsBucket, 'dns', 'dns-amplification', dnsFinding.evidence, total));
    findings.push(dnsFinding);
    promoted.add('dns');
  }
  for (const reason of ['scan', 'bruteforce'] as const) {
    const bs = [...buckets.values()].filter((b) => b.account === null && b.reason === reason);
    for (const b of bs) {
      const ev = anonymousEvidence(b, reason, ids, aggs);
      if (b.bytesIn + b.bytesOut > 0) { suspects.push(anonymousSuspect(b, reason === 'scan' ? 'other' : dominantGroup(b), reason, ev, total)); promoted.add(reason); }
    }
  }
  suspects.sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut));
  // Findings in the order of the suspects they explain; scans and brute force come last.
  const dnsFindings = findings.splice(0);
  for (const s of suspects) {
    if (s.account && s.finding !== 'normal-use') {
      findings.push({ kind: s.finding, subject: s.account, summary: findingSummary(s, shareBasis), evidence: s.evidence });
    } else if (!s.account && s.finding === 'dns-amplification') findings.push(...dnsFindings);
  }
  const unknown = unattributed.filter((u) => u.reason === 'unknown' || u.reason === 'outbound-unknown').reduce((a, u) => a + u.bytes, 0);
  if (total > 0 && unknown / total >= 0.05) {
    const tops = groupRemotes(unattributed.filter((u) => u.reason === 'unknown' || u.reason === 'outbound-unknown').flatMap((u) => u.topRemotes)).slice(0, 5);
    findings.push({
      kind: 'unexplained', subject: 'unattributed traffic',
      summary: `${formatBytes(unknown)} (${pct(unknown / total)} of ${shareBasis.label}) matches no login, VPN session or mail delivery`,
      evidence: { facts: tops.map((r) => `${r.ip}: ${formatBytes(r.bytes)}`), lines: [] },
    });
  }
  // Scans and brute force that never reached the capture (dropped early) are findings too.
  findings.push(...scanFindings(aggs, ids));
  // A cause that became a suspect is listed there, not again as unattributed traffic.
  const promotedBytes = unattributed.filter((u) => promoted.has(u.reason)).reduce((a, u) => a + u.bytes, 0);
  attributedBytes += promotedBytes;
  const shownUnattributed = unattributed.filter((u) => !promoted.has(u.reason)).sort((a, b) => b.bytes - a.bytes);
  const unattributedBytes = shownUnattributed.reduce((a, u) => a + u.bytes, 0);

  // Accounts whose only sessions in the window are still open without a byte figure are no
  // suspect (nothing is known of their bytes), but must not go unmentioned.
  const silent = [...openUnknown.entries()].filter(([a]) => !suspects.some((x) => x.account === a));
  if (silent.length) {
    notes.push(`${silent.reduce((a, [, o]) => a + o.sessions, 0)} mail session(s) still open with no byte figure yet (Dovecot logs out= only at logout, and no flow or conntrack listing covers them): ` +
      silent.slice(0, 5).map(([a, o]) => `${a} (${o.sessions}, since ${new Date(o.since).toISOString().slice(11, 16)})`).join(', ') + '. The interface\'s unexplained bytes may be theirs; a conntrack listing now (`conntrack -L -o extended`) would tell.');
  }
  const closure = mainIface ? computeClosure(ifaceRows, mainIface.iface, buckets, promoted) : null;
  const timeline = buildTimeline(from, to, minuteTotals, buckets);
  const baseline = wire ? await computeBaseline(store, flowSource, from, to, evidenceTotal) : null;
  const top = suspects[0] ?? null;
  const topBucket = top ? [...buckets.values()].find((b) => b.account === top.account && (top.account !== null ? b.group === top.service : b.reason === top.finding || (b.reason === 'dns' && top.finding === 'dns-amplification'))) : undefined;
  const submitters = top?.account ? suspects.find((x) => x.account === top.account && x.service === 'submission')?.ips : undefined;
  const throttle = top ? proposeThrottle(top, from, to, topBucket ? peakWindow(topBucket.minutes, 5) : 0, submitters) : null;
  const source: FlowSourceName = flowCount ? flowSource : openUsed ? 'conntrack' : !wire && (logBytes || estBytes) ? 'log-counters' : 'none';

  const result: Investigation = {
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() },
    flowSource: source,
    totals: { bytesIn: Math.round(totalIn), bytesOut: Math.round(totalOut), attributedBytes: Math.round(attributedBytes), unattributedBytes: Math.round(unattributedBytes), packetsIn, packetsOut },
    verdict: verdictLine(top, shareBasis, to - from),
    suspects: suspects.map(roundSuspect),
    findings,
    unattributed: shownUnattributed.map((u) => ({ ...u, bytes: Math.round(u.bytes), bytesIn: Math.round(u.bytesIn), bytesOut: Math.round(u.bytesOut) })),
    timeline,
    baseline,
    interfaceTotals: ifaceRows.length ? ifaceRows.map(({ iface, rx, tx }) => ({ iface, rx, tx })) : null,
    shareBasis,
    closure,
    missingEvidence: missingEvidence(top, closure, source, openUsed > 0),
    notes,
    throttle,
  };
  await quoteEvidence(store, result);
  return result;
}

/** A flow to or from a VPN client's virtual address is VPN traffic, whatever its port. */
function leaseOn(ids: Identities, f: FlowRow): boolean {
  return ids.leasesByVip.has(f.rip) || ids.leasesByVip.has(f.lip);
}

/**
 * Mail flows on shared addresses: each connection (address, client port, server port) paired with
 * the session it carried by lifetime; the connections no lifetime tells apart, and those with no
 * session, go through attributeFlow as any other flow (split by the sessions' counters).
 */
async function attributeByLifetime(held: FlowRow[], ids: Identities, verdictOf: (f: FlowRow) => Verdict | Promise<Verdict>, observed: { from: number; to: number },
  attribute: (f: FlowRow, v: Verdict) => void, buckets: Map<string, Bucket>, vpnPorts: Set<number>): Promise<void> {
  const conns = new Map<string, { c: ConnLifetime; rip: string; group: ServiceGroup; flows: FlowRow[] }>();
  for (const f of held) {
    const group = groupOf(f, vpnPorts);
    const key = `${f.rip}|${f.rport}|${f.lport}|${f.proto}`;
    const e = conns.get(key);
    if (e) { e.c.first = Math.min(e.c.first, f.minute); e.c.last = Math.max(e.c.last, f.minute); e.flows.push(f); }
    else conns.set(key, { c: { key, first: f.minute, last: f.minute, rport: f.rport || null }, rip: f.rip, group, flows: [f] });
  }
  const byIp = new Map<string, typeof conns extends Map<string, infer V> ? V[] : never>();
  for (const e of conns.values()) {
    const k = `${e.rip}|${e.group}`;
    const l = byIp.get(k);
    if (l) l.push(e); else byIp.set(k, [e]);
  }
  for (const list of byIp.values()) {
    const { rip, group } = list[0];
    const sessions = overlapping(ids.mailByIp.get(rip), observed.from, observed.to).filter((s) => s.service === group);
    const { matched, ambiguous } = matchLifetimes(list.map((e) => e.c), sessions, observed);
    for (const e of list) {
      const s = matched.get(e.c.key) as MailSession | undefined;
      if (!s) {
        for (const f of e.flows) attribute(f, await verdictOf(f));
        if (ambiguous.has(e.c.key)) for (const b of buckets.values()) if (b.group === group && b.ips.has(rip) && b.account) b.lifetimeAmbiguous++;
        continue;
      }
      for (const f of e.flows) attribute(f, { kind: 'account', group, confidence: 'exact', shares: [{ account: s.account, weight: 1 }], duplicate: false });
      const b = buckets.get(`a|${s.account}|${group}`);
      if (b) b.lifetimeMatched++;
    }
  }
}

interface OpenJoin { conn: OpenConnInput; session: MailSession | VpnSession | null; group: ServiceGroup; shared: boolean }

/**
 * Each open connection of a listing joined to the session it carries: a mail connection to a
 * Dovecot session from its address that is open at the listing (by client port where logged; else
 * one to one, oldest session first), a VPN tunnel to the OpenVPN session of its real address and port.
 */
function joinOpenConnections(conns: OpenConnInput[], ids: Identities, vpnPorts: Set<number>): OpenJoin[] {
  const out: OpenJoin[] = [];
  const used = new Set<object>();
  const sorted = [...conns].sort((a, b) => a.rip.localeCompare(b.rip) || a.rport - b.rport);
  for (const c of sorted) {
    const g = groupOf({ ...c, minute: c.listingTs, iface: '', source: 'conntrack' } as FlowRow, vpnPorts);
    const t = c.listingTs;
    const alive = <S extends { start: number; end: number; open: boolean }>(s: S) => s.start <= t && (s.open || s.end >= t - 2 * MINUTE);
    if (g === 'imap' || g === 'pop3') {
      const cands = (ids.mailByIp.get(c.rip) ?? []).filter((s) => s.service === g && alive(s) && !isLoopback(s.rip));
      const byPort = cands.filter((s) => s.rport !== null && s.rport === c.rport);
      const free = (byPort.length ? byPort : cands).filter((s) => !used.has(s)).sort((a, b) => a.start - b.start);
      const s = free[0] ?? null;
      if (s) used.add(s);
      out.push({ conn: c, session: s, group: g, shared: !byPort.length && new Set(cands.map((x) => x.account)).size > 1 });
    } else if (g === TUNNEL) {
      const cands = (ids.vpnByIp.get(c.rip) ?? []).filter((s) => (s.rport === null || s.rport === c.rport) && alive(s));
      out.push({ conn: c, session: cands.sort((a, b) => b.start - a.start)[0] ?? null, group: g, shared: false });
    } else out.push({ conn: c, session: null, group: g, shared: false });
  }
  return out;
}

/** vnstat's totals per interface for the window: five-minute entries when it has them, else hourly. */
async function interfaceRows(store: ReadStore, from: number, to: number): Promise<Array<{ iface: string; rx: number; tx: number; basis: ClosureEntry['basis'] }>> {
  const five = await store.interfaceTotals('fiveminute', from - (from % (5 * MINUTE)), to);
  if (five.length) return five.map((r) => ({ ...r, basis: 'vnstat-5min' as const }));
  return (await store.interfaceTotals('hour', from - (from % HOUR), to)).map((r) => ({ ...r, basis: 'vnstat-hour' as const }));
}

/** A suspect's confidence: how most of its bytes are known. */
function confidenceOf(b: Bucket): Confidence {
  const bytes = b.bytesIn + b.bytesOut || 1;
  if ((b.est.bytesIn + b.est.bytesOut) / bytes >= 0.5) return 'estimated';
  if ((b.log.bytesIn + b.log.bytesOut) / bytes >= 0.5) return 'log-counters';
  if (b.confidences.has('ip-only')) return 'ip-only';
  if (b.split || b.confidences.has('shared-ip')) return 'shared-ip';
  return 'exact';
}

/** How the interface's bytes in each direction are explained, from the buckets (see ClosureEntry). */
function computeClosure(ifaces: Array<{ iface: string; rx: number; tx: number; basis: ClosureEntry['basis'] }>, main: string, buckets: Map<string, Bucket>, promoted: Set<string>): ClosureEntry[] {
  const out: ClosureEntry[] = [];
  for (const it of ifaces) {
    for (const direction of ['in', 'out'] as const) {
      const total = direction === 'in' ? it.rx : it.tx;
      const pick = (v: { bytesIn: number; bytesOut: number }) => (direction === 'in' ? v.bytesIn : v.bytesOut);
      let measured = 0, logCounters = 0, estimated = 0;
      const labelled = new Map<string, number>();
      for (const b of buckets.values()) {
        let wire = 0;
        for (const [name, v] of b.wire) if (name === it.iface || (name === '' && it.iface === main)) wire += pick(v);
        const explained = b.account !== null || promoted.has(b.reason ?? '');
        if (it.iface === main) { logCounters += pick(b.log); estimated += pick(b.est) + pick(b.forwarded); }
        if (explained) measured += wire;
        else if (b.reason && b.reason !== 'unknown' && b.reason !== 'outbound-unknown') labelled.set(b.reason, (labelled.get(b.reason) ?? 0) + wire);
      }
      const claimed = measured + logCounters + estimated + [...labelled.values()].reduce((a, v) => a + v, 0);
      out.push({
        iface: it.iface, direction, basis: it.basis, total,
        measured: Math.round(measured), logCounters: Math.round(logCounters), estimated: Math.round(estimated),
        labelled: [...labelled.entries()].filter(([, v]) => v >= 0.5).sort((a, b) => b[1] - a[1]).map(([reason, bytes]) => ({ reason, bytes: Math.round(bytes) })),
        unexplained: Math.max(0, Math.round(total - claimed)), excess: Math.max(0, Math.round(claimed - total)),
      });
    }
  }
  return out;
}

/** One paragraph: what would make an answer resting on counters or estimates exact next time. */
function missingEvidence(top: Suspect | null, closure: ClosureEntry[] | null, source: FlowSourceName, openListing: boolean): string | null {
  const unexplained = closure ? closure.reduce((a, c) => a + c.unexplained, 0) / Math.max(1, closure.reduce((a, c) => a + c.total, 0)) : 0;
  const weak = top && (top.confidence === 'estimated' || top.confidence === 'log-counters');
  if (!weak && unexplained < 0.1) return null;
  const parts: string[] = [];
  if (source !== 'pcap' && source !== 'capture') parts.push('a capture ring buffer (`tcpdump -i eth0 -s 96 -G 3600 -W 48 -w /var/lib/bytetrail/cap-%H.pcap`) or `bytetrail watch --capture` measures every byte');
  if (openListing || source === 'conntrack') parts.push('conntrack timestamps (`sysctl -w net.netfilter.nf_conntrack_timestamp=1`) date each connection, and a listing every 5 minutes keeps the ones that close');
  else if (source !== 'pcap' && source !== 'capture') parts.push('or conntrack accounting and timestamps (`sysctl -w net.netfilter.nf_conntrack_acct=1 net.netfilter.nf_conntrack_timestamp=1`) with `conntrack -L -o extended` saved every 5 minutes');
  if (!closure) parts.push('vnstat on the interface gives the total to explain');
  if (!parts.length) return null;
  return `This answer rests partly on ${weak ? `${top!.confidence === 'estimated' ? 'estimates from the logs' : 'the logs\' own counters'}` : 'incomplete evidence'}${unexplained >= 0.1 ? ` and leaves ${pct(unexplained)} of the interface's bytes unexplained` : ''}. To make it exact next time: ${parts.join('; ')}.`;
}

/** Remotes of several buckets, summed by address. */
function groupRemotes(rs: Array<{ ip: string; bytes: number }>): Array<{ ip: string; bytes: number }> {
  const by = new Map<string, number>();
  for (const r of rs) by.set(r.ip, (by.get(r.ip) ?? 0) + r.bytes);
  return [...by.entries()].map(([ip, bytes]) => ({ ip, bytes })).sort((a, b) => b.bytes - a.bytes);
}

function roundSuspect(s: Suspect): Suspect {
  const r = (v: { bytesIn: number; bytesOut: number }) => ({ bytesIn: Math.round(v.bytesIn), bytesOut: Math.round(v.bytesOut) });
  return { ...s, ...r(s), doubleCountedBytes: Math.round(s.doubleCountedBytes), measured: r(s.measured), logCounters: r(s.logCounters), estimated: { ...r(s.estimated), methods: s.estimated.methods } };
}

/** A packet the firewall logged as dropped, or under a prefix that names no verdict: what scans leave. */
function firewallHit(a: { source: string; kind: string }): boolean {
  const f = aggregateFact(a.source, a.kind);
  return f === 'firewall-drop' || f === 'firewall-log';
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


/** `server`: a fleet verdict names the top suspect's server (`jan on mx3 (IMAP, …) caused …`). */
export function verdictLine(top: Suspect | null, basis: { label: string; bytes: number }, span: number, server?: string): string {
  if (!top) return basis.bytes > 0 ? `No account or known cause explains ${basis.label}: ${formatBytes(basis.bytes)}.` : 'No traffic recorded in this window.';
  const bytes = top.bytesIn + top.bytesOut;
  const share = basis.bytes > 0 ? Math.min(1, bytes / basis.bytes) : 0;
  const who = (top.account ?? `${top.finding} from ${top.ips.slice(0, 2).join(', ')}${top.ips.length > 2 ? ` and ${top.ips.length - 2} more` : ''}`)
    + (server === undefined ? '' : ` on ${server}`);
  const where = top.account ? ` (${SERVICE_LABEL[top.service]}, ${top.ips.slice(0, 2).join(', ')}${top.ips.length > 2 ? ', …' : ''})` : ` (${SERVICE_LABEL[top.service]})`;
  const sessions = top.sessions ? `, ${top.sessions} session${top.sessions === 1 ? '' : 's'}` : '';
  const split = top.split ? ' (split with other accounts on a shared IP)' : '';
  const est = top.estimated.bytesIn + top.estimated.bytesOut;
  const how = top.confidence === 'estimated' ? ', estimated from the logs' : top.confidence === 'log-counters' ? ', by the logs\' own counters' : est > 0 ? ` (${formatBytes(est)} of it estimated)` : '';
  const open = top.openUnknown ? `; ${top.openUnknown.sessions} more session${top.openUnknown.sessions === 1 ? '' : 's'} still open, bytes not yet known` : '';
  return `${who}${where} caused ${pct(share)} of ${basis.label}: ${formatBytes(bytes)} ${top.direction === 'out' ? 'mostly sent to it' : 'mostly received from it'} in ${humanDuration(span)}${how}${sessions}${split}${open}.`;
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

function makeSuspect(b: Bucket, confidence: Confidence, ids: Identities, index: AccountIndex, from: number, to: number, total: number, openUnknown?: { sessions: number; since: number }): Suspect {
  const account = b.account!;
  const ips = topIps(b);
  const mine = (index.events.get(account) ?? []).filter((e) => e.ts < to + 5 * MINUTE);
  const inWindow = mine.filter((e) => e.ts >= from);
  let finding: FindingKind = 'normal-use';
  const facts: string[] = [];
  let lines: EvidenceLine[] = [];
  let sessions = 0;
  const bytes = b.bytesIn + b.bytesOut;
  const share = total > 0 ? Math.min(1, bytes / total) : 0;

  if (b.group === 'imap' || b.group === 'pop3') {
    const ss: MailSession[] = (index.mail.get(account) ?? []).filter((s) => s.service === b.group && s.start < to && s.end > from);
    sessions = ss.length;
    const outs = ss.map((s) => s.bytesOut).filter((x): x is number => x !== null).sort((x, y) => x - y);
    const maxParallel = parallelism(ss);
    const openNow = ss.filter((s) => s.open).length;
    const medianOut = outs.length ? outs[Math.floor(outs.length / 2)] : 0;
    facts.push(`${sessions} ${SERVICE_LABEL[b.group]} sessions in the window from ${new Set(ss.map((s) => s.rip)).size} IP(s), up to ${maxParallel} at once, ${openNow} still open`);
    if (openUnknown) facts.push(`${openUnknown.sessions} session(s) still open since ${new Date(openUnknown.since).toISOString().slice(0, 16).replace('T', ' ')}: their bytes are not known yet (no flow or conntrack listing covers them; Dovecot logs out= only at logout)`);
    if (b.lifetimeMatched) facts.push(`${b.lifetimeMatched} connection(s) on a shared address matched to this account's sessions by lifetime (first packet against the login, last against the logout)`);
    if (b.lifetimeAmbiguous) facts.push(`${b.lifetimeAmbiguous} connection(s) on a shared address that no lifetime tells apart: split by the sessions' own counters`);
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
    if (b.est.bytesIn + b.est.bytesOut > 0) facts.push(`${formatBytes(b.est.bytesIn + b.est.bytesOut)} estimated: ${[...b.methods].join('; ')}`);
    const scans = subs.map((s) => s.scan).filter((x): x is StoredEvent => x !== null);
    lines = [...sampleLines(subs.map((s) => s.login), 3), ...sampleLines(ds.filter((d) => d.status !== 'sent').map((d) => d.event), 2), ...sampleLines(scans, 1)];
  } else if (b.group === TUNNEL) {
    const vs = (index.vpn.get(account) ?? []).filter((s) => s.start < to && s.end > from);
    sessions = vs.length;
    facts.push(`${vs.length} VPN session(s) from ${new Set(vs.map((s) => s.rip)).size} real IP(s); virtual address(es) ${[...new Set(vs.flatMap((s) => s.vips))].join(', ') || 'unknown'}`);
    facts.push(`${formatBytes(b.bytesOut)} sent to the client through the tunnel, ${formatBytes(b.bytesIn)} received`);
    if (b.dupBytes > 0) facts.push(`${formatBytes(b.dupBytes)} of the same traffic seen again forwarded or on the tunnel interface (not added)`);
    const fwd = b.forwarded.bytesIn + b.forwarded.bytesOut;
    if (fwd > 0) facts.push(`about ${formatBytes(fwd)} more crossed the interface forwarded to and from the internet, if the VPN routes it (estimated from the tunnel, less OpenVPN's overhead; not added)`);
    if (share >= 0.3 || bytes >= 100e6) finding = 'vpn-heavy';
    lines = sampleLines(vs.flatMap((s) => s.events), 4);
  } else if (b.group === WEB) {
    const logins = [...ids.webByIp.values()].flat().filter((w) => w.account === account && w.start < to && w.start >= from - WEB_SESSION_MS);
    sessions = logins.length;
    const reqs = [...ids.webTransfersByIp.entries()].flatMap(([ip, l]) => l.filter((e) => e.ts >= from && e.ts < to && webAccountAt(ids, ip, e.ts)?.account === account));
    const body = reqs.reduce((a, e) => a + (e.bytesOut ?? 0), 0);
    facts.push(`${sessions} webmail login(s) from ${new Set(logins.map((w) => w.rip)).size} IP(s)`);
    if (reqs.length) facts.push(`${reqs.length} webmail requests in the access log sent ${formatBytes(body)} of bodies, the largest ${formatBytes(Math.max(...reqs.map((e) => e.bytesOut ?? 0)))}`);
    facts.push(`${formatBytes(b.bytesOut)} sent to the client over HTTP(S), ${formatBytes(b.bytesIn)} received`);
    if (b.est.bytesIn + b.est.bytesOut > 0) facts.push(`${formatBytes(b.est.bytesIn + b.est.bytesOut)} estimated: ${[...b.methods].join('; ')}`);
    // The webmail's own IMAP connections carry the same mail over loopback: named, never counted.
    const loop = ids.mail.filter((s) => s.account === account && isLoopback(s.rip) && s.start < to && s.end > from);
    if (loop.length) facts.push(`${loop.length} IMAP session(s) the webmail opened over loopback (${formatBytes(loop.reduce((a, s) => a + (s.bytesOut ?? 0), 0))} out=): not interface traffic, not counted`);
    // A browser that reads mail downloads a little; one that re-fetches the mailbox dominates the interface.
    if (b.bytesOut > 4 * Math.max(1, b.bytesIn) && (share >= 0.2 || b.bytesOut >= 500e6)) finding = 'webmail-refetch';
    lines = [...sampleLines(logins.map((w) => w.login), 2), ...sampleLines(reqs, 3)];
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
    split: b.split, doubleCountedBytes: b.dupBytes, direction: b.bytesOut >= b.bytesIn ? 'out' : 'in', ...howKnown(b),
    openUnknown: openUnknown ? { sessions: openUnknown.sessions, since: new Date(openUnknown.since).toISOString() } : null,
  };
}

/** A bucket's bytes by how they are known: measured, the logs' counters, estimated. */
function howKnown(b: Bucket): Pick<Suspect, 'measured' | 'logCounters' | 'estimated'> {
  return {
    measured: { bytesIn: b.bytesIn - b.log.bytesIn - b.est.bytesIn, bytesOut: b.bytesOut - b.log.bytesOut - b.est.bytesOut },
    logCounters: { ...b.log },
    estimated: { ...b.est, methods: [...b.methods] },
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
  const confidence = confidenceOf(b) === 'estimated' ? 'estimated' : 'ip-only';
  const est = b.est.bytesIn + b.est.bytesOut;
  return {
    account: null, ips: topIps(b), service: group, bytesIn: b.bytesIn, bytesOut: b.bytesOut, share: total > 0 ? Math.min(1, bytes / total) : 0,
    confidence, finding, evidence: est > 0 ? { ...evidence, facts: [...evidence.facts, `${formatBytes(est)} estimated: ${[...b.methods].join('; ')}`] } : evidence,
    sessions: 0, firstSeen: null, lastSeen: null, split: false, doubleCountedBytes: 0,
    direction: b.bytesOut >= b.bytesIn ? 'out' : 'in', ...howKnown(b), openUnknown: null,
  };
}

/** DNS amplification: small queries in, large answers out, to few destinations (the spoofed victims). */
function classifyDns(b: Bucket, aggs: AggRow[], total: number): Finding | null {
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
  const samples = queries.filter(hasSample).sort((x, y) => y.count - x.count).slice(0, 3);
  return {
    kind: 'dns-amplification', subject: topIps(b, 3).join(', '),
    summary: `DNS answers out are ${ratio.toFixed(0)}× the queries in (${formatBytes(b.bytesOut)} out, ${formatBytes(b.bytesIn)} in)${n ? `; ${pct(any / n)} of ${n} logged queries ask for ANY/TXT/DNSSEC types` : ''}`,
    evidence: {
      facts: [
        `${formatBytes(b.bytesOut)} of DNS responses sent, ${formatBytes(b.bytesIn)} of queries received (${ratio.toFixed(1)}×)`,
        ...topSrc.map(([ip, c]) => `${ip}: ${c} queries`),
        ...[...byType.entries()].sort((x, y) => y[1] - x[1]).slice(0, 4).map(([t, c]) => `qtype ${t}: ${c}`),
      ],
      lines: samples.map((q) => aggLine(q, (raw) => `${raw} (×${q.count} that minute)`)),
    },
  };
}

function anonymousEvidence(b: Bucket, reason: string, ids: Identities, aggs: AggRow[]): Evidence {
  const ips = topIps(b, 5);
  const facts: string[] = [];
  const lines: EvidenceLine[] = [];
  for (const ip of ips) {
    const fails = ids.authFailByIp.get(ip) ?? [];
    const drops = aggs.filter((a) => firewallHit(a) && a.rip === ip);
    const dropCount = drops.reduce((a, d) => a + d.count, 0);
    const ports = new Set(drops.map((d) => d.lport));
    facts.push(`${ip}: ${formatBytes(b.ips.get(ip) ?? 0)}${fails.length ? `, ${fails.length} failed logins` : ''}${dropCount ? `, ${dropCount} firewall drops on ${ports.size} port(s)` : ''}`);
    lines.push(...sampleLines(fails, 2));
    const d = drops.find(hasSample);
    if (d) lines.push(aggLine(d, messagePart));
  }
  void reason;
  return { facts, lines: lines.slice(0, 6) };
}

/** Scans and brute force, from firewall drops and failed logins, whether or not they moved bytes. */
function scanFindings(aggs: AggRow[], ids: Identities): Finding[] {
  const out: Finding[] = [];
  const bySrc = new Map<string, { count: number; ports: Set<number>; first: number; last: number; sample: (typeof aggs)[number] | null }>();
  for (const a of aggs) {
    if (!firewallHit(a) || !a.rip) continue;
    const s = bySrc.get(a.rip) ?? { count: 0, ports: new Set<number>(), first: a.firstTs, last: a.lastTs, sample: null };
    s.count += a.count; s.ports.add(a.lport); s.first = Math.min(s.first, a.firstTs); s.last = Math.max(s.last, a.lastTs);
    if (!s.sample && hasSample(a)) s.sample = a;
    bySrc.set(a.rip, s);
  }
  const scanners = [...bySrc.entries()].filter(([, s]) => s.ports.size >= 5 || s.count >= 50).sort((x, y) => y[1].count - x[1].count);
  if (scanners.length) {
    out.push({
      kind: 'scan', subject: `${scanners.length} source IP(s)`,
      summary: `${scanners.reduce((a, [, s]) => a + s.count, 0)} packets dropped by the firewall from ${scanners.length} source(s) probing ${new Set(scanners.flatMap(([, s]) => [...s.ports])).size} port(s)`,
      evidence: {
        facts: scanners.slice(0, 5).map(([ip, s]) => `${ip}: ${s.count} drops on ${s.ports.size} port(s), ${new Date(s.first).toISOString()} to ${new Date(s.last).toISOString()}`),
        lines: scanners.slice(0, 3).filter(([, s]) => s.sample).map(([, s]) => aggLine(s.sample!, messagePart)),
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

function findingSummary(s: Suspect, basis: { label: string }): string {
  const total = `${formatBytes(s.bytesIn + s.bytesOut)} (${pct(s.share)} of ${basis.label})`;
  switch (s.finding) {
    case 'imap-resync': return `${s.account} downloads the mailbox again and again over ${SERVICE_LABEL[s.service]}: ${total} in ${s.sessions} sessions (a mail client such as Outlook re-synchronising in a loop)`;
    case 'spam-relay': return `${s.account} submits mail in bulk from several networks: likely a compromised SASL account relaying spam`;
    case 'webmail-refetch': return `${s.account} downloads the mailbox again and again through the webmail: ${total} over HTTPS from ${s.ips.slice(0, 2).join(', ')} (a webmail tab or client re-fetching in a loop)`;
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
async function computeBaseline(store: ReadStore, source: string, from: number, to: number, total: number): Promise<Investigation['baseline']> {
  const days: number[] = [];
  for (let d = 1; d <= 7; d++) {
    const r = await store.flowBytesBetween(source, from - d * 24 * HOUR, to - d * 24 * HOUR);
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

/** Mbit/s with two significant digits: `3.4 Mbit/s`. */
function mbit(bits: number): string {
  const m = bits / 1e6;
  return `${m >= 10 ? Math.round(m) : m.toPrecision(2)} Mbit/s`;
}

/** Why the rate is what it is, in the numbers it comes from (it must match them). */
function rateWhy(peakBits: number, target: number, rate: string): string {
  const quarter = peakBits / 4;
  if (quarter < 1e6) return `Its busiest five minutes averaged ${mbit(peakBits)}; a quarter of that is below the 1 Mbit/s floor, so ${rate}.`;
  if (quarter > 20e6) return `Its busiest five minutes averaged ${mbit(peakBits)}; a quarter of that is above the 20 Mbit/s ceiling, so ${rate}.`;
  return `Its busiest five minutes averaged ${mbit(peakBits)}: ${rate} is a quarter of that${Math.abs(target - quarter) > 1 ? ', rounded' : ''}.`;
}

/** A throttle, not a block: a quarter of the suspect's busiest five minutes, within sane bounds. */
function proposeThrottle(s: Suspect, from: number, to: number, peak5min: number, submitters?: string[]): ThrottleProposal | null {
  if (!s.ips.length) return null;
  const dir = s.direction;
  const bytes = dir === 'out' ? s.bytesOut : s.bytesIn;
  // A quarter of the suspect's busiest five minutes (its average understates a bursty client).
  const avgBits = (bytes * 8) / Math.max(1, (to - from) / 1000);
  const peakBits = Math.max(avgBits, (peak5min * 8) / 300);
  const target = Math.min(20e6, Math.max(1e6, peakBits / 4));
  const rate = target >= 1e6 ? `${Math.max(1, Math.round(target / 1e6))}mbit` : `${Math.round(target / 1e3)}kbit`;
  const PORTS: Readonly<Record<ServiceGroup, readonly number[]>> = groupPorts();
  let ports = s.account ? [...(PORTS[s.service] ?? [])] : [];
  let ips = s.ips;
  let direction: 'in' | 'out' = dir;
  if (s.finding === 'spam-relay' && submitters && submitters.length) {
    // Slow the submissions from the account's client IPs, not the relays it sends to.
    ports = [...PORTS.submission]; ips = submitters; direction = 'in';
  }
  const who = s.account ?? s.ips[0];
  // The window's own bounds, so that the command finds the account's addresses when run after the incident.
  const cmd = throttleCommandLine({ target: who, rate, direction, ports, since: from, until: to });
  const advice: Partial<Record<FindingKind, string>> = {
    'spam-relay': 'the account looks compromised: change its password and disable SASL for it first (a throttle only slows the spam down); the throttle below holds its submissions meanwhile',
    'dns-amplification': 'the answers go to spoofed victims: restrict recursion to your own clients (allow-recursion) and enable response rate limiting (rate-limit { responses-per-second 5; };); the throttle below caps the flood meanwhile',
    bruteforce: 'failed logins from addresses that never logged in: blocking them (fail2ban) is the usual answer; the throttle below only slows them',
    scan: 'probes that the firewall already drops: nothing to throttle unless they persist',
  };
  return {
    target: who, ips, direction, rate, ports,
    reason: `${s.finding === 'normal-use' ? 'heaviest client' : s.finding}: ${formatBytes(bytes)} ${dir === 'out' ? 'sent to' : 'received from'} ${who}. ${advice[s.finding] ?? 'The rate keeps the service usable for it without letting the traffic run.'} ${rateWhy(peakBits, target, rate)}`,
    command: cmd,
  };
}

export type { Investigation };
