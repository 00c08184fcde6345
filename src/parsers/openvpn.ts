/**
 * OpenVPN server log (2.3 to 2.7), through syslog (`ovpn-server[1234]:`, `openvpn[1234]:`) or in
 * OpenVPN's own `--log` file (`2026-11-20 09:20:02 msg`, before 2.5 `Fri Nov 20 09:20:02 2026 msg`).
 *
 * Every per-client message starts with the client instance (multi.c multi_instance_string):
 * `<cn>/<real address>` once the TLS handshake has named the client, the bare real address
 * before that.
 *
 *   203.0.113.5:51234 TLS: Initial packet from [AF_INET]203.0.113.5:51234, sid=1a2b3c4d 5e6f7a8b
 *   203.0.113.5:51234 [client1] Peer Connection Initiated with [AF_INET]203.0.113.5:51234
 *   client1/203.0.113.5:51234 MULTI_sva: pool returned IPv4=198.51.100.6, IPv6=(Not enabled)
 *   client1/203.0.113.5:51234 SIGTERM[soft,remote-exit] received, client-instance exiting
 *
 * A CN is any printable text (ssl_verify.c string_mod_remap_name keeps CC_PRINT), so it may hold
 * spaces, slashes, dots and `@`: the prefix is found by the address after a `/`, never by
 * splitting on spaces. mroute.c writes a real address as `IP:port`, `[v6]:port` (2.5+) or a bare
 * v6 address without its port (2.4). Socket addresses (`[AF_INET]IP:port`, `[AF_INET6]v6:port`)
 * always end in the port, after the last colon.
 *
 * Session key: `<cn>/<ip>:<port>` when the line names the CN, else `<ip>:<port>` (IPv6 in
 * brackets, as OpenVPN 2.5+ writes it), built from the instance prefix so that connect, lease,
 * learn and disconnect of one client share it.
 */
import type { AttrValue, LogEvent, ParseContext, ParseResult } from '../events.js';
import { baseEvent, ok, skip, unparsed } from '../events.js';
import { isIPv4Fast, normalizeIp, splitHostPort, toPort } from './common.js';
import { lineParser } from './line.js';
import { type Envelope, isEnvelopeError, parseEnvelope } from './syslog.js';
import type { SourceParser } from './types.js';

/** The event kinds this parser emits. The correlator joins on these names. */
export const OPENVPN_KINDS = ['tls-initial', 'connect', 'auth-ok', 'auth-fail', 'timeout', 'tls-fail', 'lease', 'learn', 'disconnect', 'listen'] as const;
export type OpenvpnKind = (typeof OPENVPN_KINDS)[number];

export interface Peer { ip: string; port: number | null }

/** A message split into its client-instance prefix (if any) and the rest. */
export interface Instance { cn: string | null; peer: Peer | null; rest: string }

const isDigit = (c: number) => c >= 48 && c <= 57;
const isHex = (c: number) => isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);

/**
 * Longest CN looked for. A certificate CN is at most 64 characters (ssl_verify.c TLS_USERNAME_LEN),
 * but --x509-username-field may join several fields into a 256-byte buffer.
 */
const MAX_CN = 256;

/** Message texts, as multi.c, ssl.c, ssl_verify.c and plugin.c write them. */
const PCI = 'Peer Connection Initiated with ';
const POOL_RETURNED = 'MULTI_sva: pool returned ';
const PUSH_IFCONFIG_IPV6 = 'MULTI_sva: push_ifconfig_ipv6 ';
const PRIMARY_IP = 'MULTI: primary virtual IP for ';
const PRIMARY_IP6 = 'MULTI: primary virtual IPv6 for ';
const LEARN = 'MULTI: Learn: ';
const REJECTED = 'MULTI: connection rejected: ';
const TLS_INITIAL = 'TLS: Initial packet from ';
const TCP_LISTEN = 'Listening for incoming TCP connection on ';
const CRL_FAILED = 'CRL CHECK FAILED: ';
const USERPASS = 'TLS: Username/Password authentication ';
const USERPASS_TOKEN = 'TLS: Username/auth-token authentication ';
const FOR_USERNAME = " for username '";
const PLUGIN_FN = 'PLUGIN_CALL: plugin function ';
const FAILED_STATUS = ' failed with status ';
const SCRIPT_FAILED = 'WARNING: Failed running command (';
const CLOSING = 'closing instance ';
const FLOATED = ') floated from ';
const RECEIVED = '] received, ';

/**
 * Cheap guard before normalizeIp: only hex digits, `.`, `:` and brackets, and at least one `.` or
 * `:`. Keeps words like `add` or `cafe` out of the IP cache.
 */
function addressish(s: string): boolean {
  if (s.length === 0 || s.length > 64) return false;
  let sep = false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 || c === 58) sep = true;
    else if (!(isHex(c) || c === 91 || c === 93)) return false;
  }
  return sep;
}

/**
 * A socket address as print_link_socket_actual writes it: `[AF_INET]203.0.113.5:51234`,
 * `[AF_INET6]2001:db8::5:51234`, `[AF_INET6]::ffff:203.0.113.5:51234`, `[AF_INET][undef]:1194`.
 * The port is always there, after the last colon. `ip` is null for `[undef]` and `[AF_UNSPEC]`.
 */
export function parseSockaddr(s: string): { ip: string | null; port: number | null } | null {
  if (s.charCodeAt(0) !== 91) return null;
  const close = s.indexOf(']');
  if (close < 0 || close > 12) return null;
  const rest = s.slice(close + 1);
  if (rest === '') return { ip: null, port: null };
  if (rest.startsWith('[undef]')) return { ip: null, port: rest.charCodeAt(7) === 58 ? toPort(rest.slice(8)) : null };
  if (rest.charCodeAt(0) === 91) return splitHostPort(rest);
  const colon = rest.lastIndexOf(':');
  if (colon > 0) {
    const port = toPort(rest.slice(colon + 1));
    if (port !== null) {
      const ip = normalizeIp(rest.slice(0, colon));
      if (ip) return { ip, port };
    }
  }
  const ip = normalizeIp(rest);
  return ip ? { ip, port: null } : null;
}

/**
 * A real address as mroute.c prints it in an instance prefix or a status row: `203.0.113.5:51234`,
 * `[2001:db8::5]:51234`, `2001:db8::5` (2.4: no port for IPv6), `::ffff:203.0.113.5`,
 * `udp4:203.0.113.5:51234` (protocol shown when the server listens on several), or a socket
 * address `[AF_INET]203.0.113.5:51234`.
 */
