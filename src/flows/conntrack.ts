/**
 * Connection-tracking tables as flow input: `conntrack -L -o extended` (with `,id` and
 * `,ktimestamp`) and /proc/net/nf_conntrack, parsed into entries, and a pure delta engine that
 * turns successive snapshots into bytes per connection since the previous snapshot, seen from
 * the server. Pure: no clock, no zone, no I/O; the snapshot time and the zone come in.
 *
 * Both texts come from the same printers (libnetfilter_conntrack's snprintf_default.c and the
 * kernel's ct_seq_show):
 *
 *   ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.5 dst=192.0.2.10 sport=51234 dport=993
 *   packets=120 bytes=9800 src=192.0.2.10 dst=203.0.113.5 sport=993 dport=51234 packets=200
 *   bytes=2400000 [ASSURED] mark=0 zone=0 use=2
 *
 * `<l3name> <l3num>` only with `-o extended` (and always in /proc); the timeout is left out for
 * offloaded flows; the state only for TCP, SCTP and DCCP; packets/bytes only with
 * net.netfilter.nf_conntrack_acct=1; `[UNREPLIED]` sits between the two tuples and
 * `[ASSURED]`/`[OFFLOAD]`/`[HW_OFFLOAD]` after the reply; then `mark= secmark= secctx= zone=
 * delta-time= [start=<ctime>] [stop=<ctime>] helper= use= id= labels=`, each only when known.
 * ICMP tuples carry `type= code= id=` instead of ports, so an `id=` right after `code=` is the
 * ICMP id, and the conntrack id is the one after `use=`.
 */
import { InputError } from '../errors.js';
import { timestampProblem } from '../parsers/check.js';
import { normalizeIp } from '../parsers/common.js';
import { monthNumber, zonedToUtc } from '../time.js';

export interface ConntrackTuple {
  /** Normalised (parsers/common.ts normalizeIp). */
  src: string;
  dst: string;
  /** null for protocols without ports (ICMP, GRE, ...). */
  sport: number | null;
  dport: number | null;
  /** null when accounting is off (nf_conntrack_acct=0). */
  packets: number | null;
  bytes: number | null;
}

export interface ConntrackEntry {
  family: 4 | 6;
  /** `tcp`, `udp`, `icmp`, `icmpv6`, `sctp`, `gre`, ... or `unknown`. */
  proto: string;
  protoNum: number;
  /** Seconds until the entry expires; null for offloaded flows. */
  timeout: number | null;
  /** TCP/SCTP/DCCP state, e.g. `ESTABLISHED`; null for UDP, ICMP, ... */
  state: string | null;
  orig: ConntrackTuple;
  reply: ConntrackTuple;
  assured: boolean;
  unreplied: boolean;
  mark: number | null;
  zone: number | null;
  /** The conntrack id (`-o id`); null when not printed. */
  id: number | null;
  /**
   * When the kernel created the entry, UTC ms: from `[start=...]` (`-o ktimestamp`, read in
   * `opts.tz`), else from `delta-time=` and `opts.now`; null when the kernel keeps no timestamps
   * (net.netfilter.nf_conntrack_timestamp=0).
   */
  start: number | null;
  /** Seconds since the entry was created (`delta-time=`), as printed. */
  deltaTime: number | null;
  /** ICMP/ICMPv6 type, code and id of the original direction; null for other protocols. */
  icmp: { type: number; code: number; id: number } | null;
}

export interface ConntrackParseOptions {
  /** Zone in which `[start=Fri Nov 20 09:20:02 2026]` (ctime, local time) is read. Default `UTC`. */
  tz?: string;
  /** When the table was read (UTC ms): turns `delta-time=` into a start time when `[start=]` is absent. */
  now?: number;
}

const L3 = new Map([['ipv4', 4], ['ipv6', 6]]);
const CTIME = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$/;

