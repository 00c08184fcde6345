/**
 * Incident scenarios: realistic logs plus the capture of the same traffic (or the conntrack
 * listings of it: conntrack-table.ts), written to a directory. Used by the end-to-end tests, the bundled demo and the benchmark. Frames are
 * cut at a 96-byte snaplen, as admins capture, and carry their full original length, so a
 * gigabyte costs kilobytes. Large segments stand for the TSO/GRO super-frames a capture on
 * the server itself records. Documentation address ranges only.
 */
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PcapngWriter, PcapWriter } from '../flows/pcap-write.js';
import { rng } from '../bench/generate.js';
import { ConntrackTable, type TrackedConnection } from './conntrack-table.js';

export const SERVER = '192.0.2.10';
export const TUN_SERVER = '198.51.100.1';
const SNAP = 96;
const LINKTYPE_ETHERNET = 1;
const LINKTYPE_RAW = 101;

/** `tx`: sent by the server (for the interface counters a vnstat export shows). */
interface Frame { ts: number; iface: number; data: Uint8Array; orig: number; tx: boolean }

/** What the writer can be asked to write: the evidence an admin has after an alarm. */
export type EvidenceMode = 'capture' | 'listing' | 'listing-ts' | 'logs';
export const EVIDENCE_MODES: readonly EvidenceMode[] = ['capture', 'listing', 'listing-ts', 'logs'];

/** Wire bytes (frames on eth0, from the server's view) of one owner, per minute. */
export interface TruthBytes { bytesIn: number; bytesOut: number }

/** An OpenVPN client as the server's status file would list it. */
interface VpnClient { cn: string; rip: string; rport: number; vip: string; since: number; end: number | null; pkts: Array<{ t: number; fromClient: boolean; len: number }> }

function ip4(s: string): number[] {
  return s.split('.').map(Number);
}