export function parsePeer(tok: string): Peer | null {
  let s = tok;
  const c0 = s.charCodeAt(0);
  if (c0 === 91 && s.charCodeAt(1) === 65 /* [A */) {
    const sa = parseSockaddr(s);
    return sa && sa.ip ? { ip: sa.ip, port: sa.port } : null;
  }
  // u, t, U, T: a protocol prefix
  if (c0 === 117 || c0 === 116 || c0 === 85 || c0 === 84) {
    const colon = s.indexOf(':');
    if (colon < 3 || colon > 16) return null;
    const proto = s.slice(0, 3).toLowerCase();
    if (proto !== 'udp' && proto !== 'tcp') return null;
    s = s.slice(colon + 1);
  }
  // `203.0.113.5:51234`, the common case, without sending `ip:port` through the IPv6 path.
  const colon = s.indexOf(':');
  if (colon > 6 && colon === s.lastIndexOf(':')) {
    const ip = s.slice(0, colon);
    if (isIPv4Fast(ip)) {
      const port = toPort(s.slice(colon + 1));
      return port === null ? null : { ip, port };
    }
  }
  if (!addressish(s)) return null;
  return splitHostPort(s);
}

/** `203.0.113.5:51234`, `[2001:db8::5]:51234`, or the bare IP when the port is unknown. */
export function hostPort(p: Peer): string {
  if (p.port === null) return p.ip;
  return p.ip.indexOf(':') >= 0 ? `[${p.ip}]:${p.port}` : `${p.ip}:${p.port}`;
}

export function sessionKey(cn: string | null, p: Peer | null): string | null {
  if (!p) return null;
  return cn ? `${cn}/${hostPort(p)}` : hostPort(p);
}

/** Does the text at i start an address (digit, hex letter, `[` or `:`)? */
function addressStart(s: string, i: number): boolean {
  const c = s.charCodeAt(i);
  return isHex(c) || c === 91 || c === 58 || c === 117 || c === 116;
}

/**
 * Split the client-instance prefix off a message:
 * `203.0.113.5:51234 TLS: ...`, `[AF_INET]203.0.113.5:51234 ...`, `client 01/203.0.113.5:51234 ...`.
 * The CN runs up to the first `/` that is followed by an address and a space.
 */
export function splitInstance(msg: string): Instance {
  const sp = msg.indexOf(' ');
  if (sp > 0 && addressStart(msg, 0)) {
    const peer = parsePeer(msg.slice(0, sp));
    if (peer) return { cn: null, peer, rest: msg.slice(sp + 1) };
  }
  let slash = msg.indexOf('/');
  for (let tries = 0; slash > 0 && slash <= MAX_CN && tries < 8; tries++) {
    const end = msg.indexOf(' ', slash + 1);
    if (end < 0) break;
    if (end > slash + 1 && addressStart(msg, slash + 1)) {
      const peer = parsePeer(msg.slice(slash + 1, end));
      // `: ` would mean we are inside a message (`MULTI: Learn: ... -> cn/addr`), not a prefix;
      // so would a message that names another instance (multi.c, float collision).
      if (peer && msg.lastIndexOf(': ', slash) < 0 && !msg.startsWith(CLOSING)) return { cn: msg.slice(0, slash), peer, rest: msg.slice(end + 1) };
    }
    slash = msg.indexOf('/', slash + 1);
  }
  return { cn: null, peer: null, rest: msg };
}

/** `client1/203.0.113.5:51234` (no trailing message) → CN and peer, splitting at the last `/`. */
function instanceRef(s: string): { cn: string | null; peer: Peer } | null {
  const t = s.trim();
  const slash = t.lastIndexOf('/');
  const peer = parsePeer(slash >= 0 ? t.slice(slash + 1) : t);
  if (!peer) return null;
  const cn = slash > 0 ? t.slice(0, slash) : null;
  return { cn, peer };
}

/** The CN of a message that names its instance again (`-> cn/addr`): the prefix's, else the named one if it is the same peer. */
function refCn(inst: Instance, ref: { cn: string | null; peer: Peer } | null): string | null {
  if (inst.cn) return inst.cn;
  if (!ref) return null;
  if (inst.peer && inst.peer.ip !== ref.peer.ip) return null;
  return cnOrNull(ref.cn);
}

/** `UNDEF` is what tls_common_name prints for a client whose CN is not known yet. */
function cnOrNull(s: string | null | undefined): string | null {
  if (s == null) return null;
  return s === '' || s === 'UNDEF' ? null : s;
}

/**
 * The CN in an X509 subject: `C=US, O=Example, CN=client1, emailAddress=a@b.example` (2.4+)
 * or `/C=US/O=Example/CN=client1` (2.3 and before).
 */
export function cnFromSubject(subject: string): string | null {
  const slashForm = subject.charCodeAt(0) === 47;
  let i = subject.indexOf('CN=');
  while (i > 0) {
    const before = subject.charCodeAt(i - 1);
    if (before === 32 || before === 44 || before === 47) break;
    i = subject.indexOf('CN=', i + 3);
  }
  if (i < 0) return null;
  const start = i + 3;
  let end = slashForm ? subject.indexOf('/', start) : subject.indexOf(', ', start);
  if (end < 0) end = subject.length;
  return cnOrNull(subject.slice(start, end).trim());
}

/** `depth=0, ` at the start of a VERIFY message → 0; null if absent. */
function depthOf(s: string): number | null {
  if (!s.startsWith('depth=')) return null;
  let j = 6, n = 0;
  while (isDigit(s.charCodeAt(j)) && j < 9) { n = n * 10 + s.charCodeAt(j) - 48; j++; }
  return j > 6 ? n : null;
}

/** The address after `from ` in `... from [AF_INET]192.0.2.253:55340, ...`, if any. */
function fromAddress(rest: string): Peer | null {
  const i = rest.indexOf(' from [AF_');
  if (i < 0) return null;
  const start = i + 6; // after ' from '
  let end = start;
  while (end < rest.length) {
    const c = rest.charCodeAt(end);
    if (c === 32 || c === 44 || c === 41) break;
    end++;
  }
  const sa = parseSockaddr(rest.slice(start, end));
  return sa && sa.ip ? { ip: sa.ip, port: sa.port } : null;
}

