/**
 * End-to-end incidents: logs plus a capture, ingested and investigated through the CLI.
 * Each test asserts the top suspect, its service, the direction, and its bytes against the
 * capture's own totals as tshark reads them (within 2%) — never against bytetrail's numbers.
 * Incidents seen only through conntrack are checked against the counters in the listings.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Investigation } from '../src/correlate/types.js';
import type { IngestSummary } from '../src/ingest/index.js';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import { SERVER } from '../src/demo/scenario.js';
import { runCli, tempDir } from './helpers/cli.js';
import { missingCommands, skipNote } from './helpers/tools.js';

const noTshark = missingCommands(['tshark']);
const haveTshark = noTshark === null;

interface Pkt { len: number; src: string; dst: string; sport: number; dport: number }

/** Every frame of the capture as tshark decodes it: original length, addresses, ports. */
function tsharkFrames(capture: string): Pkt[] {
  const r = spawnSync('tshark', ['-r', capture, '-T', 'fields', '-E', 'separator=\t', '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'tcp.srcport', '-e', 'tcp.dstport', '-e', 'udp.srcport', '-e', 'udp.dstport'], { encoding: 'utf8', maxBuffer: 512 << 20 });
  if (r.status !== 0) throw new Error(`tshark failed: ${r.stderr}`);
  return r.stdout.trim().split('\n').map((l) => {
    const [len, src, dst, ts, td, us, ud] = l.split('\t');
    return { len: +len, src, dst, sport: +(ts || us || 0), dport: +(td || ud || 0) };
  });
}

/** Bytes between the server and peers matching `peer`, optionally only on a server port. */
function bytesWith(frames: Pkt[], peer: (ip: string, port: number) => boolean, serverPort?: number): number {
  let n = 0;
  for (const f of frames) {
    if (f.src === SERVER && peer(f.dst, f.dport) && (serverPort === undefined || f.sport === serverPort)) n += f.len;
    else if (f.dst === SERVER && peer(f.src, f.sport) && (serverPort === undefined || f.dport === serverPort)) n += f.len;
  }
  return n;
}

const dirs: Array<() => void> = [];
afterAll(() => { for (const d of dirs) d(); });

/** Write the incident (its capture, or its conntrack listings and no capture), ingest it and investigate its window. */
async function run(inc: Incident, extra: string[] = []): Promise<{ inv: Investigation; frames: Pkt[]; ingest: IngestSummary; listings: string[] }> {
  const { dir, cleanup } = tempDir('bytetrail-incident-');
  dirs.push(cleanup);
  const { files, capture, listings } = inc.writer.write(join(dir, 'logs'), { capture: !inc.listings, listings: inc.listings });
  const db = join(dir, 'bt.db');
  const ing = await runCli<IngestSummary>(['ingest', '--db', db, ...extra, ...files]);
  expect(ing.error?.message).toBeUndefined();
  const r = await runCli<Investigation>(['investigate', '--db', db, '--no-ingest', '--json', '--since', new Date(inc.from).toISOString(), '--until', new Date(inc.to).toISOString()]);
  expect(r.error?.message).toBeUndefined();
  const inv = JSON.parse(r.stdout) as Investigation;
  return { inv, frames: haveTshark && capture ? tsharkFrames(capture) : [], ingest: ing.result!, listings };
}

function within2pct(actual: number, expected: number): void {
  expect(expected).toBeGreaterThan(0);
  expect(Math.abs(actual - expected) / expected, `${actual} vs ${expected}`).toBeLessThanOrEqual(0.02);
}

describe.skipIf(!haveTshark)(`incidents, end to end (tshark as the reference)${skipNote(noTshark)}`, () => {
  beforeAll(() => {
    if (!haveTshark) console.warn('tshark is not installed: the incident tests need it as the byte reference (apt-get install tshark)');
  });

  it('imap-resync: one account re-downloads its mailbox over IMAPS in a loop', async () => {
    const inc = INCIDENTS.imapResync();
    const { inv, frames } = await run(inc);
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'jan@example.com', service: 'imap', direction: 'out', finding: 'imap-resync', confidence: 'exact' });
    within2pct(top.bytesIn + top.bytesOut, bytesWith(frames, (ip) => ip === '198.51.100.23'));
    expect(inv.verdict).toMatch(/^jan@example\.com \(IMAP, 198\.51\.100\.23\) caused \d+% of outbound traffic/);
    expect(inv.findings.map((f) => f.kind)).toContain('imap-resync');
    expect(inv.throttle?.command).toMatch(/^bytetrail throttle --rate \d+mbit --direction out --ports 143,993 --since 2026-11-20T\d\d:\d\d:\d\dZ --until 2026-11-20T\d\d:\d\d:\d\dZ -- jan@example\.com$/);
    // Every byte of the window is in exactly one bucket.
    const total = frames.reduce((a, f) => a + f.len, 0);
    within2pct(inv.totals.bytesIn + inv.totals.bytesOut, total);
    expect(Math.abs(inv.totals.attributedBytes + inv.totals.unattributedBytes - (inv.totals.bytesIn + inv.totals.bytesOut))).toBeLessThanOrEqual(2);
  });

  it('spam-relay: a compromised SASL account sends through remote MTAs from many IPs', async () => {
    const inc = INCIDENTS.spamRelay();
    const { inv, frames } = await run(inc);
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'sales@example.com', service: 'smtp', direction: 'out', finding: 'spam-relay' });
    const relay = (ip: string) => { const o = ip.split('.'); return o.slice(0, 3).join('.') === '203.0.113' && +o[3] >= 100 && +o[3] < 120; };
    within2pct(top.bytesIn + top.bytesOut, bytesWith(frames, relay));
    expect(inv.throttle).toMatchObject({ direction: 'in', ports: [587, 465] });
  });

  it('vpn-heavy: the tunnel bytes count once, and the double count on eth0 is reported', async () => {
    const inc = INCIDENTS.vpnHeavy();
    const { inv, frames } = await run(inc);
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'alice', service: 'vpn', direction: 'out', finding: 'vpn-heavy', ips: ['203.0.113.77'] });
    within2pct(top.bytesIn + top.bytesOut, bytesWith(frames, (ip) => ip === '203.0.113.77', 1194));
    // The same video seen after NAT on eth0 and inside tun0.
    const forwarded = frames.filter((f) => f.src === '203.0.113.200' || f.dst === '203.0.113.200').reduce((a, f) => a + f.len, 0);
    within2pct(top.doubleCountedBytes, forwarded);
    expect(inv.notes.join(' ')).toMatch(/counted twice/);
  });

  it('dns-amplification: small spoofed queries in, large answers out, no account', async () => {
    const inc = INCIDENTS.dnsAmplification();
    const { inv, frames } = await run(inc);
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: null, service: 'dns', direction: 'out', finding: 'dns-amplification' });
    expect(top.ips[0]).toBe('203.0.113.99');
    const victim = bytesWith(frames, (ip) => ip === '203.0.113.99');
    expect(top.bytesIn + top.bytesOut).toBeGreaterThanOrEqual(victim * 0.98);
    within2pct(top.bytesIn + top.bytesOut, bytesWith(frames, () => true, 53));
  });

  it('scan and bruteforce: firewall drops and failed logins from addresses that never logged in', async () => {
    const inc = INCIDENTS.scanAndBruteforce();
    const { inv, frames } = await run(inc);
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: null, service: 'imap', direction: 'out', finding: 'bruteforce', ips: ['198.51.100.200'] });
    within2pct(top.bytesIn + top.bytesOut, bytesWith(frames, (ip) => ip === '198.51.100.200'));
    const scan = inv.suspects.find((s) => s.finding === 'scan');
    expect(scan?.ips).toEqual(['203.0.113.13']);
    expect(scan?.direction).toBe('in');
    within2pct(scan!.bytesIn + scan!.bytesOut, bytesWith(frames, (ip) => ip === '203.0.113.13'));
    expect(inv.findings.map((f) => f.kind).sort()).toEqual(['bruteforce', 'scan']);
  });

  it('shared-ip: two accounts behind one NAT split the bytes by their own counters', async () => {
    const inc = INCIDENTS.sharedIp();
    const { inv, frames } = await run(inc);
    const [a, b] = inv.suspects;
    expect(a).toMatchObject({ account: 'anna@example.com', service: 'imap', direction: 'out', confidence: 'shared-ip', split: true });
    expect(b).toMatchObject({ account: 'ben@example.com', confidence: 'shared-ip', split: true });
    // Each account's own TCP connection, as tshark counts it.
    within2pct(a.bytesIn + a.bytesOut, bytesWith(frames, (ip, port) => ip === '203.0.113.50' && port === 61000));
    within2pct(b.bytesIn + b.bytesOut, bytesWith(frames, (ip, port) => ip === '203.0.113.50' && port === 61001));
    expect(inv.verdict).toMatch(/split with other accounts on a shared IP/);
  });

  it('the same answers when the server address is given with --local', async () => {
    const inc = INCIDENTS.imapResync(31);
    const { inv } = await run(inc, ['--local', SERVER]);
    expect(inv.suspects[0]).toMatchObject({ account: 'jan@example.com', finding: 'imap-resync' });
  });
});

