import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { LogEvent, ParseContext, ParseResult } from '../../src/events.js';
import { normalizeIp } from '../../src/parsers/common.js';
import { parseAny } from '../../src/parsers/index.js';
import { cnFromSubject, OPENVPN_KINDS, openvpn, parseLine, parsePeer, splitInstance } from '../../src/parsers/openvpn.js';

const CTX: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 10, 21) };
const CORPUS = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus');
const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'logs', 'openvpn');

function ev(line: string, ctx: ParseContext = CTX): LogEvent {
  const r = parseLine(line, ctx);
  if (r.type !== 'event') throw new Error(`expected an event from ${JSON.stringify(line)}, got ${JSON.stringify(r)}`);
  return r.event;
}

function miss(line: string): ParseResult {
  const r = parseLine(line, CTX);
  expect(r.type, JSON.stringify(r)).not.toBe('event');
  return r;
}

/** The contract every OpenVPN event keeps: known kind, UTC instant, canonical IPs, ports in range, small attrs. */
function expectContract(e: LogEvent): void {
  expect(OPENVPN_KINDS).toContain(e.kind);
  expect(e.source).toBe('openvpn');
  expect(Number.isFinite(e.ts)).toBe(true);
  for (const ip of [e.rip, e.lip]) if (ip !== null) expect(normalizeIp(ip)).toBe(ip);
  for (const p of [e.rport, e.lport]) if (p !== null) expect(Number.isInteger(p) && p >= 0 && p <= 65535).toBe(true);
  for (const k of ['vip', 'vip6'] as const) {
    const v = e.attrs?.[k];
    if (typeof v === 'string') expect(normalizeIp(v)).toBe(v);
  }
  for (const v of Object.values(e.attrs ?? {})) expect(['string', 'number', 'boolean'].includes(typeof v) || v === null).toBe(true);
  if (e.session !== null && e.rip !== null && e.kind !== 'listen') expect(e.session).toContain(e.rip);
}

const T = '2026-11-20 09:20:02';
const T_MS = Date.UTC(2026, 10, 20, 9, 20, 2);

describe('OpenVPN: client-instance prefix', () => {
  it('finds the CN and real address in every form OpenVPN writes', () => {
    const cases: Array<[string, string | null, string, number | null, string]> = [
      ['203.0.113.5:51234 TLS: x', null, '203.0.113.5', 51234, 'TLS: x'],
      ['client1/203.0.113.5:51234 MULTI: x', 'client1', '203.0.113.5', 51234, 'MULTI: x'],
      ['vpn client 01/203.0.113.5:51234 MULTI: x', 'vpn client 01', '203.0.113.5', 51234, 'MULTI: x'],
      ['ops/team.a/203.0.113.5:51234 PUSH: x', 'ops/team.a', '203.0.113.5', 51234, 'PUSH: x'],
      ['bob@example.org/203.0.113.5:51234 x', 'bob@example.org', '203.0.113.5', 51234, 'x'],
      ['10.20.30.40/203.0.113.5:51234 x', '10.20.30.40', '203.0.113.5', 51234, 'x'],
      ['client6/[2001:db8::5]:51234 x', 'client6', '2001:db8::5', 51234, 'x'],
      ['[2001:db8::5]:51234 x', null, '2001:db8::5', 51234, 'x'],
      ['old24/2001:db8::7 x', 'old24', '2001:db8::7', null, 'x'],
      ['2001:DB8:0:0:0:0:0:7 x', null, '2001:db8::7', null, 'x'],
      ['[AF_INET]203.0.113.5:51234 x', null, '203.0.113.5', 51234, 'x'],
      ['[AF_INET6]::ffff:203.0.113.5:51234 x', null, '203.0.113.5', 51234, 'x'],
      ['udp4:203.0.113.5:51234 x', null, '203.0.113.5', 51234, 'x'],
      ['client1/tcp4-server:203.0.113.5:51234 x', 'client1', '203.0.113.5', 51234, 'x'],
    ];
    for (const [msg, cn, ip, port, rest] of cases) {
      expect(splitInstance(msg), msg).toEqual({ cn, peer: { ip, port }, rest });
    }
  });

  it('does not mistake message text for a prefix', () => {
    for (const msg of [
      'MULTI: Learn: 198.51.100.6 -> client1/203.0.113.5:51234',
      'MULTI: primary virtual IP for client1/203.0.113.5:51234: 198.51.100.6',
      'net_addr_v4_add: 198.51.100.1/24 dev tun0',
      'closing instance client1/203.0.113.5:51234 due to float collision with client1/203.0.113.9:1 using the same certificate',
      'TLS: Username/Password authentication succeeded',
      'add cafe dead beef',
      'UDPv4 link local (bound): [AF_INET][undef]:1194',
    ]) {
      expect(splitInstance(msg).peer, msg).toBeNull();
    }
  });

  it('reads real addresses and X509 subjects', () => {
    expect(parsePeer('[AF_INET6]2001:db8::5:51234')).toEqual({ ip: '2001:db8::5', port: 51234 });
    expect(parsePeer('::ffff:203.0.113.5')).toEqual({ ip: '203.0.113.5', port: null });
    expect(parsePeer('client1')).toBeNull();
    expect(parsePeer('tls:203.0.113.5:1')).toBeNull();
    expect(cnFromSubject('C=NL, O=Example, CN=vpn client 02, emailAddress=a@example.org')).toBe('vpn client 02');
    expect(cnFromSubject('/C=NL/O=Example/CN=client89/emailAddress=x@example.org')).toBe('client89');
    expect(cnFromSubject('C=NL, O=ExampleCN=bogus')).toBeNull();
  });
});

