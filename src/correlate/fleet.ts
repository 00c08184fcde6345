/**
 * The fleet verdict (issue 11 §3). Logs and flows of different servers are never joined: an
 * address on mx1 says nothing about mx3, and a login there explains no flow here. So a fleet is
 * investigated one server at a time, each through the same read store filtered to it, and the
 * investigations are merged here: suspects, findings and unattributed traffic carry their
 * server, shares become shares of the fleet's total, an account that is a suspect on several
 * servers is one person with a row per server, and the verdict names the server.
 *
 * `mergeFleet` is pure; `investigateFleet` does the reading. One server gives its own
 * investigation back untouched, so a single server's output does not change by a byte.
 */
import type { ReadStore } from '../store/read.js';
import { investigate, verdictLine, type InvestigateOptions } from './investigate.js';
import type { ClosureEntry, FleetClosureTotal, FleetPerson, FleetServer, Investigation, Suspect, TimelineBucket } from './types.js';

export interface ServerInvestigation { server: string; inv: Investigation }

/**
 * Each server investigated on its own store (opened by `open`, closed after), one after the
 * other: a central store answers one server's questions at a time without crowding the others.
 */
export async function investigateFleet(open: (server: string) => Promise<ReadStore>, servers: string[], opts: InvestigateOptions): Promise<Investigation> {
  const parts: ServerInvestigation[] = [];
  for (const server of servers) {
    const store = await open(server);
    try {
      parts.push({ server, inv: await investigate(store, opts) });
    } finally {
      await store.close();
    }
  }
  return mergeFleet(parts, opts.to - opts.from);
}

const bytesOf = (x: { bytesIn: number; bytesOut: number }) => x.bytesIn + x.bytesOut;
const shareOf = (bytes: number, total: number) => (total > 0 ? Math.min(1, bytes / total) : 0);

/** The interface a server's shares are of: the busiest by vnstat (the first of equals, as investigate picks it). */
function mainInterface(inv: Investigation): FleetServer['mainInterface'] {
  let best: FleetServer['mainInterface'] = null;
  for (const it of inv.interfaceTotals ?? []) if (!best || it.rx + it.tx > best.rx + best.tx) best = { iface: it.iface, rx: it.rx, tx: it.tx };
  return best;
}

/** The main interface's closure entries of each server, summed per direction. */
function fleetClosure(parts: ServerInvestigation[]): FleetClosureTotal[] | null {
  const mains: ClosureEntry[] = [];
  for (const { inv } of parts) {
    const main = mainInterface(inv);
    if (main && inv.closure) mains.push(...inv.closure.filter((c) => c.iface === main.iface));
  }
  if (!mains.length) return null;
  return (['in', 'out'] as const).map((direction) => {
    const es = mains.filter((c) => c.direction === direction);
    const sum = (k: 'total' | 'measured' | 'logCounters' | 'estimated' | 'unexplained' | 'excess') => es.reduce((a, c) => a + c[k], 0);
    const labelled = new Map<string, number>();
    for (const l of es.flatMap((c) => c.labelled)) labelled.set(l.reason, (labelled.get(l.reason) ?? 0) + l.bytes);
    return {
      direction, total: sum('total'), measured: sum('measured'), logCounters: sum('logCounters'), estimated: sum('estimated'),
      labelled: [...labelled.entries()].sort((a, b) => b[1] - a[1]).map(([reason, bytes]) => ({ reason, bytes })),
      unexplained: sum('unexplained'), excess: sum('excess'),
    };
  });
}

/** Accounts that are suspects on more than one server, with a row per server and service. */
function people(suspects: Suspect[], total: number): FleetPerson[] {
  const by = new Map<string, Suspect[]>();
  for (const s of suspects) {
    if (s.account === null) continue;
    const l = by.get(s.account);
    if (l) l.push(s); else by.set(s.account, [s]);
  }
  const out: FleetPerson[] = [];
  for (const [account, rows] of by) {
    if (new Set(rows.map((r) => r.server)).size < 2) continue;
    const bytesIn = rows.reduce((a, r) => a + r.bytesIn, 0), bytesOut = rows.reduce((a, r) => a + r.bytesOut, 0);
    out.push({
      account, bytesIn, bytesOut, share: shareOf(bytesIn + bytesOut, total),
      rows: rows.map((r) => ({ server: r.server!, service: r.service, bytesIn: r.bytesIn, bytesOut: r.bytesOut, share: r.share })),
    });
  }
  return out.sort((a, b) => bytesOf(b) - bytesOf(a));
}

/**
 * The window is the same on every server, so their timelines have the same buckets: summed,
 * each bucket's top is the top of the server that moved the most bytes in it, named with it.
 */
function mergeTimeline(parts: ServerInvestigation[]): Investigation['timeline'] {
  const first = parts[0].inv.timeline;
  const buckets: TimelineBucket[] = first.buckets.map((b, i) => {
    let bytesIn = 0, bytesOut = 0, top: string | null = null, topBytes = -1;
    for (const { server, inv } of parts) {
      const x = inv.timeline.buckets[i];
      if (!x) continue;
      bytesIn += x.bytesIn; bytesOut += x.bytesOut;
      if (x.top !== null && bytesOf(x) > topBytes) { topBytes = bytesOf(x); top = `${x.top} on ${server}`; }
    }
    return { t: b.t, bytesIn, bytesOut, top };
  });
  return { bucketSeconds: first.bucketSeconds, buckets };
}

