/**
 * Folding (aggregate.ts `foldRows`): probes and DNS exchanges lose their random port, the rest
 * stays per connection, and an investigation reads the same from folded records as from the
 * records of every connection. Frames are built with src/flows/pcap-write.ts.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { FlowAggregator, RowSpill } from '../../src/flows/aggregate.js';
import { IPPROTO, PcapWriter, TCP_FLAGS, ethernet, ipv4, tcp, udp } from '../../src/flows/pcap-write.js';
import type { FlowRecord } from '../../src/flows/types.js';
import { openStore } from '../../src/store/index.js';
import { runCli, tempDir } from '../helpers/cli.js';

const T = Date.UTC(2026, 10, 20, 9, 0, 0);
const SERVER = '192.0.2.10';

interface Packet { ts: number; frame: Uint8Array }

function tcpFrame(src: string, dst: string, sport: number, dport: number, size = 0, flags: number = TCP_FLAGS.SYN): Uint8Array {
  return ethernet(ipv4({ src, dst, proto: IPPROTO.TCP, payload: tcp({ sport, dport, flags, payload: size }) }));
}

function udpFrame(src: string, dst: string, sport: number, dport: number, size = 40): Uint8Array {
  return ethernet(ipv4({ src, dst, proto: IPPROTO.UDP, payload: udp({ sport, dport, payload: size }) }));
}

/** One minute of a server's traffic: what is folded and what is not. */
function traffic(): Packet[] {
  const p: Packet[] = [];
  let t = T + 1000;
  const at = (frame: Uint8Array) => p.push({ ts: t += 10, frame });
  // Folded: a scanner's SYNs to a closed port from five source ports, unanswered.
  for (let i = 0; i < 5; i++) at(tcpFrame('203.0.113.5', SERVER, 40001 + i, 8080));
  // Folded: the same scanner at ssh, three ports, two SYNs each, unanswered.
  for (let i = 0; i < 3; i++) { at(tcpFrame('203.0.113.5', SERVER, 41001 + i, 22)); at(tcpFrame('203.0.113.5', SERVER, 41001 + i, 22)); }
  // Folded: a DNS client's queries from three ports, each answered.
  for (let i = 0; i < 3; i++) { at(udpFrame('198.51.100.7', SERVER, 50001 + i, 53, 30)); at(udpFrame(SERVER, '198.51.100.7', 53, 50001 + i, 120)); }
  // Folded (the local port): the server's resolver asking upstream from three ports.
  for (let i = 0; i < 3; i++) { at(udpFrame(SERVER, '198.51.100.53', 33001 + i, 53, 30)); at(udpFrame('198.51.100.53', SERVER, 53, 33001 + i, 200)); }
  // Not folded: an IMAPS session, two packets each way, and an unanswered SYN to the mail port.
  for (let i = 0; i < 2; i++) { at(tcpFrame('198.51.100.20', SERVER, 50000, 993, 100, TCP_FLAGS.ACK)); at(tcpFrame(SERVER, '198.51.100.20', 993, 50000, 1400, TCP_FLAGS.ACK)); }
  at(tcpFrame('198.51.100.20', SERVER, 50001, 993));
  // Not folded: one OpenVPN packet (VPN sessions are matched by the client's port).
  at(udpFrame('198.51.100.21', SERVER, 40000, 1194));
  // Not folded: a probe the server answered (SYN, RST).
  at(tcpFrame('203.0.113.6', SERVER, 40000, 8081)); at(tcpFrame(SERVER, '203.0.113.6', 8081, 40000, 0, TCP_FLAGS.RST));
  // Not folded: four unanswered packets on one connection (more than a probe).
  for (let i = 0; i < 4; i++) at(tcpFrame('203.0.113.7', SERVER, 40000, 8082));
  // Not folded: backscatter, a SYN-ACK from a web server's port 80 (the service is the remote one's).
  at(tcpFrame('203.0.113.8', SERVER, 80, 33333, 0, TCP_FLAGS.SYN | TCP_FLAGS.ACK));
  return p;
}

function aggregate(fold: boolean, spill?: RowSpill): FlowRecord[] {
  const agg = new FlowAggregator({ localIps: [SERVER], fold, spill, holdRows: 1024 });
  for (const { ts, frame } of traffic()) agg.pushPacket(ts, 1, frame, frame.length);
  if (!spill) return agg.finish();
  const out: FlowRecord[] = [];
  agg.finishEach((r) => out.push(...r));
  return out;
}

const brief = (f: FlowRecord) => `${f.proto} ${f.lport} ${f.rip}:${f.rport} ${f.service} in=${f.packetsIn} out=${f.packetsOut}`;

function sums(records: FlowRecord[]): number[] {
  return records.reduce((a, f) => [a[0] + f.bytesIn, a[1] + f.bytesOut, a[2] + f.packetsIn, a[3] + f.packetsOut], [0, 0, 0, 0]);
}

