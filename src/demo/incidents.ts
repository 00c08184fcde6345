/**
 * The incidents bytetrail must solve, as scenarios with background traffic. Each returns the
 * window to investigate and what an admin would conclude; tests check bytetrail's answer
 * against the capture itself (tshark), or against the conntrack listings' own counters, not
 * against these numbers.
 */
import { SERVER, ScenarioWriter, TUN_SERVER } from './scenario.js';

export interface Incident {
  name: string;
  writer: ScenarioWriter;
  from: number;
  to: number;
  expect: { account: string | null; service: string; direction: 'in' | 'out'; finding: string; peer: string };
  /** The culprit's owner in the writer's truth (`writer.truth(culprit, from, to)`: its eth0 wire bytes). */
  culprit: string;
  /** When the traffic is known only from conntrack listings: when they were taken (write them with these). */
  listings?: { times: number[]; timestamps: boolean };
}

/**
 * SMTP as the wire carries it, for the generator's mail connections: the dialogue's commands
 * (EHLO, MAIL FROM, one RCPT TO per recipient, DATA, the final dot, QUIT) from the client and
 * the server's replies (greeting, EHLO capabilities, one reply per command), in bytes, around
 * the message itself. estimates.ts uses the same framing to estimate relay bytes from the log.
 */
export function smtpDialogue(size: number, rcpts: number, sasl = false): { fromClient: number; fromServer: number } {
  return { fromClient: size + 100 + 35 * rcpts + (sasl ? 50 : 0), fromServer: 400 + 30 * rcpts + (sasl ? 40 : 0) };
}
/** A full-size TCP segment's payload on Ethernet (1500-byte MTU, TCP timestamps). */
export const MSS = 1448;

const MIN = 60_000;
export const T0 = Date.UTC(2026, 10, 20, 8, 0, 0);
const T1 = T0 + 120 * MIN;

/** Ordinary mail use: a few IMAP users, inbound mail, a little DNS and web. */
export function background(w: ScenarioWriter, from = T0, to = T1, scale = 1): void {
  for (let i = 0; i < 10; i++) {
    const user = `user${i}@example.com`, ip = `198.51.100.${100 + i}`;
    for (let k = 0; k < 2; k++) {
      const t = from + Math.floor(w.rand() * (to - from - 30 * MIN));
      const s = w.imapLogin(t, user, ip);
      const down = Math.floor((2 + w.rand() * 8) * 1e6 * scale);
      const r = w.tcp({ t0: t - 500, t1: t + 20 * MIN, client: ip, cport: 50000 + i * 10 + k, server: SERVER, sport: 993, down, up: 40_000 });
      w.imapLogout(t + 20 * MIN, user, s, 40_000, r.toClient - 200);
    }
  }
  for (let i = 0; i < 15; i++) {
    const t = from + Math.floor(w.rand() * (to - from - 5 * MIN));
    const mta = `203.0.113.${150 + (i % 8)}`, p = w.nextPid(), q = w.qid();
    w.syslog('mail', t, `postfix/smtpd[${p}]`, `connect from mail${i}.example.net[${mta}]`);
    w.syslog('mail', t + 300, `postfix/smtpd[${p}]`, `${q}: client=mail${i}.example.net[${mta}]`);
    w.syslog('mail', t + 900, `postfix/smtpd[${p}]`, `disconnect from mail${i}.example.net[${mta}] ehlo=1 mail=1 rcpt=1 data=1 quit=1 commands=5`);
    w.tcp({ t0: t, t1: t + 2000, client: mta, cport: 40000 + i, server: SERVER, sport: 25, down: 2_000, up: Math.floor(50_000 * scale) });
  }
  for (let i = 0; i < 40; i++) {
    const t = from + Math.floor(w.rand() * (to - from));
    const c = `198.51.100.${100 + (i % 10)}`, port = 30000 + i;
    w.dnsQuery(t, c, port, `www${i % 7}.example.org`, i % 3 ? 'A' : 'AAAA');
    w.udp({ t0: t, t1: t + 10, a: c, aport: port, b: SERVER, bport: 53, count: 1, fromA: 40, fromB: 120 });
  }
  for (let i = 0; i < 5; i++) {
    const t = from + Math.floor(w.rand() * (to - from - 10 * MIN));
    w.tcp({ t0: t, t1: t + 5 * MIN, client: `203.0.113.${30 + i}`, cport: 44000 + i, server: SERVER, sport: 443, down: Math.floor(3e6 * scale), up: 20_000 });
  }
}

