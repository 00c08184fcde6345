/**
 * Netfilter packet logs: iptables `LOG`, nftables `log`, ulogd's LOGEMU, and the variants
 * that wrap them (UFW, SuSE firewall, Shorewall, Proxmox's pvefw-logger).
 *
 * The kernel (net/netfilter/nf_log_syslog.c) writes `<prefix>IN=<if> OUT=<if> ` with the
 * prefix glued on as the rule gave it, then MAC, the IP header, the transport header:
 *
 *   DROP-IN: IN=eth0 OUT= MAC=... SRC=203.0.113.9 DST=192.0.2.10 LEN=60 TOS=0x00 PREC=0x00
 *   TTL=52 ID=1234 DF PROTO=TCP SPT=51234 DPT=22 WINDOW=64240 RES=0x00 SYN URGP=0
 *
 * Drops come one line per packet, so this is a hot path: fields are found with indexOf and
 * charCodeAt, only the few values kept are sliced out, and no key/value object is built.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { clfTime } from '../time.js';
import { counterAt, normalizeIp, portAt, uintAt } from './common.js';
import { lineParser } from './line.js';
import type { Envelope } from './syslog.js';
import type { SourceParser } from './types.js';

export type NetfilterKind = 'drop' | 'reject' | 'accept' | 'log';
export type Direction = 'in' | 'out' | 'fwd';

/** Words in a log prefix that name the rule's verdict. First one found wins. */
const VERDICT_WORDS = new Map<string, NetfilterKind>([
  ['DROP', 'drop'], ['DROPPED', 'drop'], ['DROPS', 'drop'],
  ['DENY', 'drop'], ['DENIED', 'drop'],
  ['BLOCK', 'drop'], ['BLOCKED', 'drop'],
  ['REJECT', 'reject'], ['REJECTED', 'reject'], ['REJ', 'reject'],
  ['ACCEPT', 'accept'], ['ACCEPTED', 'accept'], ['ACC', 'accept'],
  ['ALLOW', 'accept'], ['ALLOWED', 'accept'],
]);

/**
 * EdgeOS and VyOS name a rule's verdict in a one-letter suffix after the rule number or
 * `default`: `[WAN_IN-default-D]` drop, `[LAN_LOCAL-10-A]` accept, `[WAN_LOCAL-20-R]` reject,
 * and VyOS 1.4's `[ipv4-FWD-filter-default-D]`.
 */
const EDGE_SUFFIX = /(?:^|[-_])(?:\d+|default)-([ADR])\]?:?$/i;
const EDGE_KINDS: Record<string, NetfilterKind> = { A: 'accept', D: 'drop', R: 'reject' };

const kindCache = new Map<string, NetfilterKind>();

/**
 * The verdict a prefix names, or `log` if none: `[UFW BLOCK]` → drop,
 * `SFW2-INext-ACC-TCP` → accept, `Shorewall:net2fw:DROP:` → drop, `PVEFW-reject:` → reject.
 */
export function kindFromPrefix(prefix: string | null): NetfilterKind {
  if (!prefix) return 'log';
  let k = kindCache.get(prefix);
  if (k !== undefined) return k;
  k = 'log';
  const edge = EDGE_SUFFIX.exec(prefix);
  if (edge) k = EDGE_KINDS[edge[1].toUpperCase()];
  else {
    // fail2ban's chains (`f2b-sshd`, `fail2ban-ssh`) hold only its bans, and its iptables
    // actions' default blocktype is `REJECT --reject-with icmp-port-unreachable`.
    // `f2b-sshd` splits into F, B, SSHD: F followed by B (or FAIL followed by BAN) is fail2ban.
    const words = prefix.toUpperCase().split(/[^A-Z]+/);
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if ((w === 'F' && words[i + 1] === 'B') || (w === 'FAIL' && words[i + 1] === 'BAN')) { k = 'reject'; break; }
      const v = VERDICT_WORDS.get(w);
      if (v !== undefined) { k = v; break; }
    }
  }
  if (kindCache.size > 10_000) kindCache.clear();
  kindCache.set(prefix, k);
  return k;
}

/** Fields of one packet line, as read by scanPacket. One scratch copy is reused for every line. */
interface Packet {
  /** Where `IN=` (or, for pvefw-logger's outbound lines, `OUT=`) begins: the prefix ends here. */
  start: number;
  inIf: string | null;
  outIf: string | null;
  mac: string | null;
  src: string | null;
  dst: string | null;
  proto: string | null;
  len: number | null;
  ttl: number | null;
  spt: number | null;
  dpt: number | null;
  icmpType: number | null;
  flags: string;
  mark: number | null;
}