describe('OpenVPN: events', () => {
  it('tls-initial', () => {
    const e = ev(`${T} 203.0.113.5:51234 TLS: Initial packet from [AF_INET]203.0.113.5:51234, sid=1a2b3c4d 5e6f7a8b`);
    expect(e).toMatchObject({ kind: 'tls-initial', ts: T_MS, account: null, rip: '203.0.113.5', rport: 51234, session: '203.0.113.5:51234', program: null, host: null });
    expect(e.attrs).toEqual({ sid: '1a2b3c4d 5e6f7a8b' });
  });

  it('connect, with or without the CN and a local address', () => {
    const a = ev(`${T} 203.0.113.5:51234 [client1] Peer Connection Initiated with [AF_INET]203.0.113.5:51234`);
    expect(a).toMatchObject({ kind: 'connect', account: 'client1', rip: '203.0.113.5', rport: 51234, session: 'client1/203.0.113.5:51234', lip: null });
    const b = ev(`${T} client1/203.0.113.5:51234 [client1] Peer Connection Initiated with [AF_INET]203.0.113.5:51234 (via [AF_INET]192.0.2.1%eth0)`);
    expect(b).toMatchObject({ account: 'client1', session: 'client1/203.0.113.5:51234', lip: '192.0.2.1', attrs: { iface: 'eth0' } });
    const c = ev(`${T} Peer Connection Initiated with [AF_INET]203.0.113.5:51234`);
    expect(c).toMatchObject({ kind: 'connect', account: null, rip: '203.0.113.5', rport: 51234, session: '203.0.113.5:51234' });
    const d = ev(`${T} [weird] name] Peer Connection Initiated with [AF_INET6]2001:db8::5:51234`);
    expect(d).toMatchObject({ account: 'weird] name', rip: '2001:db8::5', rport: 51234, session: 'weird] name/[2001:db8::5]:51234' });
  });

  it('lease and learn share the session of connect', () => {
    const lease = ev(`${T} client1/203.0.113.5:51234 MULTI_sva: pool returned IPv4=198.51.100.6, IPv6=(Not enabled)`);
    expect(lease).toMatchObject({ kind: 'lease', account: 'client1', rip: '203.0.113.5', rport: 51234, session: 'client1/203.0.113.5:51234', attrs: { vip: '198.51.100.6', via: 'pool' } });
    expect(lease.attrs).not.toHaveProperty('vip6');
    const both = ev(`${T} client6/[2001:db8::5]:51234 MULTI_sva: pool returned IPv4=198.51.100.14, IPv6=2001:DB8:0:123:0:0:0:1002`);
    expect(both.attrs).toEqual({ vip: '198.51.100.14', vip6: '2001:db8:0:123::1002', via: 'pool' });
    const primary = ev(`${T} client1/203.0.113.5:51234 MULTI: primary virtual IP for client1/203.0.113.5:51234: 198.51.100.6`);
    expect(primary).toMatchObject({ kind: 'lease', session: 'client1/203.0.113.5:51234', attrs: { vip: '198.51.100.6', via: 'primary' } });
    const learn = ev(`${T} client1/203.0.113.5:51234 MULTI: Learn: 198.51.100.6 -> client1/203.0.113.5:51234`);
    expect(learn).toMatchObject({ kind: 'learn', account: 'client1', session: 'client1/203.0.113.5:51234', attrs: { vip: '198.51.100.6' } });
    // No prefix (OpenVPN 2.3 in syslog): the arrow still names the client.
    const bare = ev(`${T} MULTI: Learn: 2001:db8:0:123::1002 -> vpn client 01/[2001:db8::5]:51234`);
    expect(bare).toMatchObject({ account: 'vpn client 01', rip: '2001:db8::5', session: 'vpn client 01/[2001:db8::5]:51234', attrs: { vip6: '2001:db8:0:123::1002' } });
    expect(ev(`${T} c/203.0.113.5:1 MULTI: Learn: 00:FF:4C:2E:5D:3A@0 -> c/203.0.113.5:1`).attrs).toEqual({ mac: '00:ff:4c:2e:5d:3a' });
    expect(ev(`${T} c/203.0.113.5:1 MULTI: Learn: 00:ff:4c:2e:5d:3a -> c/203.0.113.5:1`).attrs).toEqual({ mac: '00:ff:4c:2e:5d:3a' });
    expect(ev(`${T} c/203.0.113.5:1 MULTI: Learn: 192.0.2.128/25 -> c/203.0.113.5:1`).attrs).toEqual({ net: '192.0.2.128/25' });
  });

  it('auth-ok names the username without making it a session key', () => {
    const e = ev(`${T} 203.0.113.5:51234 TLS: Username/Password authentication succeeded for username 'alice' [CN SET]`);
    expect(e).toMatchObject({ kind: 'auth-ok', account: 'alice', session: '203.0.113.5:51234', attrs: { method: 'password', cnSet: true } });
    expect(miss(`${T} 203.0.113.5:51234 TLS: Username/Password authentication deferred for username 'alice' `)).toEqual({ type: 'skip', reason: 'authentication deferred to a plugin or script' });
  });

  it('auth-fail: every failure the fail2ban filter knows, and the account when the line names it', () => {
    const cases: Array<[string, string, string | null, string, number | null]> = [
      ['192.0.2.254:64480 TLS Auth Error: Auth Username/Password verification failed for peer', 'password', null, '192.0.2.254', 64480],
      ['192.0.2.251:55329 VERIFY ERROR: depth=2, error=unable to get issuer certificate: <ROOT CA>', 'verify', null, '192.0.2.251', 55329],
      ['192.0.2.251:55329 VERIFY ERROR: depth=0, error=certificate has expired: C=NL, CN=client9, serial=5', 'verify', 'client9', '192.0.2.251', 55329],
      ['TLS Error: cannot locate HMAC in incoming packet from [AF_INET]192.0.2.253:55340', 'hmac', null, '192.0.2.253', 55340],
      ['192.0.2.1:1 SENT CONTROL [client1]: \'AUTH_FAILED\' (status=1)', 'auth-failed', 'client1', '192.0.2.1', 1],
      ['192.0.2.1:1 AUTH_FAILED', 'auth-failed', null, '192.0.2.1', 1],
      ['192.0.2.1:1 PLUGIN_CALL: plugin function PLUGIN_AUTH_USER_PASS_VERIFY failed with status 1: /usr/lib/openvpn/pam.so', 'plugin', null, '192.0.2.1', 1],
      ['192.0.2.1:1 Auth username/password verification failed for peer', 'password', null, '192.0.2.1', 1],
      ['192.0.2.1:1 VERIFY KU ERROR', 'verify', null, '192.0.2.1', 1],
      ['192.0.2.1:1 VERIFY nsCertType ERROR: C=NL, CN=srv, require nsCertType=CLIENT', 'verify', 'srv', '192.0.2.1', 1],
      ['192.0.2.1:1 TLS Auth Error: username attempted to change from \'bob\' to \'eve\' -- tunnel disabled', 'username-change', 'bob', '192.0.2.1', 1],
      ['client 1/192.0.2.1:1 TLS Auth Error: TLS object CN=client 1 client-provided SSL certs unexpectedly changed during mid-session reauth', 'cert-change', 'client 1', '192.0.2.1', 1],
    ];
    for (const [msg, reason, account, rip, rport] of cases) {
      const e = ev(`${T} ${msg}`);
      expect(e.kind, msg).toBe('auth-fail');
      expect(e.attrs?.reason, msg).toBe(reason);
      expect([e.account, e.rip, e.rport], msg).toEqual([account, rip, rport]);
    }
    expect(ev(`${T} 192.0.2.1:1 TLS Auth Error: username attempted to change from 'bob' to 'eve' -- tunnel disabled`).session).toBe('192.0.2.1:1');
    expect(miss(`${T} 192.0.2.1:1 PLUGIN_CALL: plugin function PLUGIN_AUTH_USER_PASS_VERIFY failed with status 2: /x.so`).type).toBe('skip');
    expect(miss(`${T} 192.0.2.1:1 PLUGIN_CALL: plugin function PLUGIN_LEARN_ADDRESS failed with status 1: /x.so`).type).toBe('skip');
  });

  it('a TLS key negotiation timeout is a network timeout and a failed handshake a tls-fail: neither is an auth-fail', () => {
    expect(ev(`${T} 203.0.113.31:52001 TLS Error: TLS key negotiation failed to occur within 60 seconds (check your network connectivity)`))
      .toMatchObject({ kind: 'timeout', rip: '203.0.113.31', rport: 52001, attrs: { reason: 'tls-timeout' } });
    expect(ev(`${T} 192.0.2.252:55330 TLS Error: TLS handshake failed`))
      .toMatchObject({ kind: 'tls-fail', rip: '192.0.2.252', rport: 55330, attrs: { reason: 'tls-handshake' } });
  });

  it('an OpenVPN stamp inside a syslog line dates the line, not the year-less syslog stamp', () => {
    const ctx: ParseContext = { tz: 'UTC', refTime: Date.UTC(2026, 0, 5) };
    const at = (line: string) => { const r = parseAny(line, ctx).result; if (r.type !== 'event') throw new Error(r.reason); return r.event.ts; };
    expect(at('Jan  3 09:20:02 vpn openvpn[1234]: 2025-12-30 23:59:58 203.0.113.40:1194 [client40] Peer Connection Initiated with [AF_INET]203.0.113.40:1194')).toBe(Date.UTC(2025, 11, 30, 23, 59, 58));
    expect(at('Jan  3 09:20:02 vpn openvpn[1234]: Tue Dec 30 23:59:58 2025 203.0.113.40:1194 [client40] Peer Connection Initiated with [AF_INET]203.0.113.40:1194')).toBe(Date.UTC(2025, 11, 30, 23, 59, 58));
    // A stamp with an offset is the server's word: kept.
    expect(at('2026-01-03T09:20:02+00:00 vpn openvpn[1234]: 2025-12-30 23:59:58 203.0.113.40:1194 [client40] Peer Connection Initiated with [AF_INET]203.0.113.40:1194')).toBe(Date.UTC(2026, 0, 3, 9, 20, 2));
  });

  it('disconnect: signals, ping timeouts, resets', () => {
    const a = ev(`${T} client1/203.0.113.5:51234 SIGTERM[soft,remote-exit] received, client-instance exiting`);
    expect(a).toMatchObject({ kind: 'disconnect', account: 'client1', rip: '203.0.113.5', rport: 51234, session: 'client1/203.0.113.5:51234', attrs: { reason: 'remote-exit', signal: 'SIGTERM', restart: false } });
    const b = ev(`${T} client1/203.0.113.5:51234 SIGUSR1[soft,ping-restart] received, client-instance restarting`);
    expect(b.attrs).toEqual({ reason: 'ping-restart', signal: 'SIGUSR1', restart: true });
    expect(ev(`${T} client1/203.0.113.5:51234 Inactivity timeout (--ping-restart), restarting`).attrs).toEqual({ reason: 'ping-restart', signal: null, restart: true });
    expect(ev(`${T} client1/203.0.113.5:51234 Inactivity timeout (--ping-exit), exiting`).attrs).toEqual({ reason: 'ping-exit', signal: null, restart: false });
    expect(ev(`${T} 203.0.113.5:51234 Connection reset, restarting [0]`).attrs).toEqual({ reason: 'connection-reset', signal: null, restart: true });
    expect(ev(`${T} client1/203.0.113.5:51234 SIGTERM[hard,] received, client-instance exiting`).attrs?.reason).toBe('sigterm');
    // The server process itself: not a client disconnect.
    expect(miss(`${T} SIGTERM[hard,] received, process exiting`)).toEqual({ type: 'skip', reason: 'server process signal: SIGTERM' });
    // Without a prefix the other instance's string is not read as one.
    const f = ev(`${T} closing instance client1/203.0.113.5:51234 due to float collision with client1/203.0.113.9:1 using the same certificate`);
    expect(f).toMatchObject({ kind: 'disconnect', account: 'client1', rip: '203.0.113.5', attrs: { reason: 'float-collision' } });
  });

  it('listen', () => {
    expect(ev(`${T} UDPv4 link local (bound): [AF_INET][undef]:1194`)).toMatchObject({ kind: 'listen', lip: null, lport: 1194, attrs: { proto: 'udp' }, session: null });
    expect(ev(`${T} TCPv4_SERVER link local (bound): [AF_INET]0.0.0.0:1194`)).toMatchObject({ lip: null, lport: 1194, attrs: { proto: 'tcp' } });
    expect(ev(`${T} TCPv6_SERVER link local (bound): [AF_INET6]2001:db8::1:443`)).toMatchObject({ lip: '2001:db8::1', lport: 443, attrs: { proto: 'tcp' } });
    expect(ev(`${T} UDPv4 link local (bound): [AF_INET]192.0.2.1:1194`)).toMatchObject({ lip: '192.0.2.1', lport: 1194 });
    expect(ev(`${T} Listening for incoming TCP connection on [AF_INET][undef]:443`)).toMatchObject({ lport: 443, attrs: { proto: 'tcp' } });
    expect(miss(`${T} UDPv4 link remote: [AF_UNSPEC]`)).toEqual({ type: 'skip', reason: 'socket setup' });
    expect(miss(`${T} UDPv4 link local: (not bound)`)).toEqual({ type: 'skip', reason: 'socket setup' });
  });

  it('reads the old stamp with microseconds, and a stamp OpenVPN wrote into a syslog message', () => {
    const e = ev('Fri Nov 20 09:20:02 2026 us=769549 client1/203.0.113.5:51234 SIGTERM[soft,remote-exit] received, client-instance exiting');
    expect(e.ts).toBe(T_MS + 769);
    const s = ev('Nov 20 09:20:02 vpn openvpn[1]: 2026-11-20 09:20:02 us=5 client1/203.0.113.5:51234 MULTI: Learn: 198.51.100.6 -> client1/203.0.113.5:51234');
    expect(s).toMatchObject({ ts: T_MS, host: 'vpn', program: 'openvpn', account: 'client1' });
    expect(ev(`${T} client1/203.0.113.5:51234 peer-id=3 MULTI: Learn: 198.51.100.6 -> client1/203.0.113.5:51234`).kind).toBe('learn');
  });

  it('skips chatter with a reason, and leaves unknown OpenVPN lines unparsed', () => {
    expect(miss(`${T} 203.0.113.5:51234 VERIFY OK: depth=0, CN=client1`)).toEqual({ type: 'skip', reason: 'certificate check passed' });
    expect(miss(`${T} client1/203.0.113.5:51234 Outgoing Data Channel: Cipher 'AES-256-GCM' initialized with 256 bit key`)).toEqual({ type: 'skip', reason: 'data channel cipher negotiation' });
    expect(miss(`${T} OpenVPN 2.6.8 x86_64-pc-linux-gnu [SSL (OpenSSL)] built on Nov 17 2023`)).toEqual({ type: 'skip', reason: 'startup banner' });
    expect(miss(`${T} client1/203.0.113.5:51234 PUSH: Received control message: 'PUSH_REQUEST'`)).toEqual({ type: 'skip', reason: 'push exchange' });
    expect(miss(`${T} client1/203.0.113.5:51234 frobnicated the widget`)).toEqual({ type: 'unparsed', reason: 'unrecognised OpenVPN client message' });
    expect(miss(`${T} frobnicated the widget`)).toEqual({ type: 'unparsed', reason: 'unrecognised OpenVPN message' });
  });
});

