/**
 * OpenVPN status files (`status /run/openvpn-server/status-server.log`, v1, v2 or v3): each
 * client's real address, common name and byte counters since it connected, turned into flow
 * records on the VPN's port and leases of its virtual addresses. How the deltas are spread over
 * time: see flows/snapshots.ts.
 */
import { InputError } from '../../errors.js';
import type { ParseContext } from '../../events.js';
import { fmt, iso, mergeFlows, spreadFlow, type SnapshotResult } from '../../flows/spread.js';
import type { FlowRecord } from '../../flows/types.js';
import { normalizeIp } from '../../parsers/common.js';
import { isOpenvpnStatus, parseOpenvpnStatus, type OpenvpnStatusClient } from '../../parsers/openvpn-status.js';
import type { LeaseInput } from '../../store/index.js';
import type { CounterSource } from '../types.js';

/** The engine's key in `counter_state`. */
export const OPENVPN_STATE_KEY = 'snapshot-deltas:openvpn-status';

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

export const source: CounterSource = {
  kind: 'openvpn-status',
  title: 'OpenVPN status file',
  label: 'flow records and leases (openvpn-status)',
  rank: 10,
  sniff: isOpenvpnStatus,
  stateKey: OPENVPN_STATE_KEY,
  flows: true,
  compute: (input, prev, opts) => openvpnStatusSnapshot(input.text, prev, { tz: opts.tz, fileTime: input.fileTime, port: opts.servicePorts?.openvpn?.[0] }),
  standardPaths: ['/run/openvpn-server/status-server.log', '/run/openvpn/server.status', '/var/log/openvpn/openvpn-status.log', '/var/log/openvpn/status.log', '/etc/openvpn/openvpn-status.log'],
};