const scratch: Packet = {
  start: 0, inIf: null, outIf: null, mac: null, src: null, dst: null, proto: null,
  len: null, ttl: null, spt: null, dpt: null, icmpType: null, flags: '', mark: null,
};

const C_SPACE = 32, C_LBRACKET = 91;


/** Protocol names as the kernel and pvefw-logger write them, in bytetrail's vocabulary. */
const PROTO_NAMES = new Map([
  ['TCP', 'tcp'], ['UDP', 'udp'], ['ICMP', 'icmp'], ['ICMPv6', 'icmpv6'], ['ICMPV6', 'icmpv6'],
  ['UDPLITE', '136'], ['SCTP', '132'], ['AH', '51'], ['ESP', '50'], ['IGMP', '2'], ['GRE', '47'], ['ARP', 'arp'],
]);

function protoAt(s: string, v: number, end: number): string {
  const c = s.charCodeAt(v);
  // The common three without slicing.
  if (end - v === 3 && c === 84 && s.charCodeAt(v + 1) === 67 && s.charCodeAt(v + 2) === 80) return 'tcp';
  if (end - v === 3 && c === 85 && s.charCodeAt(v + 1) === 68 && s.charCodeAt(v + 2) === 80) return 'udp';
  const raw = s.slice(v, end);
  return PROTO_NAMES.get(raw) ?? (uintAt(raw, 0, raw.length) !== null ? raw : raw.toLowerCase());
}

/** Three upper-case letters packed in one number, to test TCP flag words without slicing. */
const pack3 = (a: number, b: number, c: number) => (a << 16) | (b << 8) | c;
const TCP_FLAGS = new Map<number, string>(
  ['CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'].map((f) => [pack3(f.charCodeAt(0), f.charCodeAt(1), f.charCodeAt(2)), f]),
);

/** Index of the space ending the token at i, or the line's length. */
function tokenEnd(s: string, i: number, n: number): number {
  const e = s.indexOf(' ', i);
  return e < 0 ? n : e;
}

/** Does the token at i start with `IN=` / `OUT=`? */
const isIn = (s: string, i: number) => s.charCodeAt(i) === 73 && s.charCodeAt(i + 1) === 78 && s.charCodeAt(i + 2) === 61;
const isOut = (s: string, i: number) =>
  s.charCodeAt(i) === 79 && s.charCodeAt(i + 1) === 85 && s.charCodeAt(i + 2) === 84 && s.charCodeAt(i + 3) === 61;

/**
 * Read a packet line from `from` (after any uptime stamp). Returns 0 when `p` holds the
 * packet, 1 when the message is not a netfilter packet log, 2 when it is one without an IP
 * header (`SRC=` missing: ARP through ebtables, a truncated packet).
 *
 * The kernel (nf_log_syslog.c, and ulogd's printpkt.c after it) writes
 * `IN= OUT= [PHYSIN= PHYSOUT=] MAC= SRC= DST= LEN= (TOS= PREC= TTL= ID= | TC= HOPLIMIT= FLOWLBL=)
 * [CE DF MF] PROTO= ...`, then for TCP `SPT= DPT= [SEQ= ACK=] WINDOW= RES= <flags> URGP=`,
 * for UDP `SPT= DPT= LEN=` (a second LEN, the UDP length: the first is kept), for ICMP
 * `TYPE= CODE= ...` possibly followed by the offending packet in `[...]` (skipped: its
 * addresses are not this packet's), and at the end `UID= GID= MARK=`.
 * One pass over the tokens; keys are recognised by their first characters, so nothing is
 * sliced but the values kept.
 */