/**
 * The instance prefix and an address inside the message name the same peer in real logs, but
 * only the prefix is on every line of a client: it wins, so that the session key (built from
 * the prefix alone, see whoFrom) is the same on connect, lease, learn and disconnect. A 2.4
 * prefix of an IPv6 (or v4-mapped) client has no port while `Peer Connection Initiated with
 * [AF_INET6]::ffff:203.0.113.5:51234` has it: the event keeps that port as rport.
 */
function reconcile(prefix: Peer | null, other: Peer | null): Peer | null {
  if (prefix && prefix.port === null && other && other.port !== null && other.ip === prefix.ip) return { ip: prefix.ip, port: other.port };
  return prefix ?? other;
}

interface Who {
  account: string | null;
  /** CN for the session key (an account may be a username, which never keys a session). */
  cn: string | null;
  peer: Peer | null;
  sessionPeer: Peer | null;
}

function whoFrom(inst: Instance, account: string | null = inst.cn, peer: Peer | null = inst.peer): Who {
  const cn = inst.cn ?? account;
  return { account, cn, peer: reconcile(inst.peer, peer), sessionPeer: inst.peer ?? peer };
}

function event(env: Envelope, ts: number, kind: OpenvpnKind, who: Who, attrs: Record<string, AttrValue> | null): ParseResult {
  const e: LogEvent = baseEvent('openvpn', ts, env.host, env.program, kind);
  e.account = who.account;
  if (who.peer) { e.rip = who.peer.ip; e.rport = who.peer.port; }
  e.session = sessionKey(who.cn, who.sessionPeer);
  e.attrs = attrs;
  return ok(e);
}

// ---------------------------------------------------------------------------------------------
// Deliberate non-events. Checked after the event patterns, by prefix.

const CHATTER: ReadonlyArray<readonly [string, string]> = [
  ['VERIFY OK', 'certificate check passed'],
  ['VERIFY KU OK', 'certificate check passed'],
  ['VERIFY EKU OK', 'certificate check passed'],
  ['VERIFY X509NAME OK', 'certificate check passed'],
  ['VERIFY SCRIPT OK', 'certificate check passed'],
  ['VERIFY PLUGIN OK', 'certificate check passed'],
  ['VERIFY WARNING', 'certificate warning'],
  ['Validating certificate', 'certificate check detail'],
  ['++ Certificate has', 'certificate check detail'],
  ['peer info:', 'client capability announcement'],
  ['Control Channel', 'control channel negotiation'],
  ['Outgoing Control Channel', 'control channel negotiation'],
  ['Incoming Control Channel', 'control channel negotiation'],
  ['Outgoing Data Channel', 'data channel cipher negotiation'],
  ['Incoming Data Channel', 'data channel cipher negotiation'],
  ['Data Channel', 'data channel cipher negotiation'],
  ['Using data channel cipher', 'data channel cipher negotiation'],
  ['Use --data-ciphers-fallback', 'data channel cipher negotiation'],
  ['PUSH:', 'push exchange'],
  ['PUSH_REPLY', 'push exchange'],
  ['SENT CONTROL', 'push exchange'],
  ['send_push_reply', 'push exchange'],
  ['AUTH: Received control message', 'push exchange'],
  ['TLS: ', 'TLS state'],
  ['TLS_ERROR:', 'TLS error detail'],
  ['TLS Error:', 'TLS error that is not an authentication failure'],
  ['OpenSSL:', 'TLS error detail'],
  ['TCP connection established with', 'TCP connection accepted'],
  ['TCP/UDP:', 'socket notice'],
  ['Socket Buffers', 'socket setup'],
  ['MULTI', 'server routing state'],
  ['IFCONFIG POOL', 'address pool setup'],
  ['ifconfig_pool', 'address pool setup'],
  ['OPTIONS IMPORT', 'client-config-dir import'],
  ['MANAGEMENT:', 'management interface'],
  ['PLUGIN_', 'plugin call'],
  ['WARNING:', 'warning'],
  ['NOTE:', 'notice'],
  ['Note:', 'notice'],
  ['DEPRECATED OPTION', 'warning'],
  ['library versions:', 'startup banner'],
  ['DCO version', 'startup banner'],
  ['Diffie-Hellman initialized', 'startup banner'],
  ['Initialization Sequence Completed', 'startup banner'],
  ['Re-using SSL/TLS context', 'startup banner'],
  ['LZO compression', 'startup banner'],
  ['Initializing stale route check', 'startup banner'],
  ['TUN/TAP', 'tunnel device setup'],
  ['Closing TUN/TAP', 'tunnel device setup'],
  ['do_ifconfig', 'tunnel device setup'],
  ['net_', 'route and interface setup'],
  ['/sbin/', 'route and interface setup'],
  ['/usr/sbin/', 'route and interface setup'],
  ['/bin/', 'route and interface setup'],
  ['ROUTE', 'route setup'],
  ['Preserving recently used remote address', 'restart detail'],
  ['Restart pause', 'restart detail'],
  ['UID set to', 'privilege drop'],
  ['GID set to', 'privilege drop'],
  ['chroot to', 'privilege drop'],
  ['mlockall', 'startup banner'],
  ['Exiting due to fatal error', 'server error'],
  ['event_wait', 'socket error'],
  ['read UDP', 'socket error'],
  ['write UDP', 'socket error'],
  ['read TCP', 'socket error'],
  ['write TCP', 'socket error'],
  ['OCC exit message', 'exit notification'],
  ['Delayed exit in', 'exit notification'],
  ['Authenticate/Decrypt packet error', 'data channel packet error'],
  ['Fatal TLS error', 'TLS error detail'],
  ['Bad encapsulated packet length', 'data channel packet error'],
  ['Client does not support', 'client capability mismatch'],
  ['Disallow float', 'float refused'],
  ['disallowing peer', 'float refused'],
  ['Unknown signal', 'signal'],
  ['GET INST BY', 'routing debug'],
  ['Cannot add peer to DCO', 'DCO error'],
  ['Received DCO message', 'DCO detail'],
  ['dco_', 'DCO detail'],
  // A status dump written to the log (SIGUSR2): read the status file instead.
  ['OpenVPN CLIENT LIST', 'status dump in the log'],
  ['OpenVPN STATISTICS', 'status dump in the log'],
  ['Updated,', 'status dump in the log'],
  ['Common Name,', 'status dump in the log'],
  ['ROUTING TABLE', 'status dump in the log'],
  ['Virtual Address,', 'status dump in the log'],
  ['GLOBAL STATS', 'status dump in the log'],
  ['Max bcast/mcast queue length', 'status dump in the log'],
  ['HEADER,', 'status dump in the log'],
  ['CLIENT_LIST,', 'status dump in the log'],
  ['ROUTING_TABLE,', 'status dump in the log'],
  ['GLOBAL_STATS,', 'status dump in the log'],
  ['TITLE,', 'status dump in the log'],
  ['TIME,', 'status dump in the log'],
  ['END', 'status dump in the log'],
];