function csum(b: Uint8Array, off: number, len: number): number {
  let acc = 0;
  for (let i = 0; i < len; i += 2) acc += (b[off + i] << 8) | b[off + i + 1];
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

/**
 * An IPv4 TCP or UDP frame whose IP total length is `ipLen`, cut to the snaplen. With `eth`
 * false it is a raw IP frame (tun0). Checksums of the L4 header are left zero (not checked
 * by tcpdump or tshark by default); the IPv4 header checksum is right.
 */
function frame4(src: string, dst: string, proto: 6 | 17, sport: number, dport: number, ipLen: number, flags: number, eth: boolean): { data: Uint8Array; orig: number } {
  const l2 = eth ? 14 : 0;
  const orig = l2 + ipLen;
  const data = new Uint8Array(Math.min(orig, SNAP));
  const full = new Uint8Array(Math.max(l2 + 40, data.length));
  if (eth) {
    full.set([2, 0, 0x5e, 0, 0x53, 2, 2, 0, 0x5e, 0, 0x53, 1], 0);
    full[12] = 0x08; full[13] = 0x00;
  }
  const o = l2;
  full[o] = 0x45;
  full[o + 2] = ipLen >> 8; full[o + 3] = ipLen & 0xff;
  full[o + 6] = 0x40; // DF
  full[o + 8] = 64;
  full[o + 9] = proto;
  full.set(ip4(src), o + 12);
  full.set(ip4(dst), o + 16);
  const c = csum(full, o, 20);
  full[o + 10] = c >> 8; full[o + 11] = c & 0xff;
  const t = o + 20;
  full[t] = sport >> 8; full[t + 1] = sport & 0xff; full[t + 2] = dport >> 8; full[t + 3] = dport & 0xff;
  if (proto === 6) { full[t + 12] = 0x50; full[t + 13] = flags; full[t + 14] = 0xff; full[t + 15] = 0xff; }
  else { const ul = ipLen - 20; full[t + 4] = ul >> 8; full[t + 5] = ul & 0xff; }
  data.set(full.subarray(0, data.length));
  return { data, orig };
}

const SYN = 2, ACK = 16, PSH = 8, FIN = 1;

function originates(c: TrackedConnection, ip: string, port: number): boolean {
  return c.src === ip && c.sport === port;
}

export class ScenarioWriter {
  readonly mail: Array<[number, string]> = [];
  readonly kern: Array<[number, string]> = [];
  readonly named: Array<[number, string]> = [];
  readonly openvpn: Array<[number, string]> = [];
  readonly frames: Frame[] = [];
  /** The truth the tests measure bytetrail against: eth0 wire bytes per owner and minute. */
  private readonly truthByOwner = new Map<string, Map<number, TruthBytes>>();
  private readonly vpnClients: VpnClient[] = [];
  private readonly r: () => number;
  private pid = 20000;
  /** Interfaces of the capture: 0 = eth0 (Ethernet); 1 = tun0 (raw IP) when used. */
  usesTun = false;
  /** Every connection is also tracked here, for conntrack listings (see write). */
  conntrack: ConntrackTable = new ConntrackTable();
  constructor(seed = 1, readonly host = 'mx1') { this.r = rng(seed); }

  rand(): number { return this.r(); }
  nextPid(): number { return ++this.pid; }
  id(n = 12): string {
    const A = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
    let s = '';
    for (let i = 0; i < n; i++) s += A[Math.floor(this.r() * A.length)];
    return s;
  }
  qid(): string {
    const A = '0123456789ABCDEF';
    let s = '';
    for (let i = 0; i < 10; i++) s += A[Math.floor(this.r() * 16)];
    return s;
  }

  /** rsyslog's RFC 3339 format: `2026-11-20T09:20:02.123456+00:00 mx1 prog[pid]: msg`. */
  syslog(file: 'mail' | 'kern', t: number, prog: string, msg: string): void {
    const stamp = new Date(t).toISOString().replace('Z', '000+00:00');
    this[file].push([t, `${stamp} ${this.host} ${prog}: ${msg}`]);
  }

  bind(t: number, msg: string): void {
    const d = new Date(t);
    const M = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'][d.getUTCMonth()];
    const p = (n: number, w = 2) => String(n).padStart(w, '0');
    this.named.push([t, `${p(d.getUTCDate())}-${M}-${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)} ${msg}`]);
  }

  vpnLog(t: number, msg: string): void {
    this.openvpn.push([t, `${new Date(t).toISOString().slice(0, 19).replace('T', ' ')} ${msg}`]);
  }

  private push(t: number, iface: number, f: { data: Uint8Array; orig: number }, tx: boolean, owner?: string): void {
    this.frames.push({ ts: t, iface, data: f.data, orig: f.orig, tx });
    if (owner === undefined || iface !== 0) return;
    let m = this.truthByOwner.get(owner);
    if (!m) { m = new Map(); this.truthByOwner.set(owner, m); }
    const minute = Math.floor(t / 60_000) * 60_000;
    const v = m.get(minute) ?? { bytesIn: 0, bytesOut: 0 };
    if (tx) v.bytesOut += f.orig; else v.bytesIn += f.orig;
    m.set(minute, v);
  }

  /** The eth0 wire bytes of `owner` (an account, `account/service`, or a cause) with frames in [from, to). */
  truth(owner: string, from: number, to: number): TruthBytes {
    const out = { bytesIn: 0, bytesOut: 0 };
    for (const [minute, v] of this.truthByOwner.get(owner) ?? []) {
      if (minute >= from && minute < to) { out.bytesIn += v.bytesIn; out.bytesOut += v.bytesOut; }
    }
    return out;
  }

  /** Every owner the truth knows. */
  owners(): string[] {
    return [...this.truthByOwner.keys()];
  }

  /** eth0's bytes received and sent in [from, to): what the interface counters (vnstat) show. */
  interfaceBytes(from: number, to: number): { rx: number; tx: number } {
    let rx = 0, tx = 0;
    for (const f of this.frames) if (f.iface === 0 && f.ts >= from && f.ts < to) { if (f.tx) tx += f.orig; else rx += f.orig; }
    return { rx, tx };
  }

  /**
   * A TCP connection: handshake, `down` bytes from server to client and `up` bytes back in
   * segments of `seg` bytes, one ACK per segment, spread evenly over [t0, t1], then FIN.
   * `server` is the side that listens on `sport`. Returns the exact wire bytes written.
   * `snat`: for conntrack, the address the kernel masquerades the client to (a VPN client's
   * connection forwarded to the internet).
   */
  tcp(o: {
    t0: number; t1: number; client: string; cport: number; server: string; sport: number; down: number; up?: number; seg?: number; iface?: number; snat?: string;
    /** Whose traffic this is, for the truth (see truth()). */
    owner?: string;
    /** Not in the conntrack table (a copy of a connection already tracked, seen again after NAT). */
    untracked?: boolean;
    /** Still open at t1 (IMAP IDLE): no FIN, the conntrack entry stays ESTABLISHED. */
    open?: boolean;
  }): { toClient: number; toServer: number; packets: number } {
    const eth = (o.iface ?? 0) === 0;
    const iface = o.iface ?? 0;
    const seg = o.seg ?? 64000;
    const ct = o.untracked ? undefined : this.conntrack.open(6, o.client, o.cport, o.server, o.sport, o.snat);
    let toClient = 0, toServer = 0, packets = 0;
    const emit = (t: number, fromServer: boolean, ipLen: number, flags: number) => {
      const f = fromServer
        ? frame4(o.server, o.client, 6, o.sport, o.cport, ipLen, flags, eth)
        : frame4(o.client, o.server, 6, o.cport, o.sport, ipLen, flags, eth);
      // On eth0 the server is `server` or `client` (SERVER), or the NAT address of a forwarded connection.
      const tx = (fromServer ? o.server : o.client) === SERVER;
      this.push(t, iface, f, tx, o.owner);
      if (ct) ct.count(t, !originates(ct, fromServer ? o.server : o.client, fromServer ? o.sport : o.cport), ipLen);
      if (fromServer) toClient += f.orig; else toServer += f.orig;
      packets++;
    };
    emit(o.t0, false, 60, SYN);
    emit(o.t0 + 1, true, 60, SYN | ACK);
    emit(o.t0 + 2, false, 52, ACK);
    const nDown = Math.ceil(o.down / seg), nUp = Math.ceil((o.up ?? 0) / seg);
    const n = Math.max(1, nDown + nUp);
    const step = (o.t1 - o.t0 - 10) / n;
    let t = o.t0 + 3;
    let leftDown = o.down, leftUp = o.up ?? 0;
    for (let i = 0; i < n; i++) {
      const down = i % 2 === 0 ? leftDown > 0 : leftUp <= 0;
      if (down && leftDown > 0) {
        const len = Math.min(seg, leftDown); leftDown -= len;
        emit(t, true, 52 + len, ACK | PSH);
        emit(t + 0.5, false, 52, ACK);
      } else if (leftUp > 0) {
        const len = Math.min(seg, leftUp); leftUp -= len;
        emit(t, false, 52 + len, ACK | PSH);
        emit(t + 0.5, true, 52, ACK);
      }
      t += step;
    }
    while (leftDown > 0) { const len = Math.min(seg, leftDown); leftDown -= len; emit(t, true, 52 + len, ACK | PSH); emit(t + 0.5, false, 52, ACK); }
    while (leftUp > 0) { const len = Math.min(seg, leftUp); leftUp -= len; emit(t, false, 52 + len, ACK | PSH); emit(t + 0.5, true, 52, ACK); }
    if (o.open) return { toClient, toServer, packets };
    emit(o.t1 - 2, false, 52, FIN | ACK);
    emit(o.t1 - 1, true, 52, FIN | ACK);
    emit(o.t1, false, 52, ACK);
    if (ct) ct.finAt = o.t1 - 2;
    return { toClient, toServer, packets };
  }

  /** UDP datagrams between two ends; `fromA`/`fromB` are payload sizes per datagram, repeated over [t0, t1]. */
  udp(o: { t0: number; t1: number; a: string; aport: number; b: string; bport: number; count: number; fromA: number; fromB: number; iface?: number; owner?: string }): { fromA: number; fromB: number } {
    const eth = (o.iface ?? 0) === 0;
    const ct = this.conntrack.open(17, o.a, o.aport, o.b, o.bport);
    const aReplies = !originates(ct, o.a, o.aport);
    // OpenVPN's own counters (the status file) count the tunnel's UDP payload.
    const vpn = this.vpnClients.find((c) => (c.rip === o.b && c.rport === o.bport && o.aport === 1194) || (c.rip === o.a && c.rport === o.aport && o.bport === 1194));
    let sa = 0, sb = 0;
    const step = (o.t1 - o.t0) / Math.max(1, o.count);
    for (let i = 0; i < o.count; i++) {
      const t = o.t0 + i * step;
      if (o.fromA > 0) {
        const f = frame4(o.a, o.b, 17, o.aport, o.bport, 28 + o.fromA, 0, eth);
        this.push(t, o.iface ?? 0, f, o.a === SERVER, o.owner); sa += f.orig; ct.count(t, aReplies, 28 + o.fromA);
        vpn?.pkts.push({ t, fromClient: o.a === vpn.rip, len: o.fromA });
      }
      if (o.fromB > 0) {
        const f = frame4(o.b, o.a, 17, o.bport, o.aport, 28 + o.fromB, 0, eth);
        this.push(t + 1, o.iface ?? 0, f, o.b === SERVER, o.owner); sb += f.orig; ct.count(t + 1, !aReplies, 28 + o.fromB);
        vpn?.pkts.push({ t: t + 1, fromClient: o.b === vpn.rip, len: o.fromB });
      }
    }
    return { fromA: sa, fromB: sb };
  }

  /** A few inbound SYNs that get no answer (dropped by the firewall). */
  synProbe(t: number, src: string, dport: number, owner?: string): void {
    this.push(t, 0, frame4(src, SERVER, 6, 40000 + Math.floor(this.r() * 20000), dport, 60, SYN, true), false, owner);
  }

  // ---- log lines in each program's real format ----

  imapLogin(t: number, user: string, rip: string, service: 'imap' | 'pop3' = 'imap'): { pid: number; sid: string } {
    const pid = this.nextPid(), sid = this.id(16);
    this.syslog('mail', t, 'dovecot', `${service}-login: Login: user=<${user}>, method=PLAIN, rip=${rip}, lip=${SERVER}, mpid=${pid}, TLS, session=<${sid}>`);
    return { pid, sid };
  }

  imapLogout(t: number, user: string, s: { pid: number; sid: string }, inBytes: number, outBytes: number): void {
    this.syslog('mail', t, 'dovecot', `imap(${user})<${s.pid}><${s.sid}>: Logged out in=${inBytes} out=${outBytes} deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0`);
  }

  authFail(t: number, user: string, rip: string): void {
    this.syslog('mail', t, 'dovecot', `auth: passwd-file(${user},${rip}): Password mismatch`);
    this.syslog('mail', t + 500, 'dovecot', `imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<${user}>, method=PLAIN, rip=${rip}, lip=${SERVER}, TLS, session=<${this.id(16)}>`);
  }

  /** A message submitted with SASL and relayed to a remote MTA; returns its queue id. */
  submit(t: number, user: string, cip: string, o: { size: number; rcpts: string[]; relays: Array<[ip: string, host: string]>; status?: string; port?: 587 | 465 }): string {
    const q = this.qid(), p = this.nextPid();
    const inst = o.port === 465 ? 'postfix/smtps/smtpd' : 'postfix/submission/smtpd';
    this.syslog('mail', t, `${inst}[${p}]`, `connect from unknown[${cip}]`);
    this.syslog('mail', t + 200, `${inst}[${p}]`, `${q}: client=unknown[${cip}], sasl_method=PLAIN, sasl_username=${user}`);
    this.syslog('mail', t + 300, `postfix/cleanup[${p + 1}]`, `${q}: message-id=<${q}.${p}@example.com>`);
    this.syslog('mail', t + 350, 'rspamd[812]', `<${q.slice(0, 6).toLowerCase()}>; task; rspamd_task_write_log: id: <${q}.${p}@example.com>, qid: <${q}>, ip: ${cip}, user: ${user}, from: <${user}>, (default: F (no action): [2.10/15.00] [MIME_GOOD(-0.10){text/plain;}]), len: ${o.size}, time: 95.2ms, dns req: 14, digest: <0123456789abcdef0123456789abcdef>, rcpts: <${o.rcpts[0]}>, mime_rcpts: <${o.rcpts[0]}>`);
    this.syslog('mail', t + 400, 'postfix/qmgr[900]', `${q}: from=<${user}>, size=${o.size}, nrcpt=${o.rcpts.length} (queue active)`);
    this.syslog('mail', t + 500, `${inst}[${p}]`, `disconnect from unknown[${cip}] ehlo=1 auth=1 mail=1 rcpt=${o.rcpts.length} data=1 quit=1 commands=${5 + o.rcpts.length}`);
    const status = o.status ?? 'sent';
    const text = status === 'sent' ? '250 2.0.0 Ok: queued as 4XyZ1' : status === 'deferred' ? 'host said: 450 4.7.1 Service unavailable, try again later' : 'host said: 550 5.7.1 Message rejected as spam';
    const dsn = status === 'sent' ? '2.0.0' : status === 'deferred' ? '4.7.1' : '5.7.1';
    o.rcpts.forEach((rc, i) => {
      const [ip, host] = o.relays[i % o.relays.length];
      this.syslog('mail', t + 1500 + (i % o.relays.length) * 1500, `postfix/smtp[${p + 2}]`, `${q}: to=<${rc}>, relay=${host}[${ip}]:25, delay=1.2, delays=0.1/0.01/0.4/0.7, dsn=${dsn}, status=${status} (${text})`);
    });
    if (status !== 'deferred') this.syslog('mail', t + 1600, 'postfix/qmgr[900]', `${q}: removed`);
    return q;
  }

  vpnConnect(t: number, cn: string, rip: string, rport: number, vip: string): void {
    this.vpnClients.push({ cn, rip, rport, vip, since: t + 1000, end: null, pkts: [] });
    this.vpnLog(t, `${rip}:${rport} TLS: Initial packet from [AF_INET]${rip}:${rport}, sid=1a2b3c4d 5e6f7a8b`);
    this.vpnLog(t + 1000, `${cn}/${rip}:${rport} [${cn}] Peer Connection Initiated with [AF_INET]${rip}:${rport}`);
    this.vpnLog(t + 1100, `${cn}/${rip}:${rport} MULTI_sva: pool returned IPv4=${vip}, IPv6=(Not enabled)`);
    this.vpnLog(t + 1200, `${cn}/${rip}:${rport} MULTI: Learn: ${vip} -> ${cn}/${rip}:${rport}`);
  }

  vpnDisconnect(t: number, cn: string, rip: string, rport: number): void {
    const c = this.vpnClients.find((x) => x.cn === cn && x.rip === rip && x.rport === rport && x.end === null);
    if (c) c.end = t;
    this.vpnLog(t, `${cn}/${rip}:${rport} SIGTERM[soft,remote-exit] received, client-instance exiting`);
  }

  drop(t: number, src: string, dport: number, proto: 'TCP' | 'UDP' = 'TCP'): void {
    const up = ((t / 1000) % 100000 + 1000).toFixed(6);
    this.syslog('kern', t, 'kernel', `[${up.padStart(12)}] DROP-IN: IN=eth0 OUT= MAC=02:00:5e:00:53:01:02:00:5e:00:53:02:08:00 SRC=${src} DST=${SERVER} LEN=60 TOS=0x00 PREC=0x00 TTL=49 ID=${Math.floor(this.r() * 65535)} DF PROTO=${proto} SPT=${40000 + Math.floor(this.r() * 20000)} DPT=${dport} ${proto === 'TCP' ? 'WINDOW=64240 RES=0x00 SYN URGP=0' : 'LEN=40'}`);
  }

  dnsQuery(t: number, client: string, cport: number, qname: string, qtype: string, edns = true): void {
    this.bind(t, `queries: info: client @0x7f3a5c0a1b28 ${client}#${cport} (${qname}): query: ${qname} IN ${qtype} +${edns ? 'E(0)' : ''} (${SERVER})`);
  }

  /**
   * Write the logs, the capture unless `capture` is false, and, with `listings`, the conntrack
   * table (see `conntrack`) as listed at each of `times`: one file per listing, dated at its
   * time, which is when ingest takes a listing to have been taken. `vnstat`: also vnstat's
   * export of eth0 over [from, to) (five-minute and hourly entries, the frames' wire bytes).
   * `openvpnStatus`: the status file OpenVPN keeps on disk, as rewritten at that time. Returns
   * the paths, listings last and oldest first, the order they must be ingested in.
   */
  write(dir: string, o: {
    gzipCapture?: boolean; captureName?: string; capture?: boolean; listings?: { times: number[]; timestamps: boolean };
    vnstat?: { from: number; to: number }; openvpnStatus?: number;
  } = {}): { files: string[]; capture: string | null; listings: string[] } {
    mkdirSync(dir, { recursive: true });
    const files: string[] = [];
    const names: Record<'mail' | 'kern' | 'named' | 'openvpn', string> = { mail: 'mail.log', kern: 'kern.log', named: 'named-queries.log', openvpn: 'openvpn.log' };
    let last = 0;
    for (const k of ['mail', 'kern', 'named', 'openvpn'] as const) {
      const lines = this[k].sort((a, b) => a[0] - b[0]);
      if (!lines.length) continue;
      const p = join(dir, names[k]);
      writeFileSync(p, lines.map(([, l]) => l).join('\n') + '\n');
      last = Math.max(last, lines[lines.length - 1][0]);
      files.push(p);
    }
    const frames = this.frames.sort((a, b) => a.ts - b.ts);
    let capture: string | null = null;
    if (o.capture !== false) {
      capture = join(dir, (o.captureName ?? (this.usesTun ? 'capture.pcapng' : 'capture.pcap')) + (o.gzipCapture ? '.gz' : ''));
      const buf = this.captureBytes(frames);
      writeFileSync(capture, o.gzipCapture ? gzipSync(buf, { level: 9 }) : buf);
      files.push(capture);
      if (frames.length) last = Math.max(last, frames[frames.length - 1].ts);
    }
    // Files dated at their last line, as a server writes them: year-less stamps read right.
    const when = new Date(last + 1000);
    for (const f of files) utimesSync(f, when, when);
    if (o.vnstat) {
      const p = join(dir, 'vnstat.json');
      writeFileSync(p, this.vnstatJson(o.vnstat.from, o.vnstat.to));
      const d = new Date(o.vnstat.to);
      utimesSync(p, d, d);
      files.push(p);
    }
    if (o.openvpnStatus !== undefined && this.vpnClients.length) {
      const p = join(dir, 'openvpn-status.log');
      writeFileSync(p, this.openvpnStatusText(o.openvpnStatus));
      const d = new Date(o.openvpnStatus);
      utimesSync(p, d, d);
      files.push(p);
    }
    const listings: string[] = [];
    if (o.listings) {
      const p2 = (n: number) => String(n).padStart(2, '0');
      for (const t of [...o.listings.times].sort((a, b) => a - b)) {
        const d = new Date(t);
        const p = join(dir, `conntrack-${d.getUTCFullYear()}${p2(d.getUTCMonth() + 1)}${p2(d.getUTCDate())}-${p2(d.getUTCHours())}${p2(d.getUTCMinutes())}${p2(d.getUTCSeconds())}.txt`);
        writeFileSync(p, this.conntrack.listing(t, { timestamps: o.listings.timestamps }));
        utimesSync(p, d, d);
        listings.push(p);
      }
    }
    return { files: [...files, ...listings], capture, listings };
  }

  /**
   * Write the evidence of one mode, for the window [from, to): always the logs and vnstat's
   * export; `capture` the capture; `listing`/`listing-ts` one `conntrack -L -o extended` taken
   * at `to` (without and with kernel timestamps); `logs` the OpenVPN status file as at `to`.
   */
  writeMode(dir: string, mode: EvidenceMode, from: number, to: number): { files: string[]; capture: string | null; listings: string[] } {
    return this.write(dir, {
      capture: mode === 'capture',
      listings: mode === 'listing' || mode === 'listing-ts' ? { times: [to], timestamps: mode === 'listing-ts' } : undefined,
      vnstat: { from, to },
      openvpnStatus: mode === 'logs' ? to : undefined,
    });
  }

  /** `vnstat --json` (2.x, jsonversion 2) for eth0: five-minute and hourly entries over [from, to). */
  vnstatJson(from: number, to: number): string {
    const five = new Map<number, { rx: number; tx: number }>(), hour = new Map<number, { rx: number; tx: number }>();
    const add = (m: Map<number, { rx: number; tx: number }>, k: number, f: Frame) => {
      const v = m.get(k) ?? { rx: 0, tx: 0 };
      if (f.tx) v.tx += f.orig; else v.rx += f.orig;
      m.set(k, v);
    };
    for (const f of this.frames) {
      if (f.iface !== 0 || f.ts < from || f.ts >= to) continue;
      add(five, Math.floor(f.ts / 300_000) * 300_000, f);
      add(hour, Math.floor(f.ts / 3_600_000) * 3_600_000, f);
    }
    const entry = (start: number, v: { rx: number; tx: number }, i: number, minute: boolean) => {
      const d = new Date(start);
      return {
        id: i + 1, date: { year: d.getUTCFullYear(), month: d.getUTCMonth() + 1, day: d.getUTCDate() },
        time: { hour: d.getUTCHours(), minute: minute ? d.getUTCMinutes() : 0 }, timestamp: start / 1000, rx: v.rx, tx: v.tx,
      };
    };
    const list = (m: Map<number, { rx: number; tx: number }>, minute: boolean) => [...m.entries()].sort((a, b) => a[0] - b[0]).map(([k, v], i) => entry(k, v, i, minute));
    let rx = 0, tx = 0;
    for (const v of hour.values()) { rx += v.rx; tx += v.tx; }
    return JSON.stringify({
      vnstatversion: '2.10', jsonversion: '2',
      interfaces: [{ name: 'eth0', alias: '', created: { date: { year: 2026, month: 1, day: 1 }, timestamp: 1767225600 }, updated: { date: { year: 2026, month: 1, day: 1 }, timestamp: to / 1000 },
        traffic: { total: { rx, tx }, fiveminute: list(five, true), hour: list(hour, false) } }],
    }) + '\n';
  }

  /** The OpenVPN server status file (version 2) as rewritten at `t`: the clients connected then, their UDP payload bytes so far. */
  openvpnStatusText(t: number): string {
    const s = (ms: number) => Math.floor(ms / 1000);
    const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    const lines = [
      'TITLE,OpenVPN 2.6.8 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [MH/PKTINFO] [AEAD]',
      `TIME,${stamp(t)},${s(t)}`,
      'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
    ];
    const live = this.vpnClients.filter((c) => c.since <= t && (c.end === null || c.end > t));
    live.forEach((c, i) => {
      let rx = 0, tx = 0;
      for (const p of c.pkts) if (p.t <= t) { if (p.fromClient) rx += p.len; else tx += p.len; }
      lines.push(`CLIENT_LIST,${c.cn},${c.rip}:${c.rport},${c.vip},,${rx},${tx},${stamp(c.since)},${s(c.since)},UNDEF,${i},${i},AES-256-GCM`);
    });
    lines.push('HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)');
    for (const c of live) lines.push(`ROUTING_TABLE,${c.vip},${c.cn},${c.rip}:${c.rport},${stamp(t)},${s(t)}`);
    lines.push('GLOBAL_STATS,Max bcast/mcast queue length,0', 'END');
    return lines.join('\n') + '\n';
  }

  /** The capture: pcapng with eth0 and tun0 when the tunnel interface is used, else classic pcap. */
  private captureBytes(frames: Frame[]): Buffer {
    const ns = (t: number) => BigInt(Math.round(t)) * 1_000_000n;
    if (this.usesTun) {
      const w = new PcapngWriter();
      const parts = [w.section(false), w.interface({ linkType: LINKTYPE_ETHERNET, snaplen: SNAP, name: 'eth0', ipv4: [SERVER] }), w.interface({ linkType: LINKTYPE_RAW, snaplen: SNAP, name: 'tun0', ipv4: [TUN_SERVER] })];
      for (const f of frames) parts.push(w.packet(f.iface, ns(f.ts), f.data, f.orig));
      return Buffer.concat(parts);
    }
    const w = new PcapWriter({ linkType: LINKTYPE_ETHERNET, snaplen: SNAP });
    const parts = [w.header()];
    for (const f of frames) parts.push(w.record(ns(f.ts), f.data, f.orig));
    return Buffer.concat(parts);
  }
}