describe('OpenVPN: recognising its lines', () => {
  it('claims its syslog tags and no others', () => {
    for (const p of ['openvpn', 'ovpn-server', 'ovpn-client1', 'openvpn@server', 'openvpn-server@main', 'openvpn-server']) expect(openvpn.matchesProgram(p), p).toBe(true);
    for (const p of ['openvpnas', 'dovecot', 'kernel', 'postfix/smtpd', 'ovpnx']) expect(openvpn.matchesProgram(p), p).toBe(false);
  });

  it('sniffs its own log format, and leaves other programs alone', () => {
    const sniff = openvpn.sniffNative!;
    for (const m of [
      'client1/203.0.113.5:51234 MULTI_sva: pool returned IPv4=198.51.100.6, IPv6=(Not enabled)',
      'vpn client 01/203.0.113.5:51234 PUSH: Received control message',
      '203.0.113.5:51234 TLS: Initial packet from [AF_INET]203.0.113.5:51234, sid=1 2',
      'us=821834 203.0.113.5:51234 VERIFY OK: depth=0, CN=x',
      'OpenVPN 2.4.12 x86_64-pc-linux-gnu [SSL (OpenSSL)] built on Mar 17 2022',
      'UDPv4 link local (bound): [AF_INET][undef]:1194',
      '[client1] Peer Connection Initiated with [AF_INET]203.0.113.5:51234',
      'Initialization Sequence Completed',
      'SIGTERM[hard,] received, process exiting',
    ]) expect(sniff(m), m).toBe(true);
    for (const m of [
      'client @0x7f1234 192.0.2.1#53 (example.org): query: example.org IN A +E(0) (192.0.2.53)',
      '#1234(normal) <abcdef>; task; rspamd_task_write_log: id: <x@example.org>',
      'imap-login: Info: Login: user=<jan>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.2',
      'DROP IN=eth0 OUT= SRC=192.0.2.1 DST=192.0.2.2',
      'hello world',
      '',
    ]) expect(sniff(m), m).toBe(false);
  });
});