const chatterByChar = new Map<number, Array<readonly [string, string]>>();
for (const entry of CHATTER) {
  const c = entry[0].charCodeAt(0);
  const list = chatterByChar.get(c);
  if (list) list.push(entry);
  else chatterByChar.set(c, [entry]);
}

function chatter(rest: string): string | null {
  const list = chatterByChar.get(rest.charCodeAt(0));
  if (!list) return null;
  for (const [prefix, reason] of list) if (rest.startsWith(prefix)) return reason;
  return null;
}

/** `OpenVPN 2.6.8 x86_64-pc-linux-gnu [SSL (OpenSSL)] ... built on Nov 17 2023` */
function isBanner(rest: string): boolean {
  return rest.startsWith('OpenVPN ') && isDigit(rest.charCodeAt(8));
}

// ---------------------------------------------------------------------------------------------
// Events


/**
 * `[client1] Peer Connection Initiated with [AF_INET]203.0.113.5:51234`, optionally
 * ` (via [AF_INET]192.0.2.1%eth0)` on a multihomed server, or without the `[cn]` (no CN yet).
 */
function connect(env: Envelope, ts: number, inst: Instance, rest: string, at: number): ParseResult {
  let cn = inst.cn;
  if (at > 0) {
    const head = rest.slice(0, at).trimEnd();
    if (head.charCodeAt(0) === 91 && head.charCodeAt(head.length - 1) === 93) cn = cnOrNull(head.slice(1, -1)) ?? cn;
    else return unparsed('text before "Peer Connection Initiated" is not a [cn]');
  }
  const tail = rest.slice(at + PCI.length);
  const sp = tail.indexOf(' ');
  const sa = parseSockaddr(sp < 0 ? tail : tail.slice(0, sp));
  const peer = reconcile(inst.peer, sa && sa.ip ? { ip: sa.ip, port: sa.port } : null);
  if (!peer) return unparsed('Peer Connection Initiated without a peer address');
  let attrs: Record<string, AttrValue> | null = null;
  let lip: string | null = null;
  const via = tail.indexOf('(via ');
  if (via > 0) {
    let end = tail.indexOf(')', via);
    if (end < 0) end = tail.length;
    let v = tail.slice(via + 5, end);
    const pct = v.indexOf('%');
    if (pct > 0) { attrs = { iface: v.slice(pct + 1) }; v = v.slice(0, pct); }
    lip = parseSockaddr(v)?.ip ?? null;
  }
  const res = event(env, ts, 'connect', { account: cn, cn, peer, sessionPeer: inst.peer ?? peer }, attrs);
  if (res.type === 'event') res.event.lip = lip;
  return res;
}

