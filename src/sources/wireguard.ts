/**
 * WireGuard logs nothing about peers, so its evidence is its counters: `wg show all dump`
 * snapshots, read like OpenVPN status files (content-hashed, per-peer deltas, a restart of the
 * interface resets them). A peer is its public key until a configuration names it: PiVPN's
 * `### begin NAME ###`, a comment above or inside `[Peer]` (wg-quick, `# friendly_name=`,
 * wg-easy's `# Client: NAME (uuid)`), or wg-easy's `wg0.json`. Its allowed host addresses
 * are its leases: tunnel traffic to them is the peer's, as an OpenVPN pool address is the
 * client's. Pure: the text, its time and the previous state come in.
 */
import { InputError } from '../errors.js';
import { type SnapshotResult, spreadOver } from '../flows/spread.js';
import type { FlowRecord } from '../flows/types.js';
import { normalizeIp } from '../parsers/common.js';
import type { LeaseInput } from '../store/index.js';

/** One peer row of a dump. Counters are the server's: rx = received from the peer (bytesIn). */
export interface WgPeer {
  iface: string;
  publicKey: string;
  endpointIp: string | null;
  endpointPort: number | null;
  /** Allowed IPs as written (`10.70.0.2/32`). */
  allowedIps: string[];
  /** Latest handshake, UTC ms, or null for never. */
  handshake: number | null;
  rx: number;
  tx: number;
}

export interface WgDump {
  /** Interface → its listen port. */
  ports: Map<string, number>;
  peers: WgPeer[];
  unparsed: Array<{ line: number; reason: string; text: string }>;
}

// 43 base64 characters and `=`; a few published samples are a character or two short.
const KEY = /^[A-Za-z0-9+/]{40,43}=$/;
/** Keys, private ones included, are never kept in an unparsed sample. */
const redact = (s: string) => s.replace(/[A-Za-z0-9+/]{40,43}=/g, '<key>').slice(0, 200);
const count = (s: string): number | null => (/^\d+$/.test(s) ? Number(s) : null);

function endpoint(s: string): { ip: string | null; port: number | null } {
  if (s === '(none)') return { ip: null, port: null };
  // `203.0.113.7:51820` or `[2001:db8::7]:51820`
  const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s);
  return m ? { ip: normalizeIp(m[1]), port: Number(m[2]) } : { ip: null, port: null };
}

/**
 * `wg show all dump` (interface first on every line) or `wg show wg0 dump` (no interface
 * column; named `iface` here). Per wg(8): an interface line is `private-key public-key
 * listen-port fwmark`, a peer line `public-key preshared-key endpoint allowed-ips
 * latest-handshake transfer-rx transfer-tx persistent-keepalive`, tab-separated:
 *   wg0	2S7mA0vEMethCNQrJpJKE81/JmhgtB+tHHLYQhgM6kk=	(none)	198.51.100.7:29159	10.70.0.2/32	1555771458	10288508	139524160	off
 */
export function parseWgDump(text: string, iface = 'wg0'): WgDump {
  const out: WgDump = { ports: new Map(), peers: [], unparsed: [] };
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (!line.trim()) return;
    let f = line.split('\t');
    // Without the interface column, prepend the one named by the caller.
    if ((f.length === 4 || f.length === 8) && KEY.test(f[0]) || f.length === 4 && f[0] === '(none)') f = [iface, ...f];
    if (f.length === 5 && count(f[3]) !== null) { out.ports.set(f[0], Number(f[3])); return; }
    if (f.length === 9 && KEY.test(f[1])) {
      const rx = count(f[6]), tx = count(f[7]), hs = count(f[5]);
      if (rx === null || tx === null || hs === null) { out.unparsed.push({ line: i + 1, reason: 'wireguard peer line with a non-numeric counter', text: redact(line) }); return; }
      const ep = endpoint(f[3]);
      out.peers.push({
        iface: f[0], publicKey: f[1], endpointIp: ep.ip, endpointPort: ep.port,
        allowedIps: f[4] === '(none)' ? [] : f[4].split(',').filter(Boolean),
        handshake: hs === 0 ? null : hs * 1000, rx, tx,
      });
      return;
    }
    out.unparsed.push({ line: i + 1, reason: 'not a line of wg show dump', text: redact(line) });
  });
  return out;
}