function uint(s: string | undefined): number | null {
  if (s === undefined || !/^\d{1,19}$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

interface RawTuple { src?: string; dst?: string; sport?: string; dport?: string; packets?: string; bytes?: string; type?: string; code?: string; id?: string }

/**
 * One line of a conntrack listing. null for a blank line; `{ error }` for anything else that
 * is not an entry (including conntrack's own `N flow entries have been shown.` trailer, which
 * parseConntrackSnapshot skips before calling this).
 */
export function parseConntrackLine(line: string, opts: ConntrackParseOptions = {}): ConntrackEntry | { error: string } | null {
  const text = line.trim();
  if (text === '') return null;
  const tok = text.split(/\s+/);
  let i = 0;
  // `conntrack -E -o timestamp` puts `[1732094402.123456]` in front, event mode `[NEW]` etc.
  if (/^\[\d+\.\d+\]$/.test(tok[i])) i++;
  if (tok[i] === '[NEW]' || tok[i] === '[UPDATE]' || tok[i] === '[DESTROY]') i++;
  let family: 4 | 6 | null = null;
  const l3 = L3.get(tok[i]);
  if (l3 !== undefined) {
    family = l3 as 4 | 6;
    if (uint(tok[i + 1]) === null) return { error: 'layer-3 name without its number' };
    i += 2;
  }
  const proto = tok[i];
  const protoNum = uint(tok[i + 1]);
  if (proto === undefined || !/^[a-z][a-z0-9]*$/.test(proto) || protoNum === null || protoNum > 255) {
    return { error: 'no protocol name and number at the start of the entry' };
  }
  i += 2;
  let timeout: number | null = null;
  if (uint(tok[i]) !== null) timeout = uint(tok[i++]);
  let state: string | null = null;
  if (tok[i] !== undefined && /^[A-Z][A-Z_]+$/.test(tok[i])) state = tok[i++];

  const tuples: RawTuple[] = [{}, {}];
  let dir = 0;
  let assured = false, unreplied = false;
  let mark: number | null = null, zone: number | null = null, id: number | null = null, deltaTime: number | null = null;
  let start: number | null = null;
  let prevKey = '';
  for (; i < tok.length; i++) {
    const t = tok[i];
    if (t.charCodeAt(0) === 91 /* [ */) {
      if (t === '[ASSURED]' || t === '[OFFLOAD]' || t === '[HW_OFFLOAD]') assured = true;
      else if (t === '[UNREPLIED]') unreplied = true;
      else if (t.startsWith('[start=') || t.startsWith('[stop=')) {
        // `[start=Fri Nov 20 09:20:02 2026]` spans five tokens.
        let j = i;
        while (j < tok.length && !tok[j].endsWith(']')) j++;
        const whole = tok.slice(i, j + 1).join(' ');
        i = j;
        if (whole.startsWith('[start=')) {
          const m = CTIME.exec(whole.slice(7, -1));
          const mo = m ? monthNumber(m[1]) : 0;
          if (!m || !mo) return { error: `start time not understood: ${whole.slice(0, 40)}` };
          start = zonedToUtc(opts.tz ?? 'UTC', +m[6], mo, +m[2], +m[3], +m[4], +m[5]);
        }
      }
      prevKey = '';
      continue;
    }
    const eq = t.indexOf('=');
    if (eq <= 0) { prevKey = ''; continue; }
    const key = t.slice(0, eq), val = t.slice(eq + 1);
    switch (key) {
      case 'src':
        // The second src= opens the reply tuple.
        if (tuples[dir].src !== undefined) {
          if (dir === 1) return { error: 'more than two tuples' };
          dir = 1;
        }
        tuples[dir].src = val;
        break;
      case 'dst': case 'sport': case 'dport': case 'packets': case 'bytes': case 'type': case 'code':
        tuples[dir][key] = val;
        break;
      case 'id':
        if (prevKey === 'code') tuples[dir].id = val;
        else id = uint(val);
        break;
      case 'mark': mark = uint(val); break;
      case 'zone': zone = uint(val); break;
      case 'delta-time': deltaTime = uint(val); break;
      default: break; // use=, secmark=, secctx=, helper=, labels=, zone-orig=, portid=, ...
    }
    prevKey = key;
  }
  if (dir !== 1) return { error: 'entry without a reply tuple' };
  const orig = tupleOf(tuples[0]), reply = tupleOf(tuples[1]);
  if ('error' in orig) return { error: `original tuple: ${orig.error}` };
  if ('error' in reply) return { error: `reply tuple: ${reply.error}` };
  const fam: 4 | 6 = orig.src.indexOf(':') >= 0 ? 6 : 4;
  if (family !== null && family !== fam) return { error: `ipv${family} entry with ipv${fam} addresses` };
  if (start === null && deltaTime !== null && opts.now !== undefined) start = opts.now - deltaTime * 1000;
  if (start !== null && opts.now !== undefined) {
    // A start no listing taken now can carry (see parsers/check.ts) is the entry's failure.
    const why = timestampProblem(start, opts.now);
    if (why !== null) return { error: `connection start: ${why}` };
  }
  const t0 = tuples[0];
  const icmp = t0.type !== undefined && t0.code !== undefined && t0.id !== undefined &&
    uint(t0.type) !== null && uint(t0.code) !== null && uint(t0.id) !== null
    ? { type: uint(t0.type)!, code: uint(t0.code)!, id: uint(t0.id)! }
    : null;
  return {
    family: fam, proto, protoNum, timeout, state, orig, reply, assured, unreplied, mark, zone, id, start, deltaTime, icmp,
  };
}

function tupleOf(r: RawTuple): ConntrackTuple | { error: string } {
  const src = normalizeIp(r.src), dst = normalizeIp(r.dst);
  if (src === null || dst === null) return { error: 'src= or dst= is not an IP address' };
  const sport = r.sport === undefined ? null : uint(r.sport);
  const dport = r.dport === undefined ? null : uint(r.dport);
  if ((r.sport !== undefined && (sport === null || sport > 65535)) || (r.dport !== undefined && (dport === null || dport > 65535))) {
    return { error: 'sport= or dport= is not a port' };
  }
  const packets = r.packets === undefined ? null : uint(r.packets);
  const bytes = r.bytes === undefined ? null : uint(r.bytes);
  if ((r.packets !== undefined && packets === null) || (r.bytes !== undefined && bytes === null)) {
    return { error: 'packets= or bytes= is not a counter' };
  }
  return { src, dst, sport, dport, packets, bytes };
}

export interface ConntrackSnapshot {
  entries: ConntrackEntry[];
  /** Lines that were neither blank, nor conntrack's trailer, nor an entry. */
  errors: number;
  /** The first few of them, with their 1-based line numbers. */
  errorSamples: Array<{ line: number; error: string }>;
}

/** `conntrack v1.4.7 (conntrack-tools): 3 flow entries have been shown.` (stderr, often captured with 2>&1) */
export const CONNTRACK_TRAILER = /^conntrack v[\d.]+ \(conntrack-tools\): \d+ flow entr(?:y has|ies have) been shown\.$/;

/** A whole listing: one entry per line. */
export function parseConntrackSnapshot(text: string, opts: ConntrackParseOptions = {}): ConntrackSnapshot {
  const entries: ConntrackEntry[] = [];
  const errorSamples: Array<{ line: number; error: string }> = [];
  let errors = 0;
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n];
    if (CONNTRACK_TRAILER.test(line.trim())) continue;
    const r = parseConntrackLine(line, opts);
    if (r === null) continue;
    if ('error' in r) {
      errors++;
      if (errorSamples.length < 20) errorSamples.push({ line: n + 1, error: r.error });
    } else entries.push(r);
  }
  return { entries, errors, errorSamples };
}