/** Outlook re-downloading a mailbox over IMAPS in a loop, two connections at a time. */
export function imapResync(seed = 11, o: { user?: string; ip?: string; perSession?: number } = {}): Incident {
  const w = new ScenarioWriter(seed);
  background(w);
  const user = o.user ?? 'jan@example.com', ip = o.ip ?? '198.51.100.23';
  const per = o.perSession ?? 140e6;
  let cport = 52000;
  for (let k = 0; k < 9; k++) {
    const t = T0 + 3 * MIN + k * 12 * MIN;
    for (const par of [0, 1]) {
      const s = w.imapLogin(t + par * 2000, user, ip);
      const down = Math.floor(per / 2 * (0.9 + w.rand() * 0.2));
      // The last round is still open when the alert comes: synced, now idling (IMAP IDLE), no logout yet.
      const r = w.tcp({ t0: t + par * 2000 - 300, t1: t + 11 * MIN, client: ip, cport: cport++, server: SERVER, sport: 993, down, up: 300_000, owner: user, open: k === 8 });
      if (k < 8) w.imapLogout(t + 11 * MIN, user, s, 300_000, r.toClient - 500);
    }
  }
  return { name: 'imap-resync', writer: w, from: T0, to: T1, culprit: user, expect: { account: user, service: 'imap', direction: 'out', finding: 'imap-resync', peer: ip } };
}

/** A compromised SASL account relaying spam from many IPs; each message goes to two remote MTAs. */
export function spamRelay(seed = 12, w = new ScenarioWriter(seed)): Incident {
  background(w);
  const user = 'sales@example.com';
  const ips = ['203.0.113.61', '203.0.113.62', '203.0.113.63', '198.51.100.61', '198.51.100.62', '198.51.100.63'];
  for (let i = 0; i < 360; i++) {
    const t = T0 + 2 * MIN + Math.floor((i / 360) * 110 * MIN);
    const cip = ips[i % ips.length];
    const size = 40_000 + Math.floor(w.rand() * 30_000);
    const status = w.rand() < 0.3 ? 'deferred' : w.rand() < 0.1 ? 'bounced' : 'sent';
    const relays: Array<[string, string]> = [[`203.0.113.${100 + (i % 10)}`, `mx${i % 10}.example.net`], [`203.0.113.${110 + (i % 10)}`, `mx${i % 10}.example.org`]];
    const rcpts = [`victim${i}a@example.net`, `victim${i}b@example.org`, `victim${i}c@example.net`, `victim${i}d@example.org`];
    w.submit(t, user, cip, { size, rcpts, relays, status });
    const sub = smtpDialogue(size, rcpts.length, true);
    w.tcp({ t0: t, t1: t + 900, client: cip, cport: 30000 + (i % 30000), server: SERVER, sport: 587, down: sub.fromServer, up: sub.fromClient, seg: MSS, owner: `${user}/submission` });
    // Our smtp client sends the message to each remote MTA (half the recipients each): the bytes go out from the server.
    relays.forEach(([relay], j) => {
      const d = smtpDialogue(size, rcpts.length / relays.length);
      w.tcp({ t0: t + 1200 + j * 1500, t1: t + 2400 + j * 1500, client: SERVER, cport: 40000 + ((i * 2 + j) % 20000), server: relay, sport: 25, down: d.fromServer, up: d.fromClient, seg: MSS, owner: `${user}/smtp` });
    });
  }
  return { name: 'spam-relay', writer: w, from: T0, to: T1, culprit: `${user}/smtp`, expect: { account: user, service: 'smtp', direction: 'out', finding: 'spam-relay', peer: '203.0.113.100' } };
}

/**
 * A VPN user streaming video. eth0 sees it twice: the tunnel (UDP 1194 to the client) and the
 * forwarded connection to the video server after NAT; tun0 sees it once more, before NAT.
 */
export function vpnHeavy(seed = 13, w = new ScenarioWriter(seed)): Incident {
  background(w, T0, T1, 0.5);
  w.usesTun = true;
  return { name: 'vpn-heavy', writer: w, from: T0, to: T1, culprit: 'alice', expect: vpnStreaming(w) };
}

/**
 * vpnHeavy with no capture: only `conntrack -L -o extended`, saved by cron every 5 minutes
 * from 08:05 on. The tunnel (opened by the client to UDP 1194) and the forwarded, masqueraded
 * connection to the video server are two entries; each packet is counted once in its entry.
 * `timestamps` false is a kernel without nf_conntrack_timestamp: no `delta-time=`, so the
 * first listing is only a baseline and the tunnel's first 3 minutes are not knowable.
 */