/** Is this the start of a `wg show [all] dump`? (A key, a key or `(none)`, then a port or an endpoint.) */
export function isWgDump(head: string): boolean {
  const first = head.split('\n', 1)[0].replace(/\r$/, '');
  const f = first.split('\t');
  if (f.length === 5) return KEY.test(f[1]) && KEY.test(f[2]) && /^\d+$/.test(f[3]);
  if (f.length === 4) return KEY.test(f[0]) && KEY.test(f[1]) && /^\d+$/.test(f[2]);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Peer names

/** Does this look like a WireGuard configuration (wg-quick, PiVPN) or wg-easy's wg0.json? */
export function isWgConfig(head: string): boolean {
  const t = head.trimStart();
  if (t.startsWith('{')) return /"clients"\s*:/.test(head) && /"publicKey"\s*:/.test(head);
  return /^\s*(?:#\[disabled\] *)?\[(?:Interface|Peer)\]\s*$/m.test(head) && /^\s*(?:#\[disabled\] *)?(?:PublicKey|PrivateKey)\s*=/m.test(head);
}

/** `friendly_json={"username": ...}` (prometheus_wireguard_exporter): its user name, as a match of one group. */
function friendlyJson(c: string): [string, string] | null {
  const m = /^friendly_json\s*=\s*(\{.*\})\s*$/.exec(c);
  if (!m) return null;
  try {
    const j = JSON.parse(m[1]) as Record<string, unknown>;
    const name = [j.username, j.name, j.first_name].find((x): x is string => typeof x === 'string' && x.length > 0);
    return name ? [m[0], name] : null;
  } catch {
    return null;
  }
}

/**
 * Public key → name, from a wg-quick configuration or wg-easy's JSON. In a configuration the
 * name of a `[Peer]` is, in this order: `# friendly_name=NAME` in its section, PiVPN's
 * `### begin NAME ###` around it, wg-easy's `# Client: NAME (uuid)`, or the last plain comment
 * just above `[Peer]` or at the top of its section. PiVPN's disabled peers (`#[disabled] `)
 * count as well: their traffic is still theirs.
 */
export function wireguardPeerNames(text: string): Map<string, string> {
  const names = new Map<string, string>();
  const t = text.trimStart();
  if (t.startsWith('{')) {
    // wg-easy before v15: { "server": {...}, "clients": { "<uuid>": { "name": ..., "publicKey": ..., "address": ... } } }
    let j: unknown;
    try { j = JSON.parse(text); } catch { return names; }
    const clients = (j as { clients?: Record<string, { name?: unknown; publicKey?: unknown }> })?.clients;
    if (clients && typeof clients === 'object') {
      for (const c of Object.values(clients)) if (typeof c?.publicKey === 'string' && typeof c.name === 'string' && c.name) names.set(c.publicKey, c.name);
    }
    return names;
  }
  let pivpn: string | null = null;
  let above: string | null = null;
  let inPeer = false;
  let peer: { key: string | null; friendly: string | null; client: string | null; comment: string | null; pivpn: string | null } | null = null;
  const close = () => {
    if (peer?.key) {
      const name = peer.friendly ?? peer.pivpn ?? peer.client ?? peer.comment;
      if (name) names.set(peer.key, name);
    }
    peer = null;
  };
  for (const raw of text.split('\n')) {
    let line = raw.replace(/\r$/, '').trim();
    if (line.startsWith('#[disabled]')) line = line.slice('#[disabled]'.length).trim();
    const begin = /^###\s*begin\s+(.+?)\s*###$/i.exec(line);
    if (begin) { close(); pivpn = begin[1]; above = null; continue; }
    if (/^###\s*end\s+.+?###$/i.test(line)) { close(); pivpn = null; above = null; continue; }
    if (/^\[Peer\]$/i.test(line)) {
      close();
      inPeer = true;
      peer = { key: null, friendly: null, client: null, comment: above, pivpn };
      above = null;
      continue;
    }
    if (/^\[Interface\]$/i.test(line)) { close(); inPeer = false; above = null; continue; }
    if (line.startsWith('#')) {
      const c = line.replace(/^#+\s*/, '');
      const friendly = /^friendly_name\s*=\s*(.+)$/.exec(c) ?? friendlyJson(c);
      const client = /^Client:\s*(.+?)(?:\s+\([0-9a-f-]{8,}\))?$/.exec(c);
      if (peer && friendly) peer.friendly = friendly[1].trim();
      else if (peer && client) peer.client = client[1];
      else if (peer && !peer.key && !peer.comment && c && !c.includes('=')) peer.comment = c;
      else if (!peer || peer.key) above = client ? client[1] : c && !c.includes('=') ? c : null;
      continue;
    }
    if (!line) { if (!inPeer) above = null; continue; }
    const kv = /^(\w+)\s*=\s*(\S+)/.exec(line);
    if (peer && kv && kv[1].toLowerCase() === 'publickey' && !peer.key) peer.key = kv[2];
  }
  close();
  return names;
}

// ---------------------------------------------------------------------------------------------
// Deltas

interface PeerState { rx: number; tx: number; firstSeen: number; lastSeen: number }
export interface WgDeltaState { version: 1; lastSnapshot: number | null; peers: Record<string, PeerState> }

export interface WgDelta {
  peer: WgPeer;
  /** Where its bytes begin: the previous sighting, the previous snapshot, or null (baseline). */
  since: number | null;
  kind: 'update' | 'reset' | 'new';
  bytesIn: number;
  bytesOut: number;
  firstSeen: number;
}

/** A peer unseen this long is forgotten (its next sighting is new). */
const FORGET_MS = 30 * 86_400_000;

/**
 * Per-peer deltas across snapshots. Counters that went down mean the interface restarted (or
 * the peer was removed and added back): all of the new counters are new, since the previous
 * sighting. A peer first seen in the very first snapshot is the baseline (its counters could
 * cover weeks); first seen later, it was added after the previous snapshot.
 */
export class WgDeltas {
  private state: WgDeltaState;
  constructor(state?: WgDeltaState) { this.state = state ? structuredClone(state) : { version: 1, lastSnapshot: null, peers: {} }; }

  static fromJSON(state: WgDeltaState): WgDeltas {
    if (state?.version !== 1 || typeof state.peers !== 'object' || state.peers === null) throw new InputError('stored WireGuard state is not a version 1 delta state');
    return new WgDeltas(state);
  }

  toJSON(): WgDeltaState { return structuredClone(this.state); }

  ingest(ts: number, peers: WgPeer[]): { deltas: WgDelta[]; stale: WgPeer[] } {
    const st = this.state;
    const prevLast = st.lastSnapshot;
    const deltas: WgDelta[] = [];
    const stale: WgPeer[] = [];
    for (const p of peers) {
      const key = `${p.iface}|${p.publicKey}`;
      const prev = st.peers[key];
      if (prev && ts < prev.lastSeen) { stale.push(p); continue; }
      let d: WgDelta;
      if (prev && p.rx >= prev.rx && p.tx >= prev.tx) d = { peer: p, since: prev.lastSeen, kind: 'update', bytesIn: p.rx - prev.rx, bytesOut: p.tx - prev.tx, firstSeen: prev.firstSeen };
      else if (prev) d = { peer: p, since: prev.lastSeen, kind: 'reset', bytesIn: p.rx, bytesOut: p.tx, firstSeen: prev.firstSeen };
      else d = { peer: p, since: prevLast !== null ? Math.min(prevLast, ts) : null, kind: 'new', bytesIn: p.rx, bytesOut: p.tx, firstSeen: ts };
      st.peers[key] = { rx: p.rx, tx: p.tx, firstSeen: d.firstSeen, lastSeen: ts };
      deltas.push(d);
    }
    const newest = Math.max(ts, prevLast ?? ts);
    for (const [k, p] of Object.entries(st.peers)) if (newest - p.lastSeen > FORGET_MS) delete st.peers[k];
    st.lastSnapshot = newest;
    return { deltas, stale };
  }
}

/** Host routes among a peer's allowed IPs: the addresses its tunnel traffic comes from. */
export function hostAddresses(allowed: string[]): string[] {
  const out: string[] = [];
  for (const a of allowed) {
    const [ip, bits] = a.split('/');
    const v = normalizeIp(ip);
    if (v === null) continue;
    if (bits === undefined || (v.includes(':') ? bits === '128' : bits === '32')) out.push(v);
  }
  return out;
}

/** A peer's leases at `ts`: its host addresses, held by its name (else its public key), from its real endpoint. */
export function peerLeases(p: WgPeer, names: ReadonlyMap<string, string>, firstTs: number, ts: number): LeaseInput[] {
  if (p.endpointIp === null) return [];
  const account = names.get(p.publicKey) ?? p.publicKey;
  return hostAddresses(p.allowedIps).map((vip) => ({ account, realIp: p.endpointIp!, realPort: p.endpointPort, vip, firstTs: Math.min(firstTs, ts), lastTs: ts, source: 'wireguard' }));
}

// ---------------------------------------------------------------------------------------------
// Snapshots (ingest's counter handlers call these)

/** One engine state for dumps and configurations: the deltas, and the peers' names the configurations gave. */
export const WIREGUARD_STATE_KEY = 'snapshot-deltas:wireguard';

interface WgState { version: 1; deltas: WgDeltaState | null; names: Record<string, string> }

function readState(prev: string | null, warnings: string[]): WgState {
  if (prev === null) return { version: 1, deltas: null, names: {} };
  try {
    const s = JSON.parse(prev) as WgState;
    if (s?.version === 1 && typeof s.names === 'object' && s.names !== null) return s;
    throw new InputError('stored WireGuard state is not a version 1 state');
  } catch (err) {
    warnings.push(`${(err as Error).message}: started afresh`);
    return { version: 1, deltas: null, names: {} };
  }
}

const empty = (ts: number, error?: string): SnapshotResult => ({ ts, flows: [], leases: [], ifaceTotals: [], state: null, warnings: [], unparsed: [], unparsedCount: 0, entries: 0, error });

/**
 * One `wg show all dump` (or `wg show wg0 dump`, its interface taken from the file name),
 * taken at `fileTime` (a dump has no time of its own): per-peer deltas as flow records of
 * source `wireguard` (rip/rport = the peer's endpoint, lport = the interface's listen port,
 * proto 17; the counters are the tunnel's payload), and each peer's host addresses as leases.
 */
export function wireguardDumpSnapshot(text: string, prevState: string | null, o: { fileTime: number; name: string; port?: number }): SnapshotResult {
  const iface = /^(wg[\w-]*)/.exec(o.name)?.[1] ?? 'wg0';
  const dump = parseWgDump(text, iface);
  if (!dump.peers.length && !dump.ports.size) return empty(o.fileTime, 'not a `wg show all dump`: no interface or peer line');
  const warnings: string[] = [];
  const st = readState(prevState, warnings);
  let engine = new WgDeltas();
  if (st.deltas) {
    try { engine = WgDeltas.fromJSON(st.deltas); } catch (err) { warnings.push(`${(err as Error).message}: started afresh`); }
  }
  const ts = o.fileTime;
  const { deltas, stale } = engine.ingest(ts, dump.peers);
  if (stale.length) warnings.push(`${stale.length} peer(s) were already seen in a later dump: their counters here were not used`);
  const names = new Map(Object.entries(st.names));
  const flows: FlowRecord[] = [];
  const leases: LeaseInput[] = [];
  let baseline = 0, baselineBytes = 0;
  for (const d of deltas) {
    const p = d.peer;
    if ((d.bytesIn || d.bytesOut) && p.endpointIp !== null) {
      if (d.since === null) { baseline++; baselineBytes += d.bytesIn + d.bytesOut; }
      else {
        const lport = o.port ?? dump.ports.get(p.iface) ?? 51820;
        for (const { minute, values } of spreadOver(d.since, ts, [d.bytesIn, d.bytesOut])) {
          flows.push({ minute, iface: '', proto: 17, lip: '', lport, rip: p.endpointIp, rport: p.endpointPort ?? 0, service: 'wireguard', bytesIn: values[0], bytesOut: values[1], packetsIn: 0, packetsOut: 0 });
        }
      }
    }
    leases.push(...peerLeases(p, names, Math.min(d.firstSeen, d.since ?? ts), ts));
  }
  if (baseline) warnings.push(`first dump: ${baseline} peer(s) with ${baselineBytes.toLocaleString('en-US')} bytes so far taken as the baseline, not counted`);
  const state: WgState = { version: 1, deltas: engine.toJSON(), names: st.names };
  return { ts, flows, leases, ifaceTotals: [], state: JSON.stringify(state), warnings, unparsed: dump.unparsed, unparsedCount: dump.unparsed.length, entries: dump.peers.length };
}

/** A configuration: its peers' names join the state, for the dumps read after it. */
export function wireguardConfigSnapshot(text: string, prevState: string | null, o: { fileTime: number }): SnapshotResult {
  const found = wireguardPeerNames(text);
  const warnings: string[] = [];
  const st = readState(prevState, warnings);
  const state: WgState = { ...st, names: { ...st.names, ...Object.fromEntries(found) } };
  if (!found.size) warnings.push('no peer names in this WireGuard configuration: its peers stay their public keys');
  return { ...empty(o.fileTime), state: JSON.stringify(state), warnings, entries: found.size };
}