// ---------------------------------------------------------------------------------------------
// Deltas between snapshots

/** Bytes and packets of one connection since the previous snapshot, seen from the server. */
export interface ConntrackDelta {
  /** The connection's key in the engine's state (see keyOf). */
  key: string;
  /** The snapshot time this delta ends at (UTC ms). */
  ts: number;
  /**
   * Where it starts: the previous snapshot that saw this connection; for a connection seen
   * for the first time, its start when the kernel keeps timestamps, else null (the counters
   * cover the whole connection up to `ts`).
   */
  since: number | null;
  /**
   * `new`: first sighting, the counters so far. `update`: growth since the last sighting.
   * `reset`: the key was known but this is another connection (the counters went down or the
   * start time changed), counted from zero.
   */
  kind: 'new' | 'update' | 'reset';
  family: 4 | 6;
  proto: string;
  /**
   * `in`: opened towards the server; `out`: opened by the server; `fwd`: passing through
   * (routed or NATed, e.g. a VPN client's traffic), described in its original direction.
   */
  direction: 'in' | 'out' | 'fwd';
  /** The reply tuple is not the mirror of the original: the kernel rewrote an address or port. */
  nat: boolean;
  rip: string;
  rport: number | null;
  lip: string;
  lport: number | null;
  /** Received by the server (for `fwd`: sent by the originator); null when accounting is off. */
  bytesIn: number | null;
  bytesOut: number | null;
  packetsIn: number | null;
  packetsOut: number | null;
  /** ICMP id for ICMP entries, so that pings can be told apart. */
  icmpId: number | null;
}

