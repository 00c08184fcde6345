/**
 * End-to-end incidents: logs plus a capture, ingested and investigated through the CLI.
 * Each test asserts the top suspect, its service, the direction, and its bytes against the
 * capture's own totals as tshark reads them (within 2%) — never against bytetrail's numbers.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Investigation } from '../src/correlate/types.js';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import { SERVER } from '../src/demo/scenario.js';
import { runCli, tempDir } from './helpers/cli.js';

const haveTshark = spawnSync('sh', ['-c', 'command -v tshark'], { encoding: 'utf8' }).status === 0;

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

async function run(inc: Incident, extra: string[] = []): Promise<{ inv: Investigation; frames: Pkt[] }> {
  const { dir, cleanup } = tempDir('bytetrail-incident-');
  dirs.push(cleanup);
  const { files, capture } = inc.writer.write(join(dir, 'logs'));
  const db = join(dir, 'bt.db');
  const ing = await runCli(['ingest', '--db', db, ...extra, ...files]);
  expect(ing.error?.message).toBeUndefined();
  const r = await runCli<Investigation>(['investigate', '--db', db, '--no-ingest', '--json', '--since', new Date(inc.from).toISOString(), '--until', new Date(inc.to).toISOString()]);
  expect(r.error?.message).toBeUndefined();
  const inv = JSON.parse(r.stdout) as Investigation;
  return { inv, frames: haveTshark ? tsharkFrames(capture) : [] };
}

function within2pct(actual: number, expected: number): void {
  expect(expected).toBeGreaterThan(0);
  expect(Math.abs(actual - expected) / expected, `${actual} vs ${expected}`).toBeLessThanOrEqual(0.02);
}

describe.skipIf(!haveTshark)('incidents, end to end (tshark as the reference)', () => {
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
    expect(inv.throttle?.command).toMatch(/^bytetrail throttle jan@example\.com --rate \d+mbit --direction out --ports 143,993$/);
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

describe('investigate --demo', () => {
  it('shows a real investigation on a fresh database', async () => {
    const r = await runCli<Investigation>(['investigate', '--demo', '--json']);
    expect(r.error?.message).toBeUndefined();
    const inv = JSON.parse(r.stdout) as Investigation;
    expect(inv.suspects[0]).toMatchObject({ account: 'jan@example.com', finding: 'imap-resync' });
    expect(inv.findings.map((f) => f.kind)).toEqual(expect.arrayContaining(['imap-resync', 'scan', 'bruteforce']));
  });
});