describe('OpenVPN: robustness', () => {
  it('never throws on garbage, and every event keeps the contract', () => {
    let seed = 4242;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    const lines = readdirSync(FIXTURES).filter((f) => f.endsWith('.log'))
      .flatMap((f) => readFileSync(join(FIXTURES, f), 'utf8').split('\n'));
    const alphabet = " /:[]',.-()0123456789abcdefAF_INET6UNDEF\t\u0000\u00e9\ud800->=@%";
    let events = 0;
    for (let i = 0; i < 20000; i++) {
      const chars = lines[i % lines.length].split('');
      const edits = Math.floor(rnd() * 6);
      for (let k = 0; k < edits; k++) {
        const at = Math.floor(rnd() * (chars.length + 1));
        const op = rnd();
        if (op < 0.35) chars.splice(at, 1 + Math.floor(rnd() * 8));
        else if (op < 0.7) chars.splice(at, 0, alphabet[Math.floor(rnd() * alphabet.length)]);
        else chars[at] = alphabet[Math.floor(rnd() * alphabet.length)];
      }
      const line = chars.join('');
      const r = parseLine(line, CTX);
      if (r.type === 'event') { events++; expectContract(r.event); }
      else expect(r.reason.length).toBeGreaterThan(0);
    }
    expect(events).toBeGreaterThan(1000);
    for (const s of ['', ' ', '\u0000', 'x'.repeat(100_000), `${T} ${'a/'.repeat(5000)}203.0.113.5:1 x`, `${T} ${'[AF_INET]'.repeat(1000)}`]) {
      expect(() => parseLine(s, CTX)).not.toThrow();
    }
  });

  it('every golden fixture event keeps the contract', () => {
    for (const f of readdirSync(FIXTURES).filter((x) => x.endsWith('.log'))) {
      for (const line of readFileSync(join(FIXTURES, f), 'utf8').split('\n')) {
        const r = parseAny(line, CTX, 'openvpn').result;
        if (r.type === 'event' && r.event.source === 'openvpn') expectContract(r.event);
      }
    }
  });
});