/** What the engine remembers of one connection. Plain data, so it can be stored as JSON. */
export interface ConntrackConnState {
  start: number | null;
  origPackets: number | null;
  origBytes: number | null;
  replyPackets: number | null;
  replyBytes: number | null;
  /** Snapshot times (UTC ms) of the first and the latest sighting. */
  firstSeen: number;
  lastSeen: number;
}

export interface ConntrackState {
  version: 1;
  /** Time of the latest snapshot ingested, UTC ms. */
  lastSnapshot: number | null;
  conns: Record<string, ConntrackConnState>;
  /**
   * The server's addresses as inferred from earlier listings (when none were given): a listing
   * of one or two entries cannot tell which end is the server, the history can.
   */
  inferredLocal?: string[];
}

export interface ConntrackDeltaOptions {
  /**
   * How long a connection missing from the snapshots is remembered (default 15 minutes). A
   * listing taken while the table changes can miss entries; one that comes back within this
   * time with the same start and no smaller counters is the same connection, and only its
   * growth is counted.
   */
  forgetAfterMs?: number;
  /** Two start times closer than this are the same (default 2 s: delta-time= is whole seconds). */
  startToleranceMs?: number;
}

/**
 * The key of a connection: the conntrack id when printed (`-o id`), else the protocol, zone and
 * original 4-tuple (ICMP: type, code and id). The start time is not part of the key but is
 * compared on every sighting, so a new connection on an old tuple is still told apart.
 */
export function keyOf(e: ConntrackEntry): string {
  if (e.id !== null) return `id:${e.id}`;
  const o = e.orig;
  const ports = e.icmp ? `${e.icmp.type}/${e.icmp.code}/${e.icmp.id}` : `${o.sport ?? ''}|${o.dport ?? ''}`;
  return `${e.protoNum}|${e.zone ?? 0}|${o.src}|${o.dst}|${ports}`;
}

const sub = (a: number | null, b: number | null) => (a === null ? null : a - (b ?? 0));

export class ConntrackDeltas {
  private readonly local: Set<string>;
  private readonly forgetAfterMs: number;
  private readonly startToleranceMs: number;
  private state: ConntrackState;

  constructor(localIps: Set<string>, opts: ConntrackDeltaOptions = {}, state?: ConntrackState) {
    this.local = new Set([...localIps].map((ip) => normalizeIp(ip) ?? ip));
    this.forgetAfterMs = opts.forgetAfterMs ?? 15 * 60_000;
    this.startToleranceMs = opts.startToleranceMs ?? 2_000;
    this.state = state ? structuredClone(state) : { version: 1, lastSnapshot: null, conns: {} };
  }

  /**
   * Take one snapshot (the table as read at `snapshotTime`, UTC ms) and return what each
   * connection moved since it was last seen. Connections without traffic since then give
   * nothing. Snapshots must come in time order; an older one is refused with an InputError.
   * Ingesting the same snapshot twice adds nothing the second time.
   */
  ingest(snapshotTime: number, entries: ConntrackEntry[]): ConntrackDelta[] {
    const st = this.state;
    if (st.lastSnapshot !== null && snapshotTime < st.lastSnapshot) {
      throw new InputError(`conntrack snapshot at ${new Date(snapshotTime).toISOString()} is older than the last one ingested`, {
        hint: 'feed snapshots in the order they were taken',
      });
    }
    const out: ConntrackDelta[] = [];
    for (const e of entries) {
      const key = keyOf(e);
      const prev = st.conns[key];
      const cur: ConntrackConnState = {
        start: e.start,
        origPackets: e.orig.packets, origBytes: e.orig.bytes, replyPackets: e.reply.packets, replyBytes: e.reply.bytes,
        firstSeen: snapshotTime, lastSeen: snapshotTime,
      };
      let kind: ConntrackDelta['kind'];
      let since: number | null;
      let dOrigB: number | null, dReplyB: number | null, dOrigP: number | null, dReplyP: number | null;
      if (prev === undefined) {
        kind = 'new';
        since = e.start;
        dOrigB = cur.origBytes; dReplyB = cur.replyBytes; dOrigP = cur.origPackets; dReplyP = cur.replyPackets;
      } else if (this.sameConnection(prev, cur)) {
        kind = 'update';
        since = prev.lastSeen;
        cur.firstSeen = prev.firstSeen;
        if (cur.start === null) cur.start = prev.start;
        dOrigB = sub(cur.origBytes, prev.origBytes); dReplyB = sub(cur.replyBytes, prev.replyBytes);
        dOrigP = sub(cur.origPackets, prev.origPackets); dReplyP = sub(cur.replyPackets, prev.replyPackets);
      } else {
        kind = 'reset';
        since = e.start ?? prev.lastSeen;
        dOrigB = cur.origBytes; dReplyB = cur.replyBytes; dOrigP = cur.origPackets; dReplyP = cur.replyPackets;
      }
      st.conns[key] = cur;
      const accounted = dOrigB !== null && dReplyB !== null;
      // Nothing moved: no row. Without accounting only the first sighting is reported, so that
      // the connection's existence is known.
      if (accounted ? dOrigB === 0 && dReplyB === 0 && kind === 'update' : kind === 'update') continue;
      out.push(this.delta(e, key, snapshotTime, since, kind, dOrigB, dReplyB, dOrigP, dReplyP));
    }
    for (const [key, c] of Object.entries(st.conns)) {
      if (snapshotTime - c.lastSeen > this.forgetAfterMs) delete st.conns[key];
    }
    st.lastSnapshot = snapshotTime;
    return out;
  }