export function vpnHeavyConntrack(seed = 13, o: { timestamps?: boolean } = {}): Incident {
  const w = new ScenarioWriter(seed);
  background(w, T0, T1, 0.5);
  const expect = vpnStreaming(w);
  const times = Array.from({ length: (T1 - T0) / (5 * MIN) }, (_, i) => T0 + (i + 1) * 5 * MIN);
  return { name: 'vpn-heavy-conntrack', writer: w, from: T0, to: T1, culprit: 'alice', expect, listings: { times, timestamps: o.timestamps ?? true } };
}

/** Alice streams video through the VPN from 08:02 to 09:50; Bob uses it lightly. */
function vpnStreaming(w: ScenarioWriter): Incident['expect'] {
  const cn = 'alice', rip = '203.0.113.77', rport = 51820, vip = '198.51.100.66', video = '203.0.113.200';
  w.vpnConnect(T0 + MIN, cn, rip, rport, vip);
  // The client opened the tunnel: it is conntrack's originator, whoever sends first below.
  w.conntrack.open(17, rip, rport, SERVER, 1194);
  const start = T0 + 2 * MIN, end = T0 + 110 * MIN;
  const n = 90_000; // 1400-byte datagrams through the tunnel
  w.udp({ t0: start, t1: end, a: SERVER, aport: 1194, b: rip, bport: rport, count: n, fromA: 1400, fromB: 0, owner: cn });
  w.udp({ t0: start, t1: end, a: SERVER, aport: 1194, b: rip, bport: rport, count: n / 20, fromA: 0, fromB: 120, owner: cn });
  // After the stream, the tunnel stays up: OpenVPN's keepalive pings every 10 s both ways.
  w.udp({ t0: end, t1: T1 + 10 * MIN, a: SERVER, aport: 1194, b: rip, bport: rport, count: 120, fromA: 41, fromB: 41, owner: cn });
  // Inside the tunnel (tun0) and after NAT (eth0): the same video stream. Conntrack counts each
  // packet once, in one entry from the virtual address, masqueraded to the server's.
  w.tcp({ t0: start, t1: end, client: vip, cport: 40123, server: video, sport: 443, down: n * 1340, up: 2e6, seg: 64000, iface: 1, snat: SERVER });
  w.tcp({ t0: start, t1: end, client: SERVER, cport: 40123, server: video, sport: 443, down: n * 1340, up: 2e6, seg: 64000, iface: 0, untracked: true, owner: `${cn}/forwarded` });
  // Another VPN user, lightly.
  w.vpnConnect(T0 + 5 * MIN, 'bob', '198.51.100.88', 41000, '198.51.100.67');
  w.conntrack.open(17, '198.51.100.88', 41000, SERVER, 1194);
  w.udp({ t0: T0 + 6 * MIN, t1: T0 + 60 * MIN, a: SERVER, aport: 1194, b: '198.51.100.88', bport: 41000, count: 3000, fromA: 900, fromB: 300, owner: 'bob' });
  w.vpnDisconnect(T0 + 61 * MIN, 'bob', '198.51.100.88', 41000);
  void TUN_SERVER;
  return { account: cn, service: 'vpn', direction: 'out', finding: 'vpn-heavy', peer: rip };
}

/** An open resolver abused for amplification: spoofed ANY queries from the victim's address. */
export function dnsAmplification(seed = 14): Incident {
  const w = new ScenarioWriter(seed);
  background(w, T0, T1, 0.3);
  const victim = '203.0.113.99';
  const n = 24_000;
  // BIND's query log has every query (querylog yes): the spoofed source port is the victim's.
  for (let i = 0; i < n; i++) {
    const t = T0 + 5 * MIN + Math.floor((i / n) * 100 * MIN);
    w.dnsQuery(t, victim, 4444, 'example.com', 'ANY');
  }
  w.udp({ t0: T0 + 5 * MIN, t1: T0 + 105 * MIN, a: victim, aport: 4444, b: SERVER, bport: 53, count: n, fromA: 40, fromB: 3400, owner: 'dns-amplification' });
  return { name: 'dns-amplification', writer: w, from: T0, to: T1, culprit: 'dns-amplification', expect: { account: null, service: 'dns', direction: 'out', finding: 'dns-amplification', peer: victim } };
}