function scanPacket(s: string, from: number, requireIn: boolean, p: Packet): number {
  const n = s.length;
  // Find where IN= (or a lone OUT=) begins. The prefix before it may hold spaces (`[UFW BLOCK] `)
  // or be glued on (`DROPIN=eth0 OUT=`).
  let i = from, start = -1, prevStart = -1, prevEnd = -1;
  while (i < n) {
    const e = tokenEnd(s, i, n);
    if (isIn(s, i)) { start = i; break; }
    if (isOut(s, i)) {
      const k = prevStart >= 0 ? s.lastIndexOf('IN=', prevEnd - 3) : -1;
      if (k >= prevStart && prevStart >= 0) start = k;
      else if (requireIn) return 1;
      else start = i; // pvefw-logger leaves out an empty IN=
      break;
    }
    prevStart = i; prevEnd = e;
    i = e + 1;
    while (s.charCodeAt(i) === C_SPACE) i++;
  }
  if (start < 0) return 1;
  if (requireIn) {
    // The kernel writes `IN=x OUT=y ` side by side; anything else is some other message.
    const ie = tokenEnd(s, start, n);
    if (!isOut(s, ie + 1)) return 1;
  }
  p.start = start;
  p.inIf = null; p.outIf = null; p.mac = null; p.src = null; p.dst = null; p.proto = null;
  p.len = null; p.ttl = null; p.spt = null; p.dpt = null; p.icmpType = null; p.flags = ''; p.mark = null;
  let seenIn = false, seenOut = false, done = false;
  i = start;
  while (i < n && !done) {
    const c0 = s.charCodeAt(i);
    if (c0 === C_SPACE) { i++; continue; }
    if (c0 === C_LBRACKET) {
      let depth = 0, j = i;
      for (; j < n; j++) {
        const c = s.charCodeAt(j);
        if (c === C_LBRACKET) depth++;
        else if (c === 93 && --depth === 0) break;
      }
      i = j + 1;
      continue;
    }
    const e = tokenEnd(s, i, n);
    const c1 = s.charCodeAt(i + 1), c2 = s.charCodeAt(i + 2), c3 = s.charCodeAt(i + 3);
    switch (c0) {
      case 73: // IN=
        if (c1 === 78 && c2 === 61 && !seenIn) { seenIn = true; if (e > i + 3) p.inIf = s.slice(i + 3, e); }
        break;
      case 79: // OUT=
        if (c1 === 85 && c2 === 84 && c3 === 61 && !seenOut) { seenOut = true; if (e > i + 4) p.outIf = s.slice(i + 4, e); }
        break;
      case 77: // MAC=, MACSRC=, MARK=0x..
        if (c1 === 65) {
          if (c2 === 67) {
            if (c3 === 61) { if (e > i + 4 && p.mac === null) p.mac = s.slice(i + 4, e); }
            else if (c3 === 83 && s.charCodeAt(i + 6) === 61 && p.mac === null) p.mac = s.slice(i + 7, e);
          } else if (c2 === 82 && c3 === 75 && s.charCodeAt(i + 4) === 61 && s.charCodeAt(i + 6) === 120) {
            const hex = s.slice(i + 7, e);
            p.mark = /^[0-9a-fA-F]{1,8}$/.test(hex) ? parseInt(hex, 16) : null;
          }
        }
        break;
      case 109: // mark= (pvefw-logger)
        if (c1 === 97 && c2 === 114 && c3 === 107 && s.charCodeAt(i + 4) === 61) p.mark = uintAt(s, i + 5, e);
        break;
      case 83: // SRC=, SPT=
        if (c3 === 61) {
          if (c1 === 82 && c2 === 67) { if (p.src === null) p.src = s.slice(i + 4, e); }
          else if (c1 === 80 && c2 === 84 && p.spt === null) p.spt = portAt(s, i + 4, e);
        }
        break;
      case 68: // DST=, DPT=
        if (c3 === 61) {
          if (c1 === 83 && c2 === 84) { if (p.dst === null) p.dst = s.slice(i + 4, e); }
          else if (c1 === 80 && c2 === 84 && p.dpt === null) {
            p.dpt = portAt(s, i + 4, e);
            // Nothing after a UDP header's DPT= is kept but a final MARK=, read below.
            done = p.proto === 'udp';
          }
        }
        break;
      case 85: // URGP= ends the TCP header: the rest is TCP options and UID/GID/MARK
        done = c1 === 82 && c2 === 71 && c3 === 80 && p.proto === 'tcp';
        break;
      case 76: // LEN=
        if (c1 === 69 && c2 === 78 && c3 === 61 && p.len === null) p.len = counterAt(s, i + 4, e);
        break;
      case 84: // TTL=, TYPE=
        if (c1 === 84 && c2 === 76 && c3 === 61) { if (p.ttl === null) p.ttl = uintAt(s, i + 4, e); }
        else if (c1 === 89 && c2 === 80 && c3 === 69 && s.charCodeAt(i + 4) === 61 && p.icmpType === null) p.icmpType = uintAt(s, i + 5, e);
        break;
      case 72: // HOPLIMIT=, IPv6's TTL
        if (c1 === 79 && c2 === 80 && c3 === 76 && s.charCodeAt(i + 8) === 61 && p.ttl === null) p.ttl = uintAt(s, i + 9, e);
        break;
      case 80: // PROTO=
        if (c1 === 82 && c2 === 79 && c3 === 84 && s.charCodeAt(i + 4) === 79 && s.charCodeAt(i + 5) === 61 && p.proto === null) {
          p.proto = protoAt(s, i + 6, e);
        }
        break;
    }
    if (e - i === 3 && p.proto === 'tcp') {
      const f = TCP_FLAGS.get(pack3(c0, c1, c2));
      if (f !== undefined) p.flags = p.flags === '' ? f : p.flags + ' ' + f;
    }
    i = e + 1;
  }
  if (done && i < n) {
    // MARK=0x2a (kernel) or mark=42 (pvefw-logger) is the last field when there is one.
    const tail = Math.max(i - 1, n - 24);
    let m = s.indexOf(' MARK=0x', tail);
    if (m >= 0) {
      const hex = s.slice(m + 8, tokenEnd(s, m + 8, n));
      p.mark = /^[0-9a-fA-F]{1,8}$/.test(hex) ? parseInt(hex, 16) : null;
    } else if ((m = s.indexOf(' mark=', tail)) >= 0) p.mark = uintAt(s, m + 6, tokenEnd(s, m + 6, n));
  }
  if (p.src === null) return 2;
  const ported = p.proto === 'tcp' || p.proto === 'udp' || p.proto === '136' || p.proto === '132';
  if (!ported) { p.spt = null; p.dpt = null; }
  if (p.proto !== 'icmp' && p.proto !== 'icmpv6') p.icmpType = null;
  return 0;
}