  /** The same connection as last time: start times agree (when both known) and no counter went down. */
  private sameConnection(prev: ConntrackConnState, cur: ConntrackConnState): boolean {
    if (prev.start !== null && cur.start !== null && Math.abs(prev.start - cur.start) > this.startToleranceMs) return false;
    const pairs: Array<[number | null, number | null]> = [
      [prev.origBytes, cur.origBytes], [prev.replyBytes, cur.replyBytes],
      [prev.origPackets, cur.origPackets], [prev.replyPackets, cur.replyPackets],
    ];
    for (const [p, c] of pairs) if (p !== null && c !== null && c < p) return false;
    return true;
  }

  private delta(
    e: ConntrackEntry, key: string, ts: number, since: number | null, kind: ConntrackDelta['kind'],
    dOrigB: number | null, dReplyB: number | null, dOrigP: number | null, dReplyP: number | null,
  ): ConntrackDelta {
    const o = e.orig, r = e.reply;
    const nat = !(r.src === o.dst && r.dst === o.src && r.sport === o.dport && r.dport === o.sport);
    const base = { key, ts, since, kind, family: e.family, proto: e.proto, nat, icmpId: e.icmp?.id ?? null };
    // Opened by the server: it sent the original direction.
    if (this.local.has(o.src) && !this.local.has(o.dst)) {
      return { ...base, direction: 'out', rip: o.dst, rport: o.dport, lip: o.src, lport: o.sport,
        bytesIn: dReplyB, bytesOut: dOrigB, packetsIn: dReplyP, packetsOut: dOrigP };
    }
    // Opened towards the server, on its address or DNATed to it (then the reply comes from it).
    const dnatToUs = !this.local.has(o.dst) && this.local.has(r.src);
    if (this.local.has(o.dst) || dnatToUs) {
      return { ...base, direction: 'in', rip: o.src, rport: o.sport, lip: dnatToUs ? r.src : o.dst, lport: dnatToUs ? r.sport : o.dport,
        bytesIn: dOrigB, bytesOut: dReplyB, packetsIn: dOrigP, packetsOut: dReplyP };
    }
    // Passing through (a VPN client's traffic, masqueraded or routed): the originator is the remote end.
    return { ...base, direction: 'fwd', rip: o.src, rport: o.sport, lip: o.dst, lport: o.dport,
      bytesIn: dOrigB, bytesOut: dReplyB, packetsIn: dOrigP, packetsOut: dReplyP };
  }

  /** The engine's memory as plain data (JSON-safe), for the store to keep between runs. */
  toJSON(): ConntrackState {
    return structuredClone(this.state);
  }

  static fromJSON(state: ConntrackState, localIps: Set<string>, opts: ConntrackDeltaOptions = {}): ConntrackDeltas {
    if (state?.version !== 1 || typeof state.conns !== 'object' || state.conns === null) {
      throw new InputError('stored conntrack state is not a version 1 delta state', { hint: 'drop the stored state to start afresh' });
    }
    return new ConntrackDeltas(localIps, opts, state);
  }
}