/**
 * One conntrack entry's bytes (both directions) in each listing that shows it, read with a
 * plain match on its original tuple: `src=... dst=... sport=... dport=... packets=N bytes=N
 * src=... packets=N bytes=N`. Listings that do not show it are left out.
 */
function entryBytes(listings: string[], orig: string): Array<{ listing: string; bytes: number }> {
  const out: Array<{ listing: string; bytes: number }> = [];
  for (const listing of listings) {
    const line = readFileSync(listing, 'utf8').split('\n').find((l) => l.includes(` ${orig} `));
    if (!line) continue;
    const counters = [...line.matchAll(/ bytes=(\d+)/g)].map((m) => Number(m[1]));
    expect(counters, line).toHaveLength(2);
    out.push({ listing, bytes: counters[0] + counters[1] });
  }
  return out;
}

describe('incidents seen only through conntrack listings (no capture)', () => {
  const TUNNEL = 'src=203.0.113.77 dst=192.0.2.10 sport=51820 dport=1194';
  const FORWARDED = 'src=198.51.100.66 dst=203.0.113.200 sport=40123 dport=443';

  /**
   * The account's bytes are compared with the tunnel entry's own counters: bytetrail spreads
   * each listing's growth over minutes in whole bytes with exact sums, and every listing lies in
   * the window, so the only slack is rounding each of bytesIn and bytesOut once (2 bytes).
   */
  const ROUNDING = 2;

  it('vpn-heavy, kernel timestamps on: the tunnel counted once from its start, the forwarded copy reported as a double count', async () => {
    const inc = INCIDENTS.vpnHeavyConntrack(13, { timestamps: true });
    const { inv, ingest, listings } = await run(inc);
    expect(ingest.unparsed).toEqual({});
    expect(inv.flowSource).toBe('conntrack');
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'alice', service: 'vpn', direction: 'out', finding: 'vpn-heavy', confidence: 'exact', ips: ['203.0.113.77'] });
    expect(inv.findings.map((f) => f.kind)).toContain('vpn-heavy');
    // delta-time= dates the tunnel's start (08:02), before the first listing (08:05): all of its bytes are known.
    const tunnel = entryBytes(listings, TUNNEL);
    expect(tunnel[0].listing).toBe(listings[0]);
    const tunnelBytes = tunnel[tunnel.length - 1].bytes;
    expect(Math.abs(top.bytesIn + top.bytesOut - tunnelBytes), `${top.bytesIn + top.bytesOut} vs ${tunnelBytes}`).toBeLessThanOrEqual(ROUNDING);
    // The video after NAT: one conntrack entry, all of it seen again.
    const forwarded = entryBytes(listings, FORWARDED);
    const forwardedBytes = forwarded[forwarded.length - 1].bytes;
    expect(Math.abs(top.doubleCountedBytes - forwardedBytes), `${top.doubleCountedBytes} vs ${forwardedBytes}`).toBeLessThanOrEqual(ROUNDING);
    expect(inv.notes.join(' ')).toMatch(/counted twice/);
  });

  it('vpn-heavy, no kernel timestamps: the first listing is a baseline, and only what came after it is counted', async () => {
    const inc = INCIDENTS.vpnHeavyConntrack(13, { timestamps: false });
    const { inv, ingest, listings } = await run(inc);
    expect(ingest.unparsed).toEqual({});
    expect(ingest.warnings.join('\n')).toMatch(/first listing: \d+ connection\(s\) without a start time \([\d,]+ bytes so far\) taken as the baseline, not counted/);
    const top = inv.suspects[0];
    expect(top).toMatchObject({ account: 'alice', service: 'vpn', direction: 'out', finding: 'vpn-heavy', ips: ['203.0.113.77'] });
    // Without a start time, what the tunnel moved before 08:05 (since 08:02) cannot be placed in time.
    const tunnel = entryBytes(listings, TUNNEL);
    expect(tunnel[0].listing).toBe(listings[0]);
    expect(tunnel[0].bytes).toBeGreaterThan(0);
    const knowable = tunnel[tunnel.length - 1].bytes - tunnel[0].bytes;
    expect(Math.abs(top.bytesIn + top.bytesOut - knowable), `${top.bytesIn + top.bytesOut} vs ${knowable}`).toBeLessThanOrEqual(ROUNDING);
    const forwarded = entryBytes(listings, FORWARDED);
    const forwardedKnowable = forwarded[forwarded.length - 1].bytes - forwarded[0].bytes;
    expect(Math.abs(top.doubleCountedBytes - forwardedKnowable), `${top.doubleCountedBytes} vs ${forwardedKnowable}`).toBeLessThanOrEqual(ROUNDING);
    expect(inv.notes.join(' ')).toMatch(/counted twice/);
  });
});

describe('investigate --demo', () => {
  it('shows a real investigation on a fresh database', async () => {
    const r = await runCli<Investigation>(['investigate', '--demo', '--json']);
    expect(r.error?.message).toBeUndefined();
    const inv = JSON.parse(r.stdout) as Investigation;
    expect(inv.suspects[0]).toMatchObject({ account: 'jan@example.com', finding: 'imap-resync' });
    expect(inv.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['imap-resync', 'scan', 'bruteforce']));
  });
});