const F2B = join(CORPUS, 'openvpn', 'fail2ban-tests-openvpn.log');

describe('OpenVPN: corpus conformance', () => {
  it.skipIf(!existsSync(F2B))(`agrees with every failJSON in ${F2B} (skipped: corpus absent)`, () => {
    // fail2ban reads these year-less lines in 2005, in the test's local zone (UTC here).
    const ctx: ParseContext = { tz: 'UTC', refTime: Date.UTC(2005, 5, 1) };
    const counts = { lines: 0, events: 0, skip: 0, unparsed: 0, failJSON: 0, agreed: 0 };
    let expectNext: { time: string; host: string } | null = null;
    for (const line of readFileSync(F2B, 'utf8').split('\n')) {
      if (line.trim() === '') continue;
      if (line.startsWith('#')) {
        const m = /^# failJSON: (\{.*\})\s*$/.exec(line);
        if (m) {
          const j = JSON.parse(m[1]) as { time: string; match: boolean; host: string };
          if (j.match) expectNext = { time: j.time, host: j.host };
        }
        continue;
      }
      counts.lines++;
      const d = parseAny(line, ctx);
      expect(d.source, line).toBe('openvpn');
      const r = d.result;
      if (r.type === 'event') { counts.events++; expectContract(r.event); }
      else counts[r.type]++;
      if (expectNext) {
        counts.failJSON++;
        expect(r.type, line).toBe('event');
        if (r.type === 'event') {
          // fail2ban bans on a failed TLS handshake too, which is no auth-fail here (see above).
          expect(['auth-fail', 'tls-fail', 'disconnect'], line).toContain(r.event.kind);
          expect(r.event.ts, line).toBe(Date.parse(`${expectNext.time}Z`));
          expect(r.event.rip, line).toBe(normalizeIp(expectNext.host));
          counts.agreed++;
        }
        expectNext = null;
      }
    }
    expect(counts).toEqual({ lines: 20, events: 12, skip: 8, unparsed: 0, failJSON: 8, agreed: 8 });
  });
});