/** A quiet night: one host scans, another brute-forces IMAP logins. */
export function scanAndBruteforce(seed = 15): Incident {
  const w = new ScenarioWriter(seed);
  const scanner = '203.0.113.13', brute = '198.51.100.200';
  for (let p = 1; p <= 300; p++) {
    const t = T0 + 10 * MIN + p * 1000;
    w.drop(t, scanner, p);
    w.synProbe(t, scanner, p, 'scan');
  }
  for (let i = 0; i < 80; i++) {
    const t = T0 + 20 * MIN + i * 60_000;
    w.authFail(t, ['admin', 'info', 'test', 'webmaster'][i % 4] + '@example.com', brute);
    w.tcp({ t0: t - 1000, t1: t + 1500, client: brute, cport: 33000 + i, server: SERVER, sport: 993, down: 6_500, up: 900, owner: 'bruteforce' });
  }
  return { name: 'bruteforce', writer: w, from: T0, to: T1, culprit: 'bruteforce', expect: { account: null, service: 'imap', direction: 'out', finding: 'bruteforce', peer: brute } };
}

export type SharedIpCase = 'same-end' | 'staggered' | 'still-open' | 'same-minute';
export const SHARED_IP_CASES: readonly SharedIpCase[] = ['same-end', 'staggered', 'still-open', 'same-minute'];

/**
 * Two accounts behind one office NAT, syncing at the same time, each on its own TCP connection
 * (one IMAP session per connection). The cases differ in what tells the connections apart:
 * `same-end` both log out together (the logins are a minute apart); `staggered` Ben's short,
 * fast session lies inside Anna's; `still-open` Anna has not logged out when the alert comes;
 * `same-minute` both log in within the same minute and leave at different times.
 */
export function sharedIp(seed = 16, c: SharedIpCase = 'same-end'): Incident {
  const w = new ScenarioWriter(seed);
  background(w, T0, T1, 0.3);
  const nat = '203.0.113.50';
  const plan: Record<SharedIpCase, { a: [number, number]; b: [number, number]; aOpen?: boolean }> = {
    'same-end': { a: [5 * MIN, 90 * MIN], b: [6 * MIN, 90 * MIN] },
    staggered: { a: [5 * MIN, 100 * MIN], b: [20 * MIN, 50 * MIN] },
    'still-open': { a: [5 * MIN, 130 * MIN], b: [6 * MIN, 60 * MIN], aOpen: true },
    'same-minute': { a: [5 * MIN + 10_000, 70 * MIN], b: [5 * MIN + 40_000, 105 * MIN] },
  };
  const p = plan[c];
  const a = w.imapLogin(T0 + p.a[0], 'anna@example.com', nat);
  const b = w.imapLogin(T0 + p.b[0], 'ben@example.com', nat);
  const ra = w.tcp({ t0: T0 + p.a[0] - 300, t1: T0 + p.a[1], client: nat, cport: 61000, server: SERVER, sport: 993, down: 300e6, up: 500_000, owner: 'anna@example.com', open: p.aOpen });
  const rb = w.tcp({ t0: T0 + p.b[0] - 300, t1: T0 + p.b[1], client: nat, cport: 61001, server: SERVER, sport: 993, down: 100e6, up: 200_000, owner: 'ben@example.com' });
  if (!p.aOpen) w.imapLogout(T0 + p.a[1], 'anna@example.com', a, 500_000, ra.toClient);
  w.imapLogout(T0 + p.b[1], 'ben@example.com', b, 200_000, rb.toClient);
  return { name: `shared-ip-${c}`, writer: w, from: T0, to: T1, culprit: 'anna@example.com', expect: { account: 'anna@example.com', service: 'imap', direction: 'out', finding: 'normal-use', peer: nat } };
}

/** The bundled demo: a resync loop on a busy morning, with a VPN user, scans and brute force on the side. */
export function demo(): Incident {
  const inc = imapResync(21, { perSession: 80e6 });
  const w = inc.writer;
  w.usesTun = false;
  w.vpnConnect(T0 + 4 * MIN, 'carol', '203.0.113.80', 49152, '198.51.100.70');
  w.udp({ t0: T0 + 5 * MIN, t1: T0 + 70 * MIN, a: SERVER, aport: 1194, b: '203.0.113.80', bport: 49152, count: 8000, fromA: 1300, fromB: 200, owner: 'carol' });
  w.vpnDisconnect(T0 + 71 * MIN, 'carol', '203.0.113.80', 49152);
  for (let p = 1; p <= 60; p++) { w.drop(T0 + 30 * MIN + p * 2000, '203.0.113.13', 1000 + p * 7); w.synProbe(T0 + 30 * MIN + p * 2000, '203.0.113.13', 1000 + p * 7); }
  for (let i = 0; i < 25; i++) w.authFail(T0 + 40 * MIN + i * 90_000, 'admin@example.com', '198.51.100.200');
  return { ...inc, name: 'demo' };
}

export const INCIDENTS = { imapResync, spamRelay, vpnHeavy, vpnHeavyConntrack, dnsAmplification, scanAndBruteforce, sharedIp, demo };
