/**
 * Estimates from log evidence, each on real line shapes read through the parsers and the store,
 * and the lifetime matching of connections to sessions on a shared address.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { dnsEstimates, dropEstimates, inboundEstimates, relayEstimates, smtpPayload, submissionEstimates, tcpWire, MSS } from '../src/correlate/estimates.js';
import { buildIdentities } from '../src/correlate/identities.js';
import { investigate } from '../src/correlate/investigate.js';
import { lifetimeCost, matchLifetimes } from '../src/correlate/lifetimes.js';
import { smtpDialogue } from '../src/demo/incidents.js';
import { SERVER, ScenarioWriter } from '../src/demo/scenario.js';
import { flowHandlers } from '../src/flows/handlers.js';
import { ingestPaths } from '../src/ingest/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { SqliteReadStore } from '../src/store/sqlite-read.js';
import { tempDir } from './helpers/cli.js';

const T = (s: string) => Date.parse(s);
const FROM = T('2026-11-20T08:00:00Z'), TO = T('2026-11-20T10:00:00Z');

describe('estimates from log lines', () => {
  let dir: string, cleanup: () => void, store: Store;
  beforeEach(() => { ({ dir, cleanup } = tempDir()); store = openStore({ path: join(dir, 'bt.db') }); });
  afterEach(() => { store.close(); cleanup(); });

  async function load(name: string, lines: string[]) {
    const f = join(dir, name);
    writeFileSync(f, lines.join('\n') + '\n');
    await ingestPaths(store, [f], { tz: 'UTC', now: T('2026-11-21T00:00:00Z'), settleMs: 0, handlers: flowHandlers() });
  }

  it('Postfix: relay bytes per SASL account from size × relay connections, submission from size', async () => {
    await load('mail.log', [
      '2026-11-20T08:10:00.000000+00:00 mx1 postfix/submission/smtpd[2001]: connect from unknown[203.0.113.61]',
      '2026-11-20T08:10:00.200000+00:00 mx1 postfix/submission/smtpd[2001]: 4A1B2C3D4E: client=unknown[203.0.113.61], sasl_method=PLAIN, sasl_username=sales@example.com',
      '2026-11-20T08:10:00.300000+00:00 mx1 postfix/cleanup[2002]: 4A1B2C3D4E: message-id=<4A1B2C3D4E.2001@example.com>',
      '2026-11-20T08:10:00.400000+00:00 mx1 postfix/qmgr[900]: 4A1B2C3D4E: from=<sales@example.com>, size=52000, nrcpt=3 (queue active)',
      '2026-11-20T08:10:01.500000+00:00 mx1 postfix/smtp[2003]: 4A1B2C3D4E: to=<a@example.net>, relay=mx0.example.net[203.0.113.100]:25, delay=1.2, delays=0.1/0.01/0.4/0.7, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ1)',
      '2026-11-20T08:10:01.500000+00:00 mx1 postfix/smtp[2003]: 4A1B2C3D4E: to=<b@example.net>, relay=mx0.example.net[203.0.113.100]:25, delay=1.2, delays=0.1/0.01/0.4/0.7, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as 4XyZ1)',
      '2026-11-20T08:10:03.000000+00:00 mx1 postfix/smtp[2004]: 4A1B2C3D4E: to=<c@example.org>, relay=mx0.example.org[203.0.113.110]:25, delay=2.7, delays=0.1/0.01/0.4/2.2, dsn=4.7.1, status=deferred (host said: 450 4.7.1 Service unavailable, try again later)',
    ]);
    const ids = buildIdentities(store.eventsInRange(FROM, TO), TO);
    const relay = relayEstimates(ids.deliveries);
    // Two connections: mx0.example.net carried both of its recipients at once.
    expect(relay.map((e) => [e.account, e.rip, e.group])).toEqual([['sales@example.com', '203.0.113.100', 'smtp'], ['sales@example.com', '203.0.113.110', 'smtp']]);
    const two = tcpWire(smtpPayload(52000, 2).fromClient, smtpPayload(52000, 2).fromServer);
    expect(relay[0]).toMatchObject({ bytesOut: two.fromClient, bytesIn: two.fromServer });
    expect(relay[0].bytesOut).toBeGreaterThan(52000 * 1.04);
    expect(relay[0].method).toMatch(/message size × relay connections/);
    const sub = submissionEstimates(ids.submissions.values());
    expect(sub).toHaveLength(1);
    expect(sub[0]).toMatchObject({ account: 'sales@example.com', group: 'submission', rip: '203.0.113.61' });
    expect(sub[0].bytesIn).toBeGreaterThan(52000);

    const inv = await investigate(new SqliteReadStore(store), { from: FROM, to: TO });
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'sales@example.com', service: 'smtp', direction: 'out', confidence: 'estimated' });
    expect(top.estimated.bytesOut).toBe(relay[0].bytesOut + relay[1].bytesOut);
    expect(top.measured).toEqual({ bytesIn: 0, bytesOut: 0 });
  });

  it('Postfix: inbound mail from another MTA, by queue id to its size', async () => {
    await load('mail.log', [
      '2026-11-20T08:20:00.000000+00:00 mx1 postfix/smtpd[3001]: connect from mail7.example.net[203.0.113.157]',
      '2026-11-20T08:20:00.300000+00:00 mx1 postfix/smtpd[3001]: 5B2C3D4E5F: client=mail7.example.net[203.0.113.157]',
      '2026-11-20T08:20:00.500000+00:00 mx1 postfix/cleanup[3002]: 5B2C3D4E5F: message-id=<20261120082000.1@example.net>',
      '2026-11-20T08:20:00.600000+00:00 mx1 postfix/qmgr[900]: 5B2C3D4E5F: from=<news@example.net>, size=250000, nrcpt=1 (queue active)',
      '2026-11-20T08:20:01.000000+00:00 mx1 postfix/local[3003]: 5B2C3D4E5F: to=<jan@example.com>, relay=local, delay=1, delays=0.6/0/0/0.4, dsn=2.0.0, status=sent (delivered to mailbox)',
    ]);
    const est = inboundEstimates(store.eventsInRange(FROM, TO));
    const p = smtpPayload(250000, 1);
    expect(est).toEqual([expect.objectContaining({ account: null, reason: 'inbound-mail', rip: '203.0.113.157', bytesIn: tcpWire(p.fromClient, p.fromServer).fromClient })]);
    const inv = await investigate(new SqliteReadStore(store), { from: FROM, to: TO });
    expect(inv.unattributed.find((u) => u.reason === 'inbound-mail')?.bytesIn).toBe(est[0].bytesIn);
  });

  it('SMTP framing: the estimate is within 3% of the wire bytes of the same connection in a capture', () => {
    // The generator writes each frame (handshake, segments of MSS bytes, one ACK per segment, FIN);
    // the estimate assumes delayed ACKs (one per two segments), so it is a little lower.
    for (const size of [2_000, 52_000, 700_000]) {
      const w = new ScenarioWriter(1);
      const d = smtpDialogue(size, 2);
      w.tcp({ t0: FROM, t1: FROM + 2000, client: SERVER, cport: 40000, server: '203.0.113.100', sport: 25, down: d.fromServer, up: d.fromClient, seg: MSS, owner: 'x' });
      const wire = w.truth('x', FROM, TO);
      const p = smtpPayload(size, 2);
      const est = tcpWire(p.fromClient, p.fromServer);
      const err = (est.fromClient + est.fromServer) / (wire.bytesIn + wire.bytesOut) - 1;
      expect(Math.abs(err), `size ${size}: ${(err * 100).toFixed(2)}%`).toBeLessThanOrEqual(0.03);
    }
  });

  it('BIND query log: answers per client and type, and dns-amplification from the log alone', async () => {
    const lines: string[] = [];
    for (let i = 0; i < 600; i++) {
      const s = String(i % 60).padStart(2, '0'), m = String(10 + Math.floor(i / 60)).padStart(2, '0');
      lines.push(`20-Nov-2026 08:${m}:${s}.${String(i % 1000).padStart(3, '0')} queries: info: client @0x7f3a5c0a1b28 203.0.113.99#4444 (example.com): query: example.com IN ANY +E(0) (192.0.2.10)`);
    }
    lines.push('20-Nov-2026 08:30:00.000 queries: info: client @0x7f3a5c0a1b28 198.51.100.100#30000 (www.example.org): query: www.example.org IN A +E(0) (192.0.2.10)');
    await load('named-queries.log', lines);
    const est = dnsEstimates(store.aggregatesInRange(FROM, TO));
    const victim = est.filter((e) => e.rip === '203.0.113.99');
    expect(victim.reduce((a, e) => a + e.bytesOut, 0)).toBe(600 * (3000 + 42));
    expect(victim.reduce((a, e) => a + e.bytesIn, 0)).toBe(600 * (44 + 42));
    expect(victim[0].method).toMatch(/typical ANY answer size \(3000 bytes\)/);
    expect(est.find((e) => e.rip === '198.51.100.100')?.bytesOut).toBe(100 + 42);

    const inv = await investigate(new SqliteReadStore(store), { from: FROM, to: TO });
    expect(inv.suspects[0]).toMatchObject({ account: null, service: 'dns', direction: 'out', finding: 'dns-amplification', confidence: 'estimated', ips: ['203.0.113.99'] });
    expect(inv.findings[0].kind).toBe('dns-amplification');
  });

  it('unbound: answers sized by its reply log', async () => {
    await load('unbound.log', [
      'Nov 20 08:10:00 ns1 unbound: [2121:0] info: 203.0.113.99 example.com. ANY IN',
      'Nov 20 08:10:00 ns1 unbound: [2121:0] info: 203.0.113.99 example.com. ANY IN NOERROR 0.000000 1 3400',
      'Nov 20 08:10:01 ns1 unbound: [2121:0] info: 203.0.113.99 example.com. ANY IN',
      'Nov 20 08:10:01 ns1 unbound: [2121:0] info: 203.0.113.99 example.com. ANY IN NOERROR 0.000000 1 3200',
    ]);
    const est = dnsEstimates(store.aggregatesInRange(FROM, TO));
    expect(est).toHaveLength(1);
    expect(est[0]).toMatchObject({ rip: '203.0.113.99', bytesOut: 3400 + 3200 + 2 * 42, method: 'DNS query log × unbound reply sizes' });
  });

  it('netfilter: the dropped bytes per source from LEN=, plus the Ethernet header', async () => {
    const lines: string[] = [];
    for (let p = 1; p <= 20; p++) {
      lines.push(`2026-11-20T08:10:${String(p).padStart(2, '0')}.000000+00:00 mx1 kernel: [64402.000000] DROP-IN: IN=eth0 OUT= MAC=02:00:5e:00:53:01:02:00:5e:00:53:02:08:00 SRC=203.0.113.13 DST=192.0.2.10 LEN=${p % 2 ? 60 : 44} TOS=0x00 PREC=0x00 TTL=49 ID=${p} DF PROTO=TCP SPT=40000 DPT=${p} WINDOW=64240 RES=0x00 SYN URGP=0`);
    }
    await load('kern.log', lines);
    const est = dropEstimates(store.aggregatesInRange(FROM, TO));
    expect(est.reduce((a, e) => a + e.bytesIn, 0)).toBe(10 * 60 + 10 * 44 + 20 * 14);
    const inv = await investigate(new SqliteReadStore(store), { from: FROM, to: TO });
    expect(inv.suspects[0]).toMatchObject({ account: null, finding: 'scan', direction: 'in', confidence: 'estimated', bytesIn: 10 * 74 + 10 * 58 });
  });

  it('Dovecot: a loopback session (webmail\'s own IMAP) is never interface traffic', async () => {
    await load('mail.log', [
      '2026-11-20T08:05:00+00:00 mx1 dovecot: imap-login: Login: user=<web@example.com>, method=PLAIN, rip=127.0.0.1, lip=127.0.0.1, mpid=101, secured, session=<aaaa>',
      '2026-11-20T08:35:00+00:00 mx1 dovecot: imap(web@example.com)<101><aaaa>: Logged out in=1000 out=900000000 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
      '2026-11-20T08:06:00+00:00 mx1 dovecot: imap-login: Login: user=<eva@example.com>, method=PLAIN, rip=198.51.100.40, lip=192.0.2.10, mpid=102, TLS, session=<bbbb>',
      '2026-11-20T08:20:00+00:00 mx1 dovecot: imap(eva@example.com)<102><bbbb>: Logged out in=500 out=2000000 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
    ]);
    const inv = await investigate(new SqliteReadStore(store), { from: FROM, to: TO });
    expect(inv.suspects.map((s) => s.account)).toEqual(['eva@example.com']);
  });
});

describe('lifetimes: one connection, one session', () => {
  const M = 60_000, t0 = FROM;
  const observed = { from: FROM, to: TO };

  it('pairs connections with logins a minute apart, though their first packets fall in adjacent minutes', () => {
    // SYN 300 ms before each login: 08:04:59.7 (minute 08:04) and 08:05:59.7 (minute 08:05).
    const conns = [{ key: 'a', first: t0 + 4 * M, last: t0 + 89 * M, rport: 61000 }, { key: 'b', first: t0 + 5 * M, last: t0 + 89 * M, rport: 61001 }];
    const sessions = [
      { account: 'anna', start: t0 + 5 * M, end: t0 + 90 * M, open: false, rport: null },
      { account: 'ben', start: t0 + 6 * M, end: t0 + 90 * M, open: false, rport: null },
    ];
    const r = matchLifetimes(conns, sessions, observed);
    expect(r.matched.get('a')?.account).toBe('anna');
    expect(r.matched.get('b')?.account).toBe('ben');
    expect(r.ambiguous.size).toBe(0);
  });

  it('tells sessions that began in the same minute apart by their ends, and an open one by running on', () => {
    const conns = [{ key: 'a', first: t0 + 5 * M, last: t0 + 69 * M, rport: null }, { key: 'b', first: t0 + 5 * M, last: t0 + 119 * M, rport: null }];
    const sessions = [
      { account: 'anna', start: t0 + 5 * M + 10_000, end: t0 + 70 * M, open: false, rport: null },
      { account: 'ben', start: t0 + 5 * M + 40_000, end: TO, open: true, rport: null },
    ];
    const r = matchLifetimes(conns, sessions, observed);
    expect([r.matched.get('a')?.account, r.matched.get('b')?.account]).toEqual(['anna', 'ben']);
  });

  it('leaves connections that no lifetime tells apart to be split, and never pairs across client ports', () => {
    const conns = [{ key: 'a', first: t0 + 5 * M, last: t0 + 69 * M, rport: null }, { key: 'b', first: t0 + 5 * M, last: t0 + 69 * M, rport: null }];
    const sessions = [
      { account: 'anna', start: t0 + 5 * M + 10_000, end: t0 + 70 * M, open: false, rport: null },
      { account: 'ben', start: t0 + 5 * M + 40_000, end: t0 + 70 * M, open: false, rport: null },
    ];
    const r = matchLifetimes(conns, sessions, observed);
    expect(r.matched.size).toBe(0);
    expect([...r.ambiguous].sort()).toEqual(['a', 'b']);
    expect(lifetimeCost({ key: 'a', first: t0, last: t0, rport: 1 }, { account: 'x', start: t0, end: t0, open: false, rport: 2 }, observed)).toBe(Infinity);
  });
});