/** The same hours on earlier days, summed: only when every server has them (else "normal" would be part of the fleet). */
function mergeBaseline(parts: ServerInvestigation[]): Investigation['baseline'] {
  const bs = parts.map((p) => p.inv.baseline);
  if (bs.some((b) => b === null)) return null;
  const typical = bs.reduce((a, b) => a + b!.typicalBytes, 0);
  // Each ratio is that server's evidence total over its typical bytes: weighted back, the fleet's.
  const now = bs.reduce((a, b) => a + b!.ratio * b!.typicalBytes, 0);
  return { days: Math.min(...bs.map((b) => b!.days)), typicalBytes: typical, ratio: typical > 0 ? now / typical : 0 };
}

/** Several servers' investigations as one; one server's is returned as it is. */
export function mergeFleet(parts: ServerInvestigation[], spanMs: number): Investigation {
  if (parts.length === 0) throw new Error('mergeFleet: no server');
  if (parts.length === 1) return parts[0].inv;
  const total = parts.reduce((a, p) => a + p.inv.shareBasis.bytes, 0);
  const shareBasis = { label: `the fleet's traffic in + out (${parts.length} servers, each by its own basis)`, bytes: total };
  const tag = <T extends object>(server: string) => (x: T) => ({ ...x, server });
  // Stable: equal byte counts keep the servers' order, and each server's own order.
  const suspects = parts.flatMap(({ server, inv }) => inv.suspects.map((s) => ({ ...s, server, share: shareOf(bytesOf(s), total) })))
    .sort((a, b) => bytesOf(b) - bytesOf(a));
  const top = suspects[0] ?? null;
  const topPart = top ? parts.find((p) => p.server === top.server)! : null;
  const sumTotals = (k: keyof Investigation['totals']) => parts.reduce((a, p) => a + p.inv.totals[k], 0);
  // One name for the fleet's source when they agree; else the busiest server's (each server's is in fleet.servers).
  const busiest = parts.reduce((a, p) => (bytesOf(p.inv.totals) > bytesOf(a.inv.totals) ? p : a));
  const sources = new Set(parts.map((p) => p.inv.flowSource));
  const ifaceServers = parts.map((p) => mainInterface(p.inv)).filter((m) => m !== null);
  const missing = parts.filter((p) => p.inv.missingEvidence !== null).map((p) => `On ${p.server}: ${p.inv.missingEvidence}`);
  const closure = parts.flatMap(({ server, inv }) => (inv.closure ?? []).map(tag<ClosureEntry>(server)));
  const ifaces = parts.flatMap(({ server, inv }) => (inv.interfaceTotals ?? []).map(tag<{ iface: string; rx: number; tx: number }>(server)));
  return {
    window: parts[0].inv.window,
    flowSource: sources.size === 1 ? parts[0].inv.flowSource : busiest.inv.flowSource,
    totals: {
      bytesIn: sumTotals('bytesIn'), bytesOut: sumTotals('bytesOut'), attributedBytes: sumTotals('attributedBytes'), unattributedBytes: sumTotals('unattributedBytes'),
      packetsIn: sumTotals('packetsIn'), packetsOut: sumTotals('packetsOut'),
    },
    verdict: verdictLine(top, shareBasis, spanMs, top?.server),
    suspects,
    // A finding's share is of its own server's total: said so, as the fleet's shares are of another.
    findings: parts.flatMap(({ server, inv }) => inv.findings.map((f) => ({ ...f, server, summary: f.summary.split(`of ${inv.shareBasis.label}`).join(`of ${inv.shareBasis.label} on ${server}`) }))),
    unattributed: parts.flatMap(({ server, inv }) => inv.unattributed.map((u) => ({ ...u, server }))).sort((a, b) => b.bytes - a.bytes),
    timeline: mergeTimeline(parts),
    baseline: mergeBaseline(parts),
    interfaceTotals: ifaces.length ? ifaces : null,
    shareBasis,
    closure: closure.length ? closure : null,
    missingEvidence: missing.length ? missing.join(' ') : null,
    notes: [
      ...(sources.size > 1 ? [`The servers' flow sources differ (${parts.map((p) => `${p.server}: ${p.inv.flowSource}`).join(', ')}); each server's suspects rest on its own.`] : []),
      ...parts.flatMap(({ server, inv }) => inv.notes.map((n) => `${server}: ${n}`)),
    ],
    // The top suspect is its own server's top suspect too, so that server's proposal is for it.
    throttle: topPart?.inv.throttle ? { ...topPart.inv.throttle, server: topPart.server } : null,
    fleet: {
      servers: parts.map(({ server, inv }) => ({
        server, flowSource: inv.flowSource, totals: inv.totals, shareBasis: inv.shareBasis, verdict: inv.verdict, mainInterface: mainInterface(inv),
      })),
      people: people(suspects, total),
      closure: fleetClosure(parts),
      interfaceTotals: ifaceServers.length ? { rx: ifaceServers.reduce((a, m) => a + m.rx, 0), tx: ifaceServers.reduce((a, m) => a + m.tx, 0) } : null,
    },
  };
}