/** `[12345.678901] ` or `[    3.141592] ` at the start: a kernel uptime stamp, not part of the prefix. */
function afterUptime(msg: string): number {
  if (msg.charCodeAt(0) !== C_LBRACKET) return 0;
  let j = 1, digits = 0;
  while (j < msg.length) {
    const c = msg.charCodeAt(j);
    if (c === 93 /* ] */) break;
    if (c >= 48 && c <= 57) digits++;
    else if (c !== C_SPACE && c !== 46) return 0;
    j++;
  }
  if (j >= msg.length || digits === 0) return 0;
  j++;
  while (msg.charCodeAt(j) === C_SPACE) j++;
  return j;
}

export interface ProxmoxFields { vmid: number; level: number; chain: string }

/**
 * Read an event from a netfilter message body (the part after the envelope, uptime included).
 * `pve` carries the pvefw-logger columns that came before the time; `tagPrefix` a prefix the
 * envelope took for a program tag.
 */
function parsePacket(
  env: Envelope, msg: string, requireIn: boolean, pve: ProxmoxFields | null, tagPrefix: string | null, program: string | null,
): ParseResult {
  const from = afterUptime(msg);
  const p = scratch;
  const status = scanPacket(msg, from, requireIn, p);
  if (status === 1) return skip(`${env.program ?? 'kernel'} message that is not a netfilter log`);
  if (status === 2) return skip('netfilter log of a non-IP packet (no SRC=)');
  if (p.proto === 'arp') return skip('netfilter log of an ARP packet');
  if (p.dst === null) return unparsed('netfilter log with SRC= but no DST=');
  const src = normalizeIp(p.src), dst = normalizeIp(p.dst);
  if (src === null || dst === null) return unparsed('netfilter SRC= or DST= is not an IP address');

  let prefix: string | null = p.start > from ? msg.slice(from, p.start).trim() : null;
  if (prefix === '') prefix = null;
  if (tagPrefix !== null) prefix = prefix === null ? tagPrefix : `${tagPrefix} ${prefix}`;
  const inIf = p.inIf, outIf = p.outIf;
  const direction: Direction | null = inIf !== null ? (outIf !== null ? 'fwd' : 'in') : outIf !== null ? 'out' : null;

  const e: LogEvent = baseEvent('netfilter', env.ts, env.host, program, kindFromPrefix(prefix));
  if (direction === 'out') {
    e.rip = dst; e.rport = p.dpt; e.lip = src; e.lport = p.spt; e.bytesOut = p.len;
  } else {
    e.rip = src; e.rport = p.spt; e.lip = dst; e.lport = p.dpt; e.bytesIn = p.len;
  }
  const attrs: Record<string, AttrValue> = {
    prefix, in: inIf, out: outIf, direction,
    proto: p.proto, len: p.len, ttl: p.ttl,
    flags: p.flags === '' ? null : p.flags,
    icmpType: p.icmpType,
  };
  if (p.mac !== null) attrs.mac = p.mac;
  if (p.mark !== null && p.mark !== 0) attrs.mark = p.mark;
  if (pve !== null) { attrs.vmid = pve.vmid; attrs.chain = pve.chain; }
  e.attrs = attrs;
  return ok(e);
}