describe('folding probes and DNS exchanges', () => {
  it('folds probes, DNS from clients and to upstream; keeps mail, VPN, answered probes, longer flows and backscatter per port', () => {
    expect(aggregate(true).map(brief)).toEqual([
      '17 0 198.51.100.53:53 dns in=3 out=3',
      '6 22 203.0.113.5:0 ssh in=6 out=0',
      '17 53 198.51.100.7:0 dns in=3 out=3',
      '6 993 198.51.100.20:50000 imaps in=2 out=2',
      '6 993 198.51.100.20:50001 imaps in=1 out=0',
      '17 1194 198.51.100.21:40000 openvpn in=1 out=0',
      '6 8080 203.0.113.5:0 other in=5 out=0',
      '6 8081 203.0.113.6:40000 other in=1 out=1',
      '6 8082 203.0.113.7:40000 other in=4 out=0',
      '6 33333 203.0.113.8:80 http in=1 out=0',
    ]);
  });

  it('adds up to what the records of every connection hold; off by default', () => {
    const all = aggregate(false);
    expect(all).toHaveLength(20);
    expect(all.every((f) => f.rport !== 0 && f.lport !== 0)).toBe(true);
    expect(sums(aggregate(true))).toEqual(sums(all));
    expect(new FlowAggregator({ localIps: [SERVER] }).finishEach(() => undefined)).toBe(0);
  });

  it('folds the same through the spill file, and counts the folded records', () => {
    const spill = new RowSpill();
    try {
      const agg = new FlowAggregator({ localIps: [SERVER], fold: true, spill, holdRows: 1024 });
      for (const { ts, frame } of traffic()) agg.pushPacket(ts, 1, frame, frame.length);
      const out: FlowRecord[] = [];
      expect(agg.finishEach((r) => out.push(...r))).toBe(10);
      expect(out.map(brief)).toEqual(aggregate(true).map(brief));
    } finally {
      spill.close();
    }
  });
});

describe('an investigation reads the same from folded records', () => {
  it('ingest (folded) and every connection written as it is give the same investigation', async () => {
    const { dir, cleanup } = tempDir('bytetrail-fold-');
    try {
      const w = new PcapWriter({ linkType: 1 });
      const packets = traffic();
      const capture = join(dir, 'capture.pcap');
      writeFileSync(capture, Buffer.concat([w.header(), ...packets.map((p) => w.record(BigInt(p.ts) * 1_000_000n, p.frame))]));
      const log = join(dir, 'mail.log');
      writeFileSync(log, 'Nov 20 09:00:01 mail dovecot: imap-login: Login: user=<jan@example.com>, method=PLAIN, rip=198.51.100.20, lip=192.0.2.10, rport=50000, lport=993, mpid=1, TLS, session=<a>\n');

      const folded = join(dir, 'folded.db');
      expect((await runCli(['ingest', '--db', folded, '--local', SERVER, capture, log])).error?.message).toBeUndefined();
      const db = new Database(folded, { readonly: true });
      expect(db.prepare("SELECT count(*) AS n, sum(rport = 0 OR lport = 0) AS f FROM flows WHERE source = 'pcap'").get()).toEqual({ n: 10, f: 4 });
      db.close();

      // The same capture's records of every connection, stored as they are, with the same log.
      const plain = join(dir, 'plain.db');
      expect((await runCli(['ingest', '--db', plain, log])).error?.message).toBeUndefined();
      const store = openStore({ path: plain });
      store.addFlows('pcap', aggregate(false));
      store.close();

      const args = ['--no-ingest', '--json', '--since', new Date(T).toISOString(), '--until', new Date(T + 3_600_000).toISOString()];
      const a = await runCli(['investigate', '--db', folded, ...args]);
      const b = await runCli(['investigate', '--db', plain, ...args]);
      expect(a.error?.message).toBeUndefined();
      const inv = JSON.parse(a.stdout);
      expect(a.stdout).toBe(b.stdout);
      // The folded probes are scans, as each of their connections is.
      // The folded probes are a scan, as each of their connections is: 11 SYNs of 54 bytes.
      const scan = inv.suspects.find((s: { finding: string }) => s.finding === 'scan');
      expect(scan).toMatchObject({ account: null, ips: ['203.0.113.5', '203.0.113.8'], bytesIn: 11 * 54 + 54, bytesOut: 0 });
      expect(inv.suspects[0]).toMatchObject({ account: 'jan@example.com', confidence: 'exact' });
      expect(inv.unattributed.find((u: { reason: string }) => u.reason === 'dns')).toMatchObject({ bytesIn: 942, bytesOut: 702 });
    } finally {
      cleanup();
    }
  }, 60_000);
});