describe('OpenVPN: instance named twice', () => {
  it('takes the CN from the arrow when the prefix has none, but only for the same peer', () => {
    expect(ev(`${T} 203.0.113.5:51234 MULTI: Learn: 198.51.100.6 -> client1/203.0.113.5:51234`)).toMatchObject({ account: 'client1', session: 'client1/203.0.113.5:51234' });
    expect(ev(`${T} 203.0.113.5:51234 MULTI: Learn: 198.51.100.6 -> client1/203.0.113.99:1`)).toMatchObject({ account: null, rip: '203.0.113.5', session: '203.0.113.5:51234' });
  });

  it('keeps the session key of the prefix on every line of a client; the connect keeps the port it names (2.4 IPv6)', () => {
    const c = ev(`${T} 2001:db8::7 [old24] Peer Connection Initiated with [AF_INET6]2001:db8::7:60000`);
    const l = ev(`${T} old24/2001:db8::7 MULTI_sva: pool returned IPv4=198.51.100.16, IPv6=(Not enabled)`);
    const d = ev(`${T} old24/2001:db8::7 SIGTERM[soft,remote-exit] received, client-instance exiting`);
    expect([c.rip, c.rport, c.session]).toEqual(['2001:db8::7', 60000, 'old24/2001:db8::7']);
    for (const e of [l, d]) expect([e.rip, e.rport, e.session]).toEqual(['2001:db8::7', null, 'old24/2001:db8::7']);
    const m = ev(`${T} ::ffff:203.0.113.40 [client40] Peer Connection Initiated with [AF_INET6]::ffff:203.0.113.40:1194`);
    expect([m.rip, m.rport, m.session]).toEqual(['203.0.113.40', 1194, 'client40/203.0.113.40']);
  });

  it('reports a float as a connect from the new address, naming the old one', () => {
    const e = ev(`${T} client1/203.0.113.5:51234 peer 0 (client1) floated from [AF_INET]203.0.113.5:51234 to [AF_INET]203.0.113.9:40001`);
    expect(e).toMatchObject({ kind: 'connect', account: 'client1', rip: '203.0.113.9', rport: 40001, session: 'client1/203.0.113.9:40001' });
    expect(e.attrs).toEqual({ float: true, fromIp: '203.0.113.5', fromPort: 51234, peerId: 0 });
  });
});