/** `MULTI_sva: pool returned IPv4=198.51.100.6, IPv6=2001:db8:0:123::1000` */
function poolLease(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult {
  const body = rest.slice(POOL_RETURNED.length);
  const i4 = body.indexOf('IPv4=');
  const i6 = body.indexOf('IPv6=');
  let v4: string | null = null, v6: string | null = null;
  if (i4 >= 0) {
    const end = body.indexOf(',', i4);
    v4 = normalizeIp(body.slice(i4 + 5, end < 0 ? body.length : end).trim());
  }
  if (i6 >= 0) v6 = normalizeIp(body.slice(i6 + 5).trim());
  if (!v4 && !v6) return i4 >= 0 || i6 >= 0 ? skip('address pool returned no address') : unparsed('MULTI_sva line without IPv4= or IPv6=');
  const attrs: Record<string, AttrValue> = { vip: v4, via: 'pool' };
  if (v6) attrs.vip6 = v6;
  return event(env, ts, 'lease', whoFrom(inst), attrs);
}

/** `MULTI: primary virtual IP for client1/203.0.113.5:51234: 198.51.100.6` (and `IPv6`) */
function primaryLease(env: Envelope, ts: number, inst: Instance, rest: string, six: boolean): ParseResult {
  const body = rest.slice((six ? PRIMARY_IP6 : PRIMARY_IP).length);
  const colon = body.lastIndexOf(': ');
  if (colon < 0) return unparsed('primary virtual IP line without an address');
  const ip = normalizeIp(body.slice(colon + 2).trim());
  if (!ip) return unparsed('primary virtual IP is not an IP address');
  const ref = instanceRef(body.slice(0, colon));
  const cn = refCn(inst, ref);
  const peer = inst.peer ?? ref?.peer ?? null;
  const who = { account: cn, cn, peer, sessionPeer: peer };
  const attrs: Record<string, AttrValue> = six ? { vip: null, vip6: ip, via: 'primary' } : { vip: ip, via: 'primary' };
  return event(env, ts, 'lease', who, attrs);
}

const MAC = /^([0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5})(?:@\d{1,5})?$/;

/**
 * `MULTI: Learn: 198.51.100.6 -> client1/203.0.113.5:51234`; also an IPv6 address, a subnet
 * from --iroute (`192.0.2.128/25`), a MAC with its VLAN in tap mode (`00:ff:4c:2e:5d:3a@0`).
 */
function learn(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult {
  const body = rest.slice(LEARN.length);
  const arrow = body.indexOf(' -> ');
  if (arrow < 0) return unparsed('MULTI: Learn without " -> "');
  let addr = body.slice(0, arrow).trim();
  if (addr.startsWith('ARP/')) addr = addr.slice(4);
  const ref = instanceRef(body.slice(arrow + 4));
  const cn = refCn(inst, ref);
  const peer = inst.peer ?? ref?.peer ?? null;
  const who = { account: cn, cn, peer, sessionPeer: peer };
  const attrs: Record<string, AttrValue> = {};
  const slash = addr.indexOf('/');
  const mac = MAC.exec(addr);
  if (mac) attrs.mac = mac[1].toLowerCase();
  else if (slash > 0) {
    const ip = normalizeIp(addr.slice(0, slash));
    const bits = toPort(addr.slice(slash + 1));
    if (!ip || bits === null || !(bits <= 128)) return unparsed('MULTI: Learn of an unreadable subnet');
    attrs.net = `${ip}/${bits}`;
  } else {
    const ip = normalizeIp(addr);
    if (!ip) return unparsed('MULTI: Learn of an unreadable address');
    if (ip.indexOf(':') >= 0) attrs.vip6 = ip;
    else attrs.vip = ip;
  }
  return event(env, ts, 'learn', who, attrs);
}

/**
 * `SIGTERM[soft,remote-exit] received, client-instance exiting` (sig.c print_signal). The text
 * after the comma is free: DCO writes `ovpn-dco: ping expired` there.
 */
function signal(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  const lb = rest.indexOf('[');
  if (lb < 5 || lb > 9) return null;
  const close = rest.indexOf(RECEIVED, lb);
  if (close < 0) return null;
  const sig = rest.slice(0, lb);
  const inner = rest.slice(lb + 1, close);
  const comma = inner.indexOf(',');
  const text = comma < 0 ? '' : inner.slice(comma + 1);
  const tail = rest.slice(close + RECEIVED.length);
  if (!tail.startsWith('client-instance')) return skip(`server process signal: ${sig}`);
  const attrs: Record<string, AttrValue> = { reason: text || sig.toLowerCase(), signal: sig, restart: tail.endsWith('restarting') };
  return event(env, ts, 'disconnect', whoFrom(inst), attrs);
}

/** `Inactivity timeout (--ping-restart), restarting` → `ping-restart` */
function inactivity(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult {
  const a = rest.indexOf('(--');
  const b = rest.indexOf(')', a);
  const reason = a > 0 && b > a ? rest.slice(a + 3, b) : 'inactivity';
  return event(env, ts, 'disconnect', whoFrom(inst), { reason, signal: null, restart: rest.endsWith('restarting') });
}

/** `peer 3 (client1) floated from 203.0.113.5:51234 to [AF_INET]203.0.113.9:40001` */
function floated(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult {
  const open = rest.indexOf(' (');
  const close = rest.indexOf(FLOATED);
  const to = rest.lastIndexOf(' to ');
  if (open < 0 || close < open || to < close) return unparsed('unreadable float message');
  const cn = cnOrNull(rest.slice(open + 2, close));
  const from = parsePeer(rest.slice(close + FLOATED.length, to));
  const peer = parsePeer(rest.slice(to + 4).trim());
  if (!peer) return unparsed('float target is not an address');
  const peerId = Number(rest.slice(5, open));
  const attrs: Record<string, AttrValue> = { float: true, fromIp: from?.ip ?? null, fromPort: from?.port ?? null };
  if (Number.isSafeInteger(peerId)) attrs.peerId = peerId;
  return event(env, ts, 'connect', { account: cn, cn, peer, sessionPeer: peer }, attrs);
}

/** `closing instance client1/203.0.113.5:51234 due to float collision with client1/... using the same certificate` */
function floatCollision(env: Envelope, ts: number, rest: string): ParseResult {
  const end = rest.indexOf(' due to float collision');
  const ref = instanceRef(rest.slice(CLOSING.length, end));
  if (!ref) return unparsed('unreadable float collision message');
  const cn = cnOrNull(ref.cn);
  return event(env, ts, 'disconnect', { account: cn, cn, peer: ref.peer, sessionPeer: ref.peer }, { reason: 'float-collision', signal: null, restart: false });
}

/**
 * `UDPv4 link local (bound): [AF_INET][undef]:1194`, `TCPv4_SERVER link local (bound): [AF_INET]192.0.2.1:443`,
 * `Listening for incoming TCP connection on [AF_INET][undef]:443`.
 */
function listen(env: Envelope, ts: number, proto: 'udp' | 'tcp', addr: string): ParseResult {
  let a = addr.trim();
  const sp = a.indexOf(' ');
  if (sp > 0) a = a.slice(0, sp);
  let sa: { ip: string | null; port: number | null } | null;
  if (a.startsWith('[undef]')) sa = { ip: null, port: a.charCodeAt(7) === 58 ? toPort(a.slice(8)) : null };
  else if (a.startsWith('[AF_')) sa = parseSockaddr(a);
  else sa = splitHostPort(a);
  if (!sa || sa.port === null) return unparsed('listening socket without a port');
  const e = baseEvent('openvpn', ts, env.host, env.program, 'listen');
  e.lport = sa.port;
  e.lip = sa.ip === '0.0.0.0' || sa.ip === '::' ? null : sa.ip;
  e.attrs = { proto };
  return ok(e);
}

interface FailOpts {
  /** Who failed, when the line names them (a CN, or a username with `username: true`). */
  account?: string | null;
  /** The account is a username: it names the account but never keys the session. */
  username?: boolean;
  peer?: Peer | null;
  extra?: Record<string, AttrValue>;
}

function authFail(env: Envelope, ts: number, inst: Instance, reason: string, opts: FailOpts = {}): ParseResult {
  const account = opts.account !== undefined && opts.account !== null ? opts.account : inst.cn;
  const peer = reconcile(inst.peer, opts.peer ?? null);
  const who = { account, cn: inst.cn ?? (opts.username ? null : account), peer, sessionPeer: inst.peer ?? peer };
  return event(env, ts, 'auth-fail', who, { reason, ...opts.extra });
}

/**
 * `VERIFY ERROR: depth=0, error=certificate has expired: C=US, O=Example, CN=client1, serial=5`
 * and the other VERIFY failures (ssl_verify.c, ssl_verify_openssl.c). The CN is taken only from
 * the peer's own certificate (depth 0), never from a CA in the chain.
 */
function verifyFail(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  const colon = rest.indexOf(': ');
  if (colon < 0) return rest.endsWith(' ERROR') ? authFail(env, ts, inst, 'verify') : null;
  const what = rest.slice('VERIFY '.length, colon); // `ERROR`, `SCRIPT ERROR`, `CRL`, `X509NAME ERROR`, ...
  const body = rest.slice(colon + 2);
  const isCrl = what === 'CRL';
  if (!isCrl && !what.endsWith('ERROR')) return null;
  const depth = depthOf(body);
  const extra: Record<string, AttrValue> = {};
  let subject = body;
  if (depth !== null) {
    extra.depth = depth;
    const comma = body.indexOf(', ');
    subject = comma > 0 ? body.slice(comma + 2) : '';
  }
  if (subject.startsWith('error=')) {
    const end = subject.indexOf(': ');
    extra.error = subject.slice(6, end < 0 ? subject.length : end);
    subject = end < 0 ? '' : subject.slice(end + 2);
  }
  // X509NAME and nsCertType checks look at the peer's own certificate only.
  const own = depth === 0 || (depth === null && (what === 'X509NAME ERROR' || what === 'nsCertType ERROR'));
  const cn = own ? cnFromSubject(subject) : null;
  const reason = isCrl ? (body.endsWith('is revoked') ? 'revoked' : 'crl') : 'verify';
  return authFail(env, ts, inst, reason, { account: cn, extra });
}

const TLS_ERRORS: ReadonlyArray<readonly [string, string]> = [
  ['TLS Error: cannot locate HMAC', 'hmac'],
  ['TLS Error: incoming packet authentication failed', 'hmac'],
  ['TLS Error: tls-crypt unwrapping failed', 'tls-crypt'],
  ['TLS Error: can not extract tls-crypt-v2', 'tls-crypt'],
  ['TLS Error: --tls-verify', 'verify'],
  ['TLS Error: Convoluted certificate chain', 'verify'],
];

/** `TLS Auth Error: ...` (ssl_verify.c): user/pass, client-config-dir, CN or username change. */
function tlsAuthError(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult {
  const body = rest.slice(rest.indexOf(': ') + 2);
  if (body.startsWith('Auth Username/Password verification failed')) return authFail(env, ts, inst, 'password');
  if (body.startsWith('--client-config-dir authentication failed for common name ')) {
    // `... for common name 'client1' file='/etc/openvpn/ccd/client1'`
    const a = body.indexOf("'");
    const b = a < 0 ? -1 : body.indexOf("' file=", a + 1);
    return authFail(env, ts, inst, 'ccd', { account: b > a ? cnOrNull(body.slice(a + 1, b)) : null });
  }
  if (body.startsWith('TLS object CN attempted to change from ') || body.startsWith('username attempted to change from ')) {
    const a = body.indexOf("'");
    const b = a < 0 ? -1 : body.indexOf("' to '", a + 1);
    const cnChange = body.startsWith('TLS');
    return authFail(env, ts, inst, cnChange ? 'cn-change' : 'username-change', { account: b > a ? body.slice(a + 1, b) : null, username: !cnChange });
  }
  if (body.startsWith('peer provided a blank username')) return authFail(env, ts, inst, 'blank-username');
  if (body.startsWith('--username-as-common name')) return authFail(env, ts, inst, 'username-too-long');
  if (body.startsWith('TLS object CN=')) {
    // `TLS object CN=client1 client-provided SSL certs unexpectedly changed during mid-session reauth`
    const end = body.indexOf(' client-provided SSL certs');
    return authFail(env, ts, inst, 'cert-change', { account: end > 14 ? cnOrNull(body.slice(14, end)) : null });
  }
  return authFail(env, ts, inst, 'auth-error');
}

/**
 * `TLS: Username/Password authentication succeeded for username 'bob' [CN SET]`, or `deferred`;
 * `TLS: Username/auth-token authentication succeeded|failed for username 'bob'`.
 */
function userPass(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  const token = rest.startsWith(USERPASS_TOKEN);
  if (!token && !rest.startsWith(USERPASS)) return null;
  const body = rest.slice((token ? USERPASS_TOKEN : USERPASS).length);
  const q = body.indexOf(FOR_USERNAME);
  const end = body.lastIndexOf("'");
  const user = q >= 0 && end > q + FOR_USERNAME.length ? body.slice(q + FOR_USERNAME.length, end) : null;
  const method = token ? 'auth-token' : 'password';
  if (body.startsWith('succeeded')) {
    const attrs: Record<string, AttrValue> = { method };
    if (body.endsWith('[CN SET]')) attrs.cnSet = true;
    return event(env, ts, 'auth-ok', { account: user || null, cn: inst.cn, peer: inst.peer, sessionPeer: inst.peer }, attrs);
  }
  if (body.startsWith('failed')) return authFail(env, ts, inst, method, { account: user || null, username: true });
  if (body.startsWith('deferred')) return skip('authentication deferred to a plugin or script');
  return null;
}

/** `SENT CONTROL [client1]: 'AUTH_FAILED,Invalid credentials' (status=1)` */
function sentControl(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  const q = rest.indexOf("'AUTH_FAILED");
  if (q < 0) return null;
  const rb = rest.indexOf(']: ');
  const cn = rest.charCodeAt(13) === 91 && rb > 13 ? cnOrNull(rest.slice(14, rb)) : null;
  const end = rest.indexOf("'", q + 1);
  const text = rest.slice(q + 1, end < 0 ? rest.length : end);
  const extra: Record<string, AttrValue> = {};
  const comma = text.indexOf(',');
  if (comma > 0 && comma + 1 < text.length) extra.message = text.slice(comma + 1, comma + 201);
  return authFail(env, ts, inst, 'auth-failed', { account: cn, extra });
}

const AUTH_PLUGINS = new Set(['PLUGIN_AUTH_USER_PASS_VERIFY', 'PLUGIN_TLS_VERIFY', 'PLUGIN_CLIENT_CONNECT', 'PLUGIN_CLIENT_CONNECT_V2']);

/** `PLUGIN_CALL: plugin function PLUGIN_AUTH_USER_PASS_VERIFY failed with status 1: /usr/lib/openvpn/plugin.so` */
function pluginFail(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  if (!rest.startsWith(PLUGIN_FN)) return null;
  const body = rest.slice(PLUGIN_FN.length);
  const sp = body.indexOf(FAILED_STATUS);
  if (sp < 0) return null;
  const fn = body.slice(0, sp);
  const status = body.charCodeAt(sp + FAILED_STATUS.length) - 48;
  // 2.4 also logs the deferred status (2) here; that is no failure.
  if (status === 2) return skip('plugin deferred its answer');
  if (!AUTH_PLUGINS.has(fn)) return skip('plugin call failed');
  return authFail(env, ts, inst, 'plugin', { extra: { plugin: fn } });
}

/** `WARNING: Failed running command (--auth-user-pass-verify): external program exited with error status: 1` */
function scriptFail(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  if (!rest.startsWith(SCRIPT_FAILED)) return null;
  const end = rest.indexOf(')', SCRIPT_FAILED.length);
  const what = end < 0 ? '' : rest.slice(SCRIPT_FAILED.length, end);
  if (what === '--auth-user-pass-verify') return authFail(env, ts, inst, 'auth-script');
  if (what.startsWith('--tls-verify')) return authFail(env, ts, inst, 'verify');
  if (what === '--client-connect') return authFail(env, ts, inst, 'client-connect');
  return null;
}

/** MULTI: lines that are events; the rest is routing state. */
function multi(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult | null {
  if (rest.startsWith(POOL_RETURNED)) return poolLease(env, ts, inst, rest);
  if (rest.startsWith(PUSH_IFCONFIG_IPV6)) {
    const v = rest.slice(PUSH_IFCONFIG_IPV6.length);
    const slash = v.indexOf('/');
    const ip = normalizeIp(slash > 0 ? v.slice(0, slash) : v.trim());
    if (!ip) return unparsed('push_ifconfig_ipv6 is not an IPv6 address');
    return event(env, ts, 'lease', whoFrom(inst), { vip: null, vip6: ip, via: 'static' });
  }
  if (rest.startsWith(LEARN)) return learn(env, ts, inst, rest);
  if (rest.startsWith(PRIMARY_IP)) return primaryLease(env, ts, inst, rest, false);
  if (rest.startsWith(PRIMARY_IP6)) return primaryLease(env, ts, inst, rest, true);
  if (rest.startsWith(REJECTED)) {
    const m = rest.slice(REJECTED.length);
    const cli = m.lastIndexOf(', CLI:');
    return authFail(env, ts, inst, 'rejected', { extra: { message: (cli > 0 ? m.slice(0, cli) : m).slice(0, 200) } });
  }
  if (rest.startsWith('MULTI: client has been rejected due to ')) {
    return authFail(env, ts, inst, rest.indexOf("'disable'") > 0 ? 'disabled' : 'rejected');
  }
  return null;
}

function classify(env: Envelope, ts: number, inst: Instance, rest: string): ParseResult {
  const c = rest.charCodeAt(0);
  let r: ParseResult | null = null;
  switch (c) {
    case 77: // M
      r = multi(env, ts, inst, rest);
      break;
    case 84: // T
      if (rest.startsWith(TLS_INITIAL)) {
        const body = rest.slice(TLS_INITIAL.length);
        const comma = body.indexOf(',');
        const sa = parseSockaddr(comma < 0 ? body : body.slice(0, comma));
        const peer = reconcile(inst.peer, sa && sa.ip ? { ip: sa.ip, port: sa.port } : null);
        if (!peer) return unparsed('TLS initial packet without a peer address');
        const sid = body.indexOf('sid=');
        return event(env, ts, 'tls-initial', whoFrom(inst, inst.cn, peer), sid > 0 ? { sid: body.slice(sid + 4, sid + 40).trim() } : null);
      }
      if (rest.startsWith('TLS Auth Error')) return tlsAuthError(env, ts, inst, rest);
      if (rest.startsWith('TLS Error: ')) {
        // `TLS key negotiation failed to occur within 60 seconds (check your network
        // connectivity)`: no answer in time, a network matter (or a scanner), never a wrong
        // credential, so not an auth-fail that would feed the brute-force finding. The
        // `TLS handshake failed` that follows it (or a VERIFY ERROR, itself an auth-fail)
        // is a handshake that did not complete, whatever the cause: `tls-fail`.
        if (rest.startsWith('TLS Error: TLS key negotiation failed')) return event(env, ts, 'timeout', whoFrom(inst, inst.cn, fromAddress(rest)), { reason: 'tls-timeout' });
        if (rest.startsWith('TLS Error: TLS handshake failed')) return event(env, ts, 'tls-fail', whoFrom(inst, inst.cn, fromAddress(rest)), { reason: 'tls-handshake' });
        for (const [prefix, reason] of TLS_ERRORS) {
          if (rest.startsWith(prefix)) return authFail(env, ts, inst, reason, { peer: fromAddress(rest) });
        }
      } else if (rest.startsWith('TLS: Username/')) r = userPass(env, ts, inst, rest);
      else if (rest.startsWith('TCP') && rest.indexOf(' link ') > 0) r = linkLocal(env, ts, rest);
      break;
    case 85: // U
      if (rest.startsWith('UDP') && rest.indexOf(' link ') > 0) r = linkLocal(env, ts, rest);
      break;
    case 76: // L
      if (rest.startsWith(TCP_LISTEN)) return listen(env, ts, 'tcp', rest.slice(TCP_LISTEN.length));
      break;
    case 91: // [
    case 80: { // P
      const at = rest.indexOf(PCI);
      if (at >= 0 && at <= MAX_CN + 3) return connect(env, ts, inst, rest, at);
      if (c === 80) r = pluginFail(env, ts, inst, rest);
      break;
    }
    case 83: // S
      if (rest.startsWith('SIG')) r = signal(env, ts, inst, rest);
      else if (rest.startsWith('SENT CONTROL')) r = sentControl(env, ts, inst, rest);
      break;
    case 73: // I
      if (rest.startsWith('Inactivity timeout')) return inactivity(env, ts, inst, rest);
      break;
    case 67: // C
      if (rest.startsWith('Connection reset, ')) {
        return event(env, ts, 'disconnect', whoFrom(inst), { reason: 'connection-reset', signal: null, restart: rest.startsWith('Connection reset, restarting') });
      }
      if (rest.startsWith(CRL_FAILED)) {
        const subj = rest.slice(CRL_FAILED.length);
        const paren = subj.lastIndexOf(' (serial');
        return authFail(env, ts, inst, 'revoked', { account: cnFromSubject(paren > 0 ? subj.slice(0, paren) : subj) });
      }
      break;
    case 86: // V
      if (rest.startsWith('VERIFY ')) r = verifyFail(env, ts, inst, rest);
      break;
    case 87: // W
      r = scriptFail(env, ts, inst, rest);
      break;
    case 65: // A
      if (rest.startsWith('AUTH_FAILED') || rest.startsWith('AUTH: Received control message: AUTH_FAILED')) return authFail(env, ts, inst, 'auth-failed');
      if (rest.startsWith('Auth ') && rest.indexOf('verification failed') > 0) return authFail(env, ts, inst, 'password');
      break;
    case 112: // p
      if (rest.startsWith('peer ') && rest.indexOf(FLOATED) > 0) return floated(env, ts, inst, rest);
      break;
    case 99: // c
      if (rest.startsWith(CLOSING) && rest.indexOf(' due to float collision') > 0) return floatCollision(env, ts, rest);
      break;
    case 79: // O
      if (isBanner(rest)) return skip('startup banner');
      break;
  }
  if (r) return r;
  const why = chatter(rest);
  if (why) return skip(why);
  if (isStatusRow(rest)) return skip('status dump in the log');
  return unparsed(inst.peer ? 'unrecognised OpenVPN client message' : 'unrecognised OpenVPN message');
}

/**
 * A status dump row written to the log on SIGUSR2 (`--status` version 1 without a file):
 * `client1,203.0.113.5:51234,1048576,8388608,Fri Nov 20 08:00:00 2026` or
 * `198.51.100.6,client1,203.0.113.5:51234,Fri Nov 20 09:20:01 2026`.
 */
function isStatusRow(rest: string): boolean {
  const f = rest.split(',', 6);
  if (f.length < 4) return false;
  if (parsePeer(f[1]) && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3])) return true;
  return f.length === 4 && parsePeer(f[2]) !== null;
}

/** `UDPv4 link local (bound): [AF_INET][undef]:1194`; `link remote` and `(not bound)` are setup chatter. */
function linkLocal(env: Envelope, ts: number, rest: string): ParseResult | null {
  const i = rest.indexOf(' link local');
  if (i < 0 || i > 16) return rest.indexOf(' link remote') > 0 ? skip('socket setup') : null;
  const colon = rest.indexOf(': ', i);
  if (colon < 0 || rest.indexOf('(not bound)', i) > 0) return skip('socket setup');
  return listen(env, ts, rest.charCodeAt(0) === 85 ? 'udp' : 'tcp', rest.slice(colon + 2));
}

/** Skip `2026-11-20 09:20:02 ` or `Fri Nov 20 09:20:02 2026 ` that OpenVPN wrote into a syslog message. */
function stripInlineStamp(msg: string): string {
  const c = msg.charCodeAt(0);
  if (isDigit(c) && msg.charCodeAt(4) === 45 && msg.charCodeAt(7) === 45 && msg.charCodeAt(10) === 32 &&
      msg.charCodeAt(13) === 58 && msg.charCodeAt(16) === 58 && msg.charCodeAt(19) === 32) return msg.slice(20);
  if (c >= 65 && c <= 90 && msg.charCodeAt(3) === 32 && msg.charCodeAt(7) === 32 &&
      msg.charCodeAt(13) === 58 && msg.charCodeAt(16) === 58 && msg.charCodeAt(19) === 32 && isDigit(msg.charCodeAt(20)) &&
      msg.charCodeAt(24) === 32) return msg.slice(25);
  return msg;
}

function parseMessage(env: Envelope, ctx: ParseContext): ParseResult {
  let msg = env.msg;
  let ts = env.ts;
  let end = msg.length;
  while (end > 0 && msg.charCodeAt(end - 1) <= 32) end--;
  if (end < msg.length) msg = msg.slice(0, end);
  if (env.form !== 'native') {
    const bare = stripInlineStamp(msg);
    if (bare !== msg && env.form === 'bsd') {
      // OpenVPN's own stamp carries the year: it dates the line, not the year-less syslog stamp
      // (as BIND's does). A stamp with an offset (RFC 3339, RFC 5424, the journal) is kept.
      const inner = parseEnvelope(msg, ctx);
      if (!isEnvelopeError(inner) && inner.form === 'native') ts = inner.ts;
    }
    msg = bare;
  }
  // `us=769549 `: microseconds after the stamp, written by older OpenVPN at higher verbosity.
  if (msg.startsWith('us=')) {
    let j = 3, us = 0;
    while (j < 10 && isDigit(msg.charCodeAt(j))) { us = us * 10 + msg.charCodeAt(j) - 48; j++; }
    if (j > 3 && msg.charCodeAt(j) === 32) {
      if (env.form === 'native') ts += Math.floor(us / 1000);
      msg = msg.slice(j + 1);
    }
  }
  if (msg === '') return skip('empty OpenVPN message');
  const inst = splitInstance(msg);
  let rest = inst.rest;
  // ` peer-id=3` after the prefix at DCO debug verbosity.
  if (inst.peer && rest.startsWith('peer-id=')) {
    const sp = rest.indexOf(' ');
    rest = sp < 0 ? '' : rest.slice(sp + 1);
  }
  if (rest === '') return unparsed('OpenVPN client prefix without a message');
  return classify(env, ts, inst, rest);
}

/** Messages that only OpenVPN writes, for recognising lines of its own log file. */
const SNIFF_PREFIXES = [
  'MULTI:', 'MULTI_sva:', 'TLS: ', 'TLS Error:', 'TLS Auth Error', 'TLS_ERROR:', 'VERIFY ', 'Peer Connection Initiated',
  'UDPv4 link', 'UDPv6 link', 'UDP link', 'TCPv4_SERVER link', 'TCPv6_SERVER link', 'TCP_SERVER link',
  'TCP connection established with', 'Listening for incoming TCP connection', 'Initialization Sequence Completed',
  'SIGTERM[', 'SIGUSR1[', 'SIGHUP[', 'SIGINT[', 'library versions:', 'Diffie-Hellman initialized', 'IFCONFIG POOL',
  'Control Channel', 'Outgoing Data Channel', 'Incoming Data Channel', 'Outgoing Control Channel',
  'Incoming Control Channel', 'Socket Buffers:', 'TUN/TAP device', 'PLUGIN_CALL:', 'PUSH:', 'SENT CONTROL [',
  'Inactivity timeout (--ping', 'Connection reset, restarting', 'peer info:', 'DCO version', 'Re-using SSL/TLS context',
  'net_route_v', 'net_addr_v', 'net_iface_',
];

const sniffByChar = new Map<number, string[]>();
for (const p of SNIFF_PREFIXES) {
  const c = p.charCodeAt(0);
  const list = sniffByChar.get(c);
  if (list) list.push(p);
  else sniffByChar.set(c, [p]);
}

export const openvpn: SourceParser = {
  source: 'openvpn',
  matchesProgram(program: string): boolean {
    return program === 'openvpn' || program === 'ovpn' || program.startsWith('ovpn-') ||
      program.startsWith('openvpn@') || program.startsWith('openvpn-');
  },
  sniffNative(raw: string): boolean {
    let msg = raw;
    if (msg.startsWith('us=')) msg = msg.slice(msg.indexOf(' ') + 1);
    if (isBanner(msg)) return true;
    if (msg.charCodeAt(0) === 91) {
      const at = msg.indexOf(PCI);
      if (at > 0 && at <= MAX_CN + 3) return true;
    }
    const list = sniffByChar.get(msg.charCodeAt(0));
    if (list) for (const p of list) if (msg.startsWith(p)) return true;
    const inst = splitInstance(msg.length > 512 ? msg.slice(0, 512) : msg);
    return inst.peer !== null && inst.rest.length > 0;
  },
  parseMessage,
};

export const parseLine = lineParser(openvpn);