/** pvefw-logger's columns before the time: `<vmid> <loglevel> <chain> `. */
const PVE_HEAD = /^(\d+) ([0-7]) (\S+) /;

/**
 * A syslog tag that is really an iptables prefix: ulogd's LOGEMU file has no program tag,
 * so `Nov 20 09:20:02 host DROP-IN: IN=eth0 ...` reads as program `DROP-IN`. Only
 * upper-case tags that name a verdict qualify, so ordinary programs (`CRON`) stay out.
 */
function isPrefixTag(program: string): boolean {
  if (program.length > 29 || /[a-z/]/.test(program)) return false;
  return kindFromPrefix(program) !== 'log';
}

const PROGRAMS = new Set(['kernel', 'ulogd', 'ulogd2', 'pve-firewall']);

export const netfilter: SourceParser = {
  source: 'netfilter',
  matchesProgram: (program: string) => PROGRAMS.has(program) || isPrefixTag(program),
  // Lines without a program tag: Shorewall's `host Shorewall:net2fw:DROP:IN=eth1 OUT= ...`,
  // ulogd LOGEMU, `dmesg -T`.
  sniffNative: (msg: string) => msg.indexOf('SRC=') > 0 && msg.indexOf('IN=') >= 0 && msg.indexOf('DST=') > 0,
  parseMessage(env: Envelope, _ctx: ParseContext): ParseResult {
    const program = env.program;
    if (program === 'pve-firewall') {
      // `101 1 tap101i0-IN REJECT: IN=fwbr101i0 OUT=fwbr101i0 PHYSIN=...` (time already taken
      // out by the envelope, see pveFirewallEnvelope below)
      const m = PVE_HEAD.exec(env.msg);
      if (!m) return skip('pve-firewall message that is not a packet log');
      if (m[3] === '-') return skip('pvefw-logger status message');
      const pve = { vmid: +m[1], level: +m[2], chain: m[3] };
      return parsePacket(env, env.msg.slice(m[0].length), false, pve, null, program);
    }
    if (program === null || PROGRAMS.has(program)) return parsePacket(env, env.msg, program !== null, null, null, program);
    // ulogd LOGEMU with a prefix ending in ':' that the envelope took for a program tag.
    return parsePacket(env, env.msg, true, null, env.pid === null ? program + ':' : null, null);
  },
};

export const parseLine = lineParser(netfilter);

const PVE_LINE = /^(\d+) ([0-7]) (\S+) (\d\d)\/([A-Z][a-z]{2})\/(\d{4}):(\d\d):(\d\d):(\d\d) ([+-]\d{4}) /;

/**
 * The envelope of a /var/log/pve-firewall.log line (Proxmox VE's pvefw-logger), the netfilter
 * source's own stamp (src/sources/netfilter.ts reads it for the envelope):
 *
 *   101 1 tap101i0-IN 20/Jun/2022:13:12:46 +0200 REJECT: IN=fwbr101i0 OUT=fwbr101i0 ...
 *
 * `<vmid> <loglevel> <chain> <dd/Mon/yyyy:HH:MM:SS> <+zzzz> <prefix><packet>`. The stamp
 * carries its offset, so no zone is needed. The message keeps vmid, level and chain in front.
 */
export function pveFirewallEnvelope(line: string): Envelope | null {
  const c = line.charCodeAt(0);
  if (c < 48 || c > 57) return null;
  const m = PVE_LINE.exec(line);
  if (!m) return null;
  const ts = clfTime(m, 4);
  if (ts === null) return null;
  return { ts, host: null, program: 'pve-firewall', pid: null, msg: `${m[1]} ${m[2]} ${m[3]} ${line.slice(m[0].length)}`, form: 'native', tagArgs: null };
}
