/**
 * Capture reading and per-connection counts, checked against
 *  - our own generated fixtures (fixtures/pcap/, from test/helpers/pcapgen.ts), whose expected
 *    counts come straight from the generator's packet list;
 *  - the real-world corpus (../shared/corpus/pcap): Zeek conn.log baselines and tcpdump's .out
 *    decodes, and tshark where it is installed;
 *  - live captures: real tcpdump on a veth pair between two network namespaces, compared with
 *    capinfos and tshark.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createReadStream, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateCapture, aggregateFile, fileChunks, FlowAggregator } from '../../src/flows/aggregate.js';
import { CaptureReader, PcapFormatError, readCapture, sniffCapture, type CaptureSink } from '../../src/flows/pcap.js';
import { FrameDecoder, UNKNOWN_KEY, formatIp } from '../../src/flows/pcap-decode.js';
import {
  IPPROTO, PcapWriter, PcapngWriter, ethernet, ipv4, ipv6, nullLoopback, tcp, udp,
} from '../../src/flows/pcap-write.js';
import type { AggregateResult, FlowRecord } from '../../src/flows/types.js';
import { PCAP_FIXTURES, T0, buildFixtures, expectedFlows, fixturesReadme, type Fixture } from '../helpers/pcapgen.js';
import { createNetnsPair, netnsUnavailable, stopGracefully, untilFileHolds, WAIT_MS, waitForOutput, type NetnsPair } from '../helpers/netns.js';
import { hasCommand, missingCommands, skipNote, why } from '../helpers/tools.js';

const CORPUS_PCAP = join(import.meta.dirname, '..', '..', '..', 'shared', 'corpus', 'pcap');

/** Why each reference tool's checks are skipped, or null: each test checks only what it runs. */
const NO_TSHARK = missingCommands(['tshark']);
const NO_CAPINFOS = missingCommands(['capinfos']);
const NO_EDITCAP = missingCommands(['editcap']);

async function* chunksOf(buf: Uint8Array, size: (i: number) => number): AsyncGenerator<Uint8Array> {
  let off = 0;
  for (let i = 0; off < buf.length; i++) {
    const n = Math.max(1, size(i));
    yield buf.subarray(off, off + n);
    off += n;
  }
}

function aggregateBytes(buf: Uint8Array, opts: Parameters<typeof aggregateCapture>[1] = {}, size: (i: number) => number = () => 1 << 16): Promise<AggregateResult> {
  return aggregateCapture(chunksOf(buf, size), opts);
}

/** Flow totals per connection over all minutes and interfaces: `proto|lip|lport|rip|rport`. */
function perConnection(flows: FlowRecord[]): Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }> {
  const m = new Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }>();
  for (const f of flows) {
    const k = `${f.proto}|${f.lip}|${f.lport}|${f.rip}|${f.rport}`;
    const e = m.get(k) ?? { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
    e.bytesIn += f.bytesIn; e.bytesOut += f.bytesOut; e.packetsIn += f.packetsIn; e.packetsOut += f.packetsOut;
    m.set(k, e);
  }
  return m;
}

function flowMap(flows: FlowRecord[]): Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }> {
  const m = new Map<string, { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number }>();
  for (const f of flows) {
    const k = `${f.minute}|${f.iface}|${f.proto}|${f.lip}|${f.lport}|${f.rip}|${f.rport}`;
    expect(m.has(k), `duplicate record ${k}`).toBe(false);
    m.set(k, { bytesIn: f.bytesIn, bytesOut: f.bytesOut, packetsIn: f.packetsIn, packetsOut: f.packetsOut });
  }
  return m;
}

function sumFlows(flows: FlowRecord[]): { packets: number; bytes: number } {
  let packets = 0, bytes = 0;
  for (const f of flows) { packets += f.packetsIn + f.packetsOut; bytes += f.bytesIn + f.bytesOut; }
  return { packets, bytes };
}

interface DecodedPacket { origLen: number; ipOff: number; ipLen: number; kind: number; proto: number; src: string; dst: string; sport: number; dport: number; l4PayloadLen: number }

/** Every frame of a capture through the decoder, one object each (tests only). */
async function decodeEach(chunks: AsyncIterable<Uint8Array>): Promise<DecodedPacket[]> {
  const dec = new FrameDecoder();
  const out: DecodedPacket[] = [];
  const sink: CaptureSink = {
    iface: () => 0,
    packet(_h, lt, _sec, _nsec, buf, off, cap, orig) {
      dec.decode(lt, buf, off, cap);
      out.push({
        origLen: orig, ipOff: dec.ipOff, ipLen: dec.ipLen, kind: dec.kind, proto: dec.proto,
        src: formatIp(dec.s0, dec.s1, dec.s2, dec.s3), dst: formatIp(dec.d0, dec.d1, dec.d2, dec.d3),
        sport: dec.sport, dport: dec.dport, l4PayloadLen: dec.l4PayloadLen,
      });
    },
  };
  await readCapture(chunks, sink);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Our fixtures

const FIXTURES = buildFixtures();

function fixtureBytes(f: Fixture): Buffer {
  return readFileSync(join(PCAP_FIXTURES, f.name));
}

describe('fixtures/pcap', () => {
  it('are what the generator makes (UPDATE_FIXTURES=1 rewrites them)', () => {
    for (const f of FIXTURES) {
      const path = join(PCAP_FIXTURES, f.name);
      if (process.env.UPDATE_FIXTURES === '1') writeFileSync(path, f.bytes);
      expect(existsSync(path), `${f.name} is missing: run with UPDATE_FIXTURES=1`).toBe(true);
      const onDisk = readFileSync(path);
      // zlib versions may compress differently; what matters is the capture inside.
      if (f.name.endsWith('.gz')) expect(gunzipSync(onDisk).equals(gunzipSync(f.bytes)), f.name).toBe(true);
      else expect(onDisk.equals(f.bytes), `${f.name} differs from the generator's output`).toBe(true);
    }
    const readme = join(PCAP_FIXTURES, 'README.md');
    if (process.env.UPDATE_FIXTURES === '1') writeFileSync(readme, fixturesReadme(FIXTURES));
    expect(readFileSync(readme, 'utf8')).toBe(fixturesReadme(FIXTURES));
    const extra = readdirSync(PCAP_FIXTURES).filter((n) => !FIXTURES.some((f) => f.name === n) && n !== 'README.md');
    expect(extra, 'files in fixtures/pcap without a generator').toEqual([]);
  });

  for (const f of FIXTURES) {
    describe(f.name, () => {
      it(`counts every connection per minute exactly (${f.about})`, async () => {
        const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
        const complete = f.packets.slice(0, f.completePackets ?? f.packets.length);
        expect(Object.fromEntries(flowMap(r.flows))).toEqual(Object.fromEntries(expectedFlows(complete, f.localIps)));
        expect(r.packets).toBe(complete.length);
        expect(r.bytes).toBe(complete.reduce((s, p) => s + p.origLen, 0));
        expect(sumFlows(r.flows)).toEqual({ packets: r.packets, bytes: r.bytes });
        const ts = complete.map((p) => Number(p.tsNs / 1000n) / 1000);
        expect(r.firstTs).toBeCloseTo(Math.min(...ts), 2);
        expect(r.lastTs).toBeCloseTo(Math.max(...ts), 2);
        if (f.completePackets !== undefined) {
          expect(r.truncated).toBe(true);
          expect(r.warnings.join('\n')).toMatch(/capture ends inside a packet record at byte \d+: 46 of \d+ bytes present/);
        } else {
          expect(r.truncated).toBe(false);
        }
      });

      it('gives the same result whatever the chunk boundaries', async () => {
        const bytes = fixtureBytes(f);
        const whole = await aggregateBytes(bytes, { localIps: f.localIps }, () => bytes.length);
        expect(await aggregateCapture(fileChunks(join(PCAP_FIXTURES, f.name), 5), { localIps: f.localIps })).toEqual(whole);
        const ones = await aggregateBytes(bytes, { localIps: f.localIps }, () => 1);
        let seed = 7;
        const random = await aggregateBytes(bytes, { localIps: f.localIps }, () => {
          seed = (seed * 1103515245 + 12345) & 0x7fffffff;
          return 1 + (seed % 97);
        });
        expect(ones).toEqual(whole);
        expect(random).toEqual(whole);
      });

      it.skipIf(NO_CAPINFOS !== null)(`agrees with capinfos${skipNote(NO_CAPINFOS)}`, async () => {
        if (f.completePackets !== undefined) return; // capinfos refuses a cut file; see the truncation tests
        const r = await aggregateBytes(fixtureBytes(f));
        expect(capinfos(join(PCAP_FIXTURES, f.name))).toEqual({ packets: r.packets, bytes: r.bytes });
      });
    });
  }

  it('be-usec.pcap: snaplen 96 still yields ports; ARP is non-IP; link types and unknown protocols are reported', async () => {
    const f = FIXTURES.find((x) => x.name === 'be-usec.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    expect(r.linkTypes).toEqual([1]);
    expect(r.unknownProtocols).toEqual({ 2054: { packets: 1, bytes: 60 } });
    const imaps = r.flows.filter((x) => x.service === 'imaps');
    expect(imaps.length).toBe(2); // one per minute
    expect(imaps.every((x) => x.lip === '198.51.100.10' && x.lport === 993 && x.rport === 50001)).toBe(true);
    const dns = r.flows.find((x) => x.service === 'dns')!;
    expect(dns).toMatchObject({ lip: '198.51.100.10', lport: 40000, rip: '192.0.2.53', rport: 53, proto: 17 });
    expect(r.flows.find((x) => x.proto === 0)).toMatchObject({ lip: '', rip: '', service: 'other', packetsIn: 1, bytesIn: 60, bytesOut: 0 });
  });

  it('nsec.pcap: a nanosecond before the minute is in the earlier minute', async () => {
    const f = FIXTURES.find((x) => x.name === 'nsec.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    const v4 = r.flows.filter((x) => x.rip === '203.0.113.20');
    expect(v4.map((x) => [new Date(x.minute).toISOString(), x.packetsIn, x.packetsOut])).toEqual([
      ['2026-11-20T09:00:00.000Z', 1, 0],
      ['2026-11-20T09:01:00.000Z', 1, 1],
    ]);
    expect(r.firstTs).toBe(Number(T0 / 1_000_000n) + 59_999.999999);
  });

  it('two-ifaces.pcapng: interface names, per-interface link types and time resolutions, both sections', async () => {
    const f = FIXTURES.find((x) => x.name === 'two-ifaces.pcapng')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    expect(r.linkTypes).toEqual([1, 101, 276]);
    expect([...new Set(r.flows.map((x) => x.iface))].sort()).toEqual(['any', 'eth0', 'tun0']);
    expect(r.flows.find((x) => x.iface === 'tun0')).toMatchObject({ lip: '192.0.2.1', lport: 993, service: 'imaps' });
    expect(r.flows.find((x) => x.iface === 'any')).toMatchObject({ lip: '198.51.100.10', rport: 25, service: 'smtp' });
    expect(r.warnings).toEqual(['simple packet blocks carry no timestamp: they are counted at the latest timestamp before them']);
    // Without localIps, the IDBs' if_IPv4addr options say which addresses are the server's.
    const inferred = await aggregateBytes(fixtureBytes(f));
    expect(inferred.flows.filter((x) => x.proto !== 0).map((x) => x.lip).sort()).toEqual(r.flows.filter((x) => x.proto !== 0).map((x) => x.lip).sort());
  });

  it('sll.pcap / sll2.pcap: the cooked header\'s packet direction tells the server without localIps', async () => {
    for (const name of ['sll.pcap', 'sll2.pcap']) {
      const f = FIXTURES.find((x) => x.name === name)!;
      const given = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
      const inferred = await aggregateBytes(fixtureBytes(f));
      expect(inferred.flows, name).toEqual(given.flows);
    }
    const f = FIXTURES.find((x) => x.name === 'sll2.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f));
    // Outbound relay from an ephemeral port to a remote 25 is smtp, sent by the server.
    expect(r.flows.find((x) => x.rport === 25)).toMatchObject({ lip: '198.51.100.10', lport: 39001, rip: '192.0.2.25', service: 'smtp' });
    expect(r.flows.find((x) => x.lport === 25)).toMatchObject({ rip: '203.0.113.50', service: 'smtp' });
  });

  it('vlan.pcap: 802.1Q, QinQ and 0x9100 tags are skipped', async () => {
    const f = FIXTURES.find((x) => x.name === 'vlan.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    expect(r.flows.map((x) => x.service).sort()).toEqual(['dns', 'smtps', 'submission']);
    expect(r.unknownProtocols).toEqual({});
  });

  it('null.pcap: loopback with both ends local puts the service port on the local side', async () => {
    const f = FIXTURES.find((x) => x.name === 'null.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    expect(r.flows.map((x) => `${x.lip}:${x.lport} ${x.rip}:${x.rport} ${x.service}`).sort()).toEqual([
      '192.0.2.10:993 192.0.2.10:50100 imaps',
      '2001:db8::10:53 2001:db8::10:50101 dns',
    ]);
  });

  it('ipv4-frag.pcap: later fragments join the first fragment\'s flow', async () => {
    const f = FIXTURES.find((x) => x.name === 'ipv4-frag.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    const vpn = r.flows.find((x) => x.lport === 1194)!;
    expect([vpn.packetsIn, vpn.packetsOut]).toEqual([3 + 1, 2]);
    const orphan = r.flows.find((x) => x.lport === 0 && x.proto === 17)!;
    expect(orphan.packetsIn).toBe(1);
  });

  it('ipv6-ext.pcap: ports found behind extension headers; ESP counted by protocol number', async () => {
    const f = FIXTURES.find((x) => x.name === 'ipv6-ext.pcap')!;
    const r = await aggregateBytes(fixtureBytes(f), { localIps: f.localIps });
    expect(r.flows.map((x) => `${x.proto} ${x.lport} ${x.rport} ${x.service}`).sort()).toEqual([
      '17 1194 58003 openvpn', '17 53 58001 dns', '50 0 0 other', '6 25 58002 smtp', '6 993 58000 imaps',
    ]);
    expect(r.unknownProtocols).toEqual({ 50: { packets: 1, bytes: 14 + 40 + 120 } });
  });

  it('pop3.pcap.gz: gzip is recognised by its magic; a cut gzip keeps what it had and warns', async () => {
    const f = FIXTURES.find((x) => x.name === 'pop3.pcap.gz')!;
    const bytes = fixtureBytes(f);
    expect(sniffCapture(bytes)).toBe('gzip');
    const whole = await aggregateBytes(bytes, { localIps: f.localIps });
    expect(whole.packets).toBe(f.packets.length);
    // From a file, through fileChunks' reused buffer, in chunks of any size.
    expect(await aggregateFile(join(PCAP_FIXTURES, f.name), { localIps: f.localIps })).toEqual(whole);
    expect(await aggregateCapture(fileChunks(join(PCAP_FIXTURES, f.name), 7), { localIps: f.localIps })).toEqual(whole);
    const cut = await aggregateBytes(bytes.subarray(0, bytes.length - 40), { localIps: f.localIps });
    expect(cut.truncated).toBe(true);
    expect(cut.warnings.join('\n')).toMatch(/gzip stream ends early/);
    expect(cut.packets).toBeGreaterThan(0);
    expect(cut.packets).toBeLessThanOrEqual(f.packets.length);
  });
});

function capinfos(path: string): { packets: number; bytes: number } {
  const out = execFileSync('capinfos', ['-M', '-T', '-c', '-d', path], { stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  const cols = out.trim().split('\n')[1].split('\t');
  return { packets: Number(cols[1]), bytes: Number(cols[2]) };
}

// ---------------------------------------------------------------------------------------------
// Formats and link types built in memory

function pcapOf(linkType: number, frames: Uint8Array[], opts: { bigEndian?: boolean; nanosecond?: boolean } = {}): Buffer {
  const w = new PcapWriter({ linkType, ...opts });
  return Buffer.concat([w.header(), ...frames.map((f, i) => w.record(T0 + BigInt(i) * 1_000_000n, f))]);
}

const V4_UDP = ipv4({ src: '192.0.2.7', dst: '198.51.100.10', proto: IPPROTO.UDP, payload: udp({ sport: 40000, dport: 53, payload: 30 }) });
const V6_TCP = ipv6({ src: '2001:db8::7', dst: '2001:db8::10', nextHeader: IPPROTO.TCP, payload: tcp({ sport: 40001, dport: 443, payload: 10 }) });

describe('capture formats', () => {
  it.each([
    ['raw IP (DLT 12)', 12], ['raw IP (DLT 14, OpenBSD)', 14], ['raw IP (101)', 101],
  ])('%s: IPv4 and IPv6 by the version nibble', async (_n, lt) => {
    const r = await aggregateBytes(pcapOf(lt, [V4_UDP, V6_TCP]), { localIps: ['198.51.100.10', '2001:db8::10'] });
    expect(r.flows.map((x) => `${x.rip}:${x.rport}>${x.lip}:${x.lport}/${x.service}`)).toEqual([
      '192.0.2.7:40000>198.51.100.10:53/dns', '2001:db8::7:40001>2001:db8::10:443/https',
    ]);
  });

  it('LINKTYPE_IPV4 (228) and LINKTYPE_IPV6 (229)', async () => {
    const a = await aggregateBytes(pcapOf(228, [V4_UDP]), { localIps: ['198.51.100.10'] });
    const b = await aggregateBytes(pcapOf(229, [V6_TCP]), { localIps: ['2001:db8::10'] });
    expect([a.flows[0].service, b.flows[0].service]).toEqual(['dns', 'https']);
  });

  it('DLT_LOOP (108): the family in network byte order; unknown families are counted', async () => {
    const frames = [nullLoopback(V4_UDP, 2, false), nullLoopback(V6_TCP, 24, false), nullLoopback(V6_TCP, 28, false), nullLoopback(V4_UDP, 7, false)];
    const r = await aggregateBytes(pcapOf(108, frames), { localIps: ['198.51.100.10', '2001:db8::10'] });
    expect(r.flows.filter((x) => x.proto !== 0).map((x) => x.packetsIn)).toEqual([1, 2]);
    expect(r.unknownProtocols).toEqual({ [UNKNOWN_KEY.LOOPBACK_FAMILY_BASE + 7]: { packets: 1, bytes: V4_UDP.length + 4 } });
  });

  it('an unknown link type is counted, not dropped', async () => {
    const r = await aggregateBytes(pcapOf(147, [V4_UDP]));
    expect(r.packets).toBe(1);
    expect(r.unknownProtocols).toEqual({ [UNKNOWN_KEY.LINK_TYPE_BASE + 147]: { packets: 1, bytes: V4_UDP.length } });
    expect(r.flows).toMatchObject([{ proto: 0, bytesIn: V4_UDP.length }]);
  });

  it('bytes are the original length, not the captured length', async () => {
    const w = new PcapWriter({ linkType: 1, snaplen: 60 });
    const frame = ethernet(ipv4({ src: '192.0.2.7', dst: '198.51.100.10', proto: IPPROTO.TCP, payload: tcp({ sport: 40000, dport: 993, payload: 1400 }) }));
    const r = await aggregateBytes(Buffer.concat([w.header(), w.record(T0, frame)]), { localIps: ['198.51.100.10'] });
    expect(r.flows).toMatchObject([{ lport: 993, rport: 40000, bytesIn: 14 + 20 + 20 + 1400, packetsIn: 1 }]);
  });

  it('Kuznetzov pcap (magic a1b2cd34, 24-byte record headers)', async () => {
    const std = pcapOf(101, [V4_UDP, V6_TCP]);
    const parts: Buffer[] = [Buffer.from(std.subarray(0, 24))];
    parts[0].writeUInt32LE(0xa1b2cd34, 0);
    let off = 24;
    while (off < std.length) {
      const cap = std.readUInt32LE(off + 8);
      parts.push(std.subarray(off, off + 16), Buffer.alloc(8), std.subarray(off + 16, off + 16 + cap));
      off += 16 + cap;
    }
    const r = await aggregateBytes(Buffer.concat(parts));
    expect(r.packets).toBe(2);
    expect(r.flows.map((x) => x.service)).toEqual(['dns', 'https']);
  });

  it('not a capture: a one-line PcapFormatError naming the magic', async () => {
    const err = await aggregateBytes(Buffer.from('Nov 20 09:00:00 mail postfix/smtpd[1]: connect\n')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PcapFormatError);
    expect((err as PcapFormatError).message).toBe('not a pcap or pcapng capture (magic 0x4e6f7620)');
    expect((err as PcapFormatError).code).toBe('E_PCAP_FORMAT');
    await expect(aggregateBytes(Buffer.alloc(0))).rejects.toThrow('not a pcap or pcapng capture (empty input)');
    await expect(aggregateBytes(Buffer.from([0xd4, 0xc3]))).rejects.toThrow(PcapFormatError);
    expect(() => new CaptureReader({ iface: () => 0, packet: () => undefined }).push(gzipSync(Buffer.from('x')))).toThrow(/gzip-compressed capture given to the raw reader/);
  });

  it('a capture cut inside its file header is truncated, not an error', async () => {
    const r = await aggregateBytes(pcapOf(1, []).subarray(0, 10));
    expect(r.truncated).toBe(true);
    expect(r.packets).toBe(0);
    expect(r.warnings[0]).toMatch(/capture ends inside a file header at byte 0: 10 of 24 bytes/);
  });

  it('a damaged record length stops the reading with a warning and keeps what came before', async () => {
    const buf = pcapOf(101, [V4_UDP, V4_UDP, V4_UDP]);
    const second = 24 + 16 + V4_UDP.length;
    buf.writeUInt32LE(0x7fffffff, second + 8);
    for (const size of [1 << 16, 1, 13]) {
      const r = await aggregateBytes(buf, {}, () => size);
      expect(r.packets).toBe(1);
      expect(r.truncated).toBe(true);
      expect(r.warnings).toEqual([`damaged packet record at byte ${second}: captured length 2147483647 (reading stopped there)`]);
    }
  });

  describe('pcapng', () => {
    const frame = ethernet(V4_UDP);
    it('if_tsresol, if_tsoffset and 64-bit nanosecond timestamps split exactly', async () => {
      const w = new PcapngWriter();
      const parts = [w.section(), w.interface({ linkType: 1, tsresol: 9 })];
      // The last nanosecond of a minute: 2^53 is passed, so a plain double division would round up.
      const ts = T0 + 59_999_999_999n;
      parts.push(w.packet(0, ts, frame), w.packet(0, ts + 1n, frame));
      const r = await aggregateBytes(Buffer.concat(parts), { localIps: ['198.51.100.10'] });
      expect(r.flows.map((x) => new Date(x.minute).toISOString())).toEqual(['2026-11-20T09:00:00.000Z', '2026-11-20T09:01:00.000Z']);
    });

    it('if_tsoffset moves timestamps by whole seconds', async () => {
      const w = new PcapngWriter();
      const shb = w.section();
      const idb = w.interface({ linkType: 1 });
      // Hand-build an IDB with if_tsoffset = 3600: code 14, length 8, little-endian int64.
      const opt = Buffer.alloc(16);
      opt.writeUInt16LE(14, 0); opt.writeUInt16LE(8, 2); opt.writeBigInt64LE(3600n, 4);
      const body = Buffer.concat([idb.subarray(8, 16), opt, Buffer.alloc(4)]);
      const len = 12 + body.length;
      const block = Buffer.alloc(len);
      block.writeUInt32LE(1, 0); block.writeUInt32LE(len, 4); body.copy(block, 8); block.writeUInt32LE(len, len - 4);
      const r = await aggregateBytes(Buffer.concat([shb, block, w.packet(0, T0, frame)]));
      expect(r.firstTs).toBe(Number(T0 / 1_000_000n) + 3_600_000);
    });

    it('a packet naming an undescribed interface is skipped with a warning', async () => {
      const w = new PcapngWriter();
      const parts = [w.section(), w.interface({ linkType: 1 }), w.packet(0, T0, frame)];
      const stray = w.packet(0, T0, frame);
      stray.writeUInt32LE(3, 8);
      parts.push(stray);
      for (const size of [1 << 16, 1, 9]) {
        const r = await aggregateBytes(Buffer.concat(parts), {}, () => size);
        expect(r.packets).toBe(1);
        expect(r.warnings).toEqual([`packet at byte ${parts[0].length + parts[1].length + parts[2].length} names interface 3, which its section does not describe`]);
      }
    });

    it('a block whose trailing length disagrees stops the reading', async () => {
      const w = new PcapngWriter();
      const parts = [w.section(), w.interface({ linkType: 1 }), w.packet(0, T0, frame)];
      const bad = w.packet(0, T0, frame);
      bad.writeUInt32LE(12, bad.length - 4);
      const r = await aggregateBytes(Buffer.concat([...parts, bad, w.packet(0, T0, frame)]));
      expect(r.packets).toBe(1);
      expect(r.truncated).toBe(true);
      expect(r.warnings[0]).toMatch(/trailing length differs/);
    });

    it('a pcapng cut inside a block is truncated', async () => {
      const w = new PcapngWriter();
      const buf = Buffer.concat([w.section(true), w.interface({ linkType: 1 }), w.packet(0, T0, frame), w.packet(0, T0, frame)]);
      const r = await aggregateBytes(buf.subarray(0, buf.length - 5), {}, () => 7);
      expect(r.packets).toBe(1);
      expect(r.truncated).toBe(true);
      expect(r.warnings[0]).toMatch(/capture ends inside a block/);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The real-world corpus

/** Zeek's conn.log baselines and the captures they were made from (the btest names tell). */
const ZEEK_BASELINES: Record<string, string> = {
  'corelight-zeek-openvpn-baseline-openvpn-conn.log': 'corelight-zeek-openvpn-openvpn.pcap',
  'corelight-zeek-openvpn-baseline-openvpnhmac-conn.log': 'corelight-zeek-openvpn-openvpn_udp_tls-auth.pcapng',
  'corelight-zeek-openvpn-baseline-openvpntcp-conn.log': 'corelight-zeek-openvpn-openvpn_tcp_nontlsauth.pcap',
  'zeek-btest-imap-starttls-baseline-conn.log': 'zeek-btest-tls-imap-starttls.pcap',
};

interface ZeekConn { origH: string; origP: number; respH: string; respP: number; proto: string; origPkts: number; origIpBytes: number; respPkts: number; respIpBytes: number }

function readConnLog(path: string): ZeekConn[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const fields = lines.find((l) => l.startsWith('#fields'))!.split('\t').slice(1);
  return lines.filter((l) => l && !l.startsWith('#')).map((l) => {
    const v = Object.fromEntries(l.split('\t').map((x, i) => [fields[i], x]));
    return {
      origH: v['id.orig_h'], origP: Number(v['id.orig_p']), respH: v['id.resp_h'], respP: Number(v['id.resp_p']), proto: v.proto,
      origPkts: Number(v.orig_pkts), origIpBytes: Number(v.orig_ip_bytes), respPkts: Number(v.resp_pkts), respIpBytes: Number(v.resp_ip_bytes),
    };
  });
}

const PROTO_NUMBER: Record<string, number> = { tcp: 6, udp: 17, icmp: 1 };

describe.skipIf(!existsSync(CORPUS_PCAP))(`corpus captures${existsSync(CORPUS_PCAP) ? '' : ` (skipped: no corpus at ${CORPUS_PCAP})`}`, () => {
  const captures = existsSync(CORPUS_PCAP) ? readdirSync(CORPUS_PCAP).filter((n) => /\.pcap(ng)?$/.test(n)) : [];

  it.each(captures)('%s reads whole, with every byte in some flow', async (name) => {
    const r = await aggregateFile(join(CORPUS_PCAP, name));
    expect(r.truncated).toBe(false);
    expect(r.warnings).toEqual([]);
    expect(r.packets).toBeGreaterThan(0);
    expect(sumFlows(r.flows)).toEqual({ packets: r.packets, bytes: r.bytes });
    if (NO_CAPINFOS === null) expect(capinfos(join(CORPUS_PCAP, name))).toEqual({ packets: r.packets, bytes: r.bytes });
  });

  /*
   * Zeek conn.log: orig_pkts/resp_pkts are packets per direction, which we count the same way,
   * so they must be equal. orig_ip_bytes/resp_ip_bytes are IP-level bytes: the sum of each
   * packet's IP total-length field. We count frames: each frame's original length, which is
   * the IP datagram plus the link-layer header (14 bytes of Ethernet in all these captures,
   * no VLAN tags) plus any Ethernet padding that brings a short frame up to the 60-byte
   * minimum (a 40-byte TCP ACK arrives as 54 + 6 bytes). So, per direction:
   *     ourBytes = zeekIpBytes + 14 × pkts + Σ padding,
   * where the padding of each frame is origLen − 14 − (its IP total length).
   * Zeek keys ICMP by type/code in the port columns; we give ICMP ports 0.
   */
  it.each(Object.entries(ZEEK_BASELINES))('%s: packets equal, bytes equal after the frame→IP conversion', async (log, pcap) => {
    const path = join(CORPUS_PCAP, pcap);
    const r = await aggregateFile(path);
    const conns = perConnection(r.flows);
    const frames = await decodeEach(createReadStream(path));
    let zeekPkts = 0;
    for (const z of readConnLog(join(CORPUS_PCAP, log))) {
      const proto = PROTO_NUMBER[z.proto];
      const oPort = proto === 1 ? 0 : z.origP, rPort = proto === 1 ? 0 : z.respP;
      const asLocal = conns.get(`${proto}|${z.origH}|${oPort}|${z.respH}|${rPort}`);
      const asRemote = conns.get(`${proto}|${z.respH}|${rPort}|${z.origH}|${oPort}`);
      const c = asLocal ?? asRemote;
      expect(c, `${log}: no flow for ${z.origH}:${z.origP} ${z.respH}:${z.respP}`).toBeDefined();
      // Our counters are from the local end's view; Zeek's from the originator's.
      const orig = asLocal ? { pkts: c!.packetsOut, bytes: c!.bytesOut } : { pkts: c!.packetsIn, bytes: c!.bytesIn };
      const resp = asLocal ? { pkts: c!.packetsIn, bytes: c!.bytesIn } : { pkts: c!.packetsOut, bytes: c!.bytesOut };
      expect([orig.pkts, resp.pkts]).toEqual([z.origPkts, z.respPkts]);
      for (const [dir, ours, src, dst, ipBytes] of [
        ['orig', orig, z.origH, z.respH, z.origIpBytes], ['resp', resp, z.respH, z.origH, z.respIpBytes],
      ] as const) {
        const mine = frames.filter((f) => f.proto === proto && f.src === src && f.dst === dst
          && (proto === 1 || (f.sport === (dir === 'orig' ? z.origP : z.respP) && f.dport === (dir === 'orig' ? z.respP : z.origP))));
        expect(mine.length).toBe(ours.pkts);
        expect(mine.every((f) => f.ipOff === 14)).toBe(true);
        const padding = mine.reduce((s, f) => s + (f.origLen - 14 - f.ipLen), 0);
        expect(mine.every((f) => f.origLen - 14 - f.ipLen >= 0 && (f.origLen - 14 - f.ipLen === 0 || f.origLen === 60))).toBe(true);
        expect(ours.bytes - 14 * ours.pkts - padding, `${log} ${dir} IP bytes`).toBe(ipBytes);
      }
      zeekPkts += z.origPkts + z.respPkts;
    }
    // Every packet of the capture is in some Zeek connection.
    expect(zeekPkts).toBe(r.packets);
  });

  /*
   * tcpdump's .out files print one line per packet: "IP src.port > dst.port: ..., length N"
   * where N is the TCP payload, or a DNS decode ending in "(N)", the DNS message = UDP payload.
   * They give no frame length, so the check is per packet: same order, same endpoints, same
   * transport payload length; then our per-direction packet counts equal the number of lines
   * per direction, and our bytes are those payloads plus each frame's headers (Ethernet 14,
   * IP header, TCP/UDP header) and padding.
   */
  const outs = existsSync(CORPUS_PCAP) ? readdirSync(CORPUS_PCAP).filter((n) => n.endsWith('.out')) : [];
  it.each(outs)('%s: every packet line matches', async (out) => {
    const path = join(CORPUS_PCAP, out.replace(/\.out$/, '.pcap'));
    const lines = readFileSync(join(CORPUS_PCAP, out), 'utf8').split('\n').filter((l) => l.trim());
    const frames = await decodeEach(createReadStream(path));
    expect(frames.length).toBe(lines.length);
    const perDir = new Map<string, number>();
    lines.forEach((line, i) => {
      const m = /^\s*\d+\s+\S+ \S+ IP6? (\S+)\.(\d+) > (\S+)\.(\d+): (.*)$/.exec(line);
      expect(m, line).not.toBeNull();
      const [, src, sport, dst, dport, rest] = m!;
      const f = frames[i];
      expect([f.src, f.sport, f.dst, f.dport]).toEqual([src, Number(sport), dst, Number(dport)]);
      const len = /, length (\d+)/.exec(rest)?.[1] ?? /\((\d+)\)$/.exec(rest)?.[1];
      expect(f.l4PayloadLen, line).toBe(Number(len));
      const dir = `${src}.${sport}>${dst}.${dport}`;
      perDir.set(dir, (perDir.get(dir) ?? 0) + 1);
    });
    const r = await aggregateFile(path);
    for (const [key, c] of perConnection(r.flows)) {
      const [, lip, lport, rip, rport] = key.split('|');
      expect(c.packetsOut).toBe(perDir.get(`${lip}.${lport}>${rip}.${rport}`) ?? 0);
      expect(c.packetsIn).toBe(perDir.get(`${rip}.${rport}>${lip}.${lport}`) ?? 0);
    }
  });

  it.skipIf(NO_TSHARK !== null)(`every capture agrees with tshark per address pair, direction by direction${skipNote(NO_TSHARK)}`, async () => {
    for (const name of captures) {
      const path = join(CORPUS_PCAP, name);
      const r = await aggregateFile(path);
      expect(byAddressPair(r.flows), name).toEqual(tsharkByAddressPair(path));
      checkConv(path, r.flows, await tcpHeaderCut(path));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// tshark

/** Frames and bytes per direction per address pair, from our flows: `src>dst` → totals. */
function byAddressPair(flows: FlowRecord[]): Record<string, { frames: number; bytes: number }> {
  const out: Record<string, { frames: number; bytes: number }> = {};
  const add = (k: string, frames: number, bytes: number) => {
    if (frames === 0) return;
    const e = (out[k] ??= { frames: 0, bytes: 0 });
    e.frames += frames;
    e.bytes += bytes;
  };
  for (const f of flows) {
    if (f.proto === 0) { add('non-ip', f.packetsIn, f.bytesIn); continue; }
    add(`${f.lip}>${f.rip}`, f.packetsOut, f.bytesOut);
    add(`${f.rip}>${f.lip}`, f.packetsIn, f.bytesIn);
  }
  return out;
}

/** The same from tshark's own dissection: frame.len per first IPv4/IPv6 header's addresses. */
function tsharkByAddressPair(path: string): Record<string, { frames: number; bytes: number }> {
  const text = execFileSync('tshark', ['-r', path, '-n', '-T', 'fields', '-E', 'occurrence=f', '-E', 'separator=\t',
    '-e', 'frame.len', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst'], { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 30 }).toString();
  const out: Record<string, { frames: number; bytes: number }> = {};
  for (const line of text.split('\n')) {
    if (!line) continue;
    const [len, s4, d4, s6, d6] = line.split('\t');
    const k = s4 ? `${s4}>${d4}` : s6 ? `${s6}>${d6}` : 'non-ip';
    const e = (out[k] ??= { frames: 0, bytes: 0 });
    e.frames++;
    e.bytes += Number(len);
  }
  return out;
}

const UNIT: Record<string, number> = { bytes: 1, kB: 1e3, MB: 1e6, GB: 1e9 };

/**
 * Frames whose TCP header the snaplen cut (per `src:sport>dst:dport`). tshark's TCP dissector
 * stops at the missing bytes before its conversation tap sees the frame, so `conv,tcp` leaves
 * them out, while we count them (their ports are in the first 4 bytes). With -s 96 this is a
 * SYN with 20 bytes of options over IPv6 in a Linux cooked v2 frame: 20 + 40 + 40 > 96.
 */
async function tcpHeaderCut(path: string): Promise<Map<string, { frames: number; bytes: number }>> {
  const dec = new FrameDecoder();
  const out = new Map<string, { frames: number; bytes: number }>();
  await readCapture(createReadStream(path), {
    iface: () => 0,
    packet(_h, lt, _s, _n, buf, off, cap, orig) {
      dec.decode(lt, buf, off, cap);
      if (dec.proto !== 6 || dec.l4Off < 0 || dec.frag === 2) return;
      const l4 = dec.l4Off;
      if (cap >= l4 + 13 && cap >= l4 + ((buf[off + l4 + 12] >> 4) << 2)) return;
      const k = `${formatIp(dec.s0, dec.s1, dec.s2, dec.s3)}:${dec.sport}>${formatIp(dec.d0, dec.d1, dec.d2, dec.d3)}:${dec.dport}`;
      const e = out.get(k) ?? { frames: 0, bytes: 0 };
      e.frames++;
      e.bytes += orig;
      out.set(k, e);
    },
  });
  return out;
}

/**
 * `tshark -q -z conv,ip / conv,ipv6 / conv,tcp / conv,udp`: frames must be equal, except for
 * frames whose TCP header was cut by the snaplen, which conv,tcp leaves out (`tcpCut`); bytes
 * too, except that tshark 4.0 prints them in kB/MB above 10 kB, truncated, so there we check
 * that our exact count lies within the printed unit.
 */
function checkConv(path: string, flows: FlowRecord[], tcpCut: Map<string, { frames: number; bytes: number }>): void {
  const text = execFileSync('tshark', ['-r', path, '-n', '-q', '-z', 'conv,ip', '-z', 'conv,ipv6', '-z', 'conv,tcp', '-z', 'conv,udp'],
    { stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 }).toString();
  let table = '';
  const ours = (table: string, a: string, b: string) => {
    let ab = { frames: 0, bytes: 0 }, ba = { frames: 0, bytes: 0 };
    for (const f of flows) {
      if (table === 'TCP' && f.proto !== 6) continue;
      if (table === 'UDP' && f.proto !== 17) continue;
      if (f.proto === 0) continue;
      const l = table === 'TCP' || table === 'UDP' ? `${f.lip}:${f.lport}` : f.lip;
      const r = table === 'TCP' || table === 'UDP' ? `${f.rip}:${f.rport}` : f.rip;
      if (l === a && r === b) { ab = { frames: ab.frames + f.packetsOut, bytes: ab.bytes + f.bytesOut }; ba = { frames: ba.frames + f.packetsIn, bytes: ba.bytes + f.bytesIn }; }
      if (l === b && r === a) { ab = { frames: ab.frames + f.packetsIn, bytes: ab.bytes + f.bytesIn }; ba = { frames: ba.frames + f.packetsOut, bytes: ba.bytes + f.bytesOut }; }
    }
    if (table === 'TCP') {
      const cutAB = tcpCut.get(`${a}>${b}`), cutBA = tcpCut.get(`${b}>${a}`);
      if (cutAB) ab = { frames: ab.frames - cutAB.frames, bytes: ab.bytes - cutAB.bytes };
      if (cutBA) ba = { frames: ba.frames - cutBA.frames, bytes: ba.bytes - cutBA.bytes };
    }
    return { ab, ba };
  };
  let rows = 0;
  for (const line of text.split('\n')) {
    const t = /^(IPv4|IPv6|TCP|UDP) Conversations/.exec(line);
    if (t) { table = t[1]; continue; }
    const m = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+) (bytes|kB|MB|GB)\s+(\d+)\s+(\d+) (bytes|kB|MB|GB)/.exec(line);
    if (!m) continue;
    rows++;
    // Columns: "<-" is B→A, "->" is A→B.
    const [, a, b, baFrames, baBytes, baUnit, abFrames, abBytes, abUnit] = m;
    const o = ours(table, a, b);
    expect([o.ba.frames, o.ab.frames], `${path} ${table} ${a} <-> ${b} frames`).toEqual([Number(baFrames), Number(abFrames)]);
    for (const [mine, shown, unit] of [[o.ba.bytes, baBytes, baUnit], [o.ab.bytes, abBytes, abUnit]] as const) {
      if (unit === 'bytes') expect(mine, `${path} ${table} ${a} <-> ${b} bytes`).toBe(Number(shown));
      else expect(Math.floor(mine / UNIT[unit]), `${path} ${table} ${a} <-> ${b} ${shown} ${unit}`).toBe(Number(shown));
    }
  }
  expect(rows, `${path}: tshark printed no conversations`).toBeGreaterThan(0);
}

// ---------------------------------------------------------------------------------------------
// Live captures in network namespaces

// The live captures need tcpdump, iperf3 and bash (its /dev/udp); each comparison then needs
// its own reference tool, and is skipped alone without it.
const liveWhy = netnsUnavailable(['tcpdump', 'iperf3', 'bash']);
const HAVE_PING = hasCommand('ping');
/** The captures compared below; pcapng is made with editcap. */
const LIVE_KINDS = ['usec', 'nsec', 'sll2', 'pcapng', 'gz'] as const;
const kindWhy = (k: string, ...more: Array<string | null>) => why(k === 'pcapng' ? NO_EDITCAP : null, ...more);

describe.skipIf(liveWhy !== null)(`live captures on a veth pair${skipNote(liveWhy)}`, () => {
  let net: NetnsPair | null = null;
  let dir = '';
  const files: Record<string, string> = {};
  const dropped: Record<string, number> = {};
  let bulkReceived = NaN;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bytetrail-pcap-'));
    net = createNetnsPair();
    const n = net;
    files.usec = join(dir, 'usec.pcap');
    files.nsec = join(dir, 'nsec.pcap');
    files.sll2 = join(dir, 'any-sll2.pcap');
    // -B: a 64 MiB kernel buffer, so that a busy machine drops nothing.
    const caps = [
      n.start(n.nsA, ['tcpdump', '-i', n.vethA, '-B', '65536', '-s', '96', '-U', '-n', '-w', files.usec]),
      n.start(n.nsB, ['tcpdump', '-i', n.vethB, '-B', '65536', '-s', '96', '--time-stamp-precision', 'nano', '-U', '-n', '-w', files.nsec]),
      n.start(n.nsA, ['tcpdump', '-i', 'any', '-B', '65536', '-y', 'LINUX_SLL2', '-s', '96', '-U', '-n', '-w', files.sll2]),
    ];
    const stderr = caps.map((c) => {
      let text = '';
      c.stderr?.on('data', (d: Buffer) => { text += d.toString(); });
      return () => text;
    });
    await Promise.all(caps.map((c) => waitForOutput(c, 'listening on')));

    /** One iperf3 test; returns the payload bytes the server received (its own count, -J). */
    const iperf = async (args: string[]): Promise<number> => {
      const server = n.start(n.nsB, ['iperf3', '-s', '-1', '-p', '5201', '--forceflush']);
      await waitForOutput(server, 'Server listening');
      const out = JSON.parse(n.run(n.nsA, ['iperf3', '-c', ...args, '-p', '5201', '-J'])) as { end?: { sum_received?: { bytes?: number } } };
      await new Promise<void>((resolve) => (server.exitCode !== null ? resolve() : server.once('exit', () => resolve())));
      return out.end?.sum_received?.bytes ?? NaN;
    };
    // iperf3 -n counts what the client wrote to its socket; when the test ends the server closes
    // with data still unread, so what crossed the wire depends on load (1.97 MB of 3 MiB in one
    // CI run). What the server received did cross it: that is the floor the captures must reach.
    bulkReceived = await iperf([n.ipB, '-n', '3M']);
    await iperf([n.ipB, '-u', '-b', '20M', '-l', '1200', '-n', '600K']);
    await iperf([n.ip6B, '-n', '1M']);
    // ICMP without ping (not always installed): UDP to a closed port draws "port unreachable".
    for (const ip of [n.ipB, n.ip6B]) {
      for (let i = 0; i < 3; i++) {
        n.run(n.nsA, ['bash', '-c', `echo probe${i} > /dev/udp/${ip}/9`]);
        await new Promise((r) => setTimeout(r, 1100)); // the kernel rate-limits ICMP errors
      }
    }
    if (HAVE_PING) {
      n.run(n.nsA, ['ping', '-c', '3', '-i', '0.2', n.ipB]);
      n.run(n.nsA, ['ping', '-6', '-c', '3', '-i', '0.2', n.ip6B]);
    }
    // Last, one datagram with a unique marker to a port that listens (no ICMP error to count):
    // once every capture file holds it, each tcpdump has read all that came before it, however
    // far a loaded host made it lag. (tcpdump drops what is still in its ring when signalled.)
    const marker = `bytetrail-end-${process.pid}-${Date.now()}`;
    const sink = n.start(n.nsB, [process.execPath, '-e', `require('dgram').createSocket('udp4').bind(9997, '${n.ipB}', () => console.log('ready'))`]);
    await waitForOutput(sink, 'ready');
    n.run(n.nsA, ['bash', '-c', `echo ${marker} > /dev/udp/${n.ipB}/9997`]);
    await Promise.all([files.usec, files.nsec, files.sll2].map((f) => untilFileHolds(f, marker)));
    for (const c of caps) await stopGracefully(c);
    sink.kill('SIGKILL');
    // "0 packets dropped by kernel": only then must every byte iperf3 sent be in the capture.
    ['usec', 'nsec', 'sll2'].forEach((k, i) => { dropped[k] = Number(/(\d+) packets? dropped by kernel/.exec(stderr[i]())?.[1] ?? NaN); });
    if (NO_EDITCAP === null) {
      files.pcapng = join(dir, 'usec.pcapng');
      execFileSync('editcap', ['-F', 'pcapng', files.usec, files.pcapng]);
    }
    files.gz = join(dir, 'usec.pcap.gz');
    writeFileSync(files.gz, gzipSync(readFileSync(files.usec)));
  }, 6 * WAIT_MS);

  afterAll(() => {
    net?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const local = () => [net!.ipA, net!.ip6A];

  for (const k of LIVE_KINDS) {
    const skip = kindWhy(k, NO_CAPINFOS);
    it.skipIf(skip !== null)(`${k} capture: totals equal capinfos${skipNote(skip)}`, async () => {
      const r = await aggregateFile(files[k], { localIps: local() });
      expect(r.truncated).toBe(false);
      // veth hands tcpdump GSO super-frames of up to 64 KiB, so a 3 MB transfer is a few hundred frames.
      expect(r.packets).toBeGreaterThan(300);
      expect({ packets: r.packets, bytes: r.bytes }).toEqual(capinfos(k === 'gz' ? files.usec : files[k]));
      expect(sumFlows(r.flows)).toEqual({ packets: r.packets, bytes: r.bytes });
    });
  }

  for (const k of LIVE_KINDS.filter((x) => x !== 'gz')) {
    const skip = kindWhy(k, NO_TSHARK);
    it.skipIf(skip !== null)(`${k} capture: per address pair and per conversation equal tshark${skipNote(skip)}`, async () => {
      const r = await aggregateFile(files[k], { localIps: local() });
      expect(byAddressPair(r.flows)).toEqual(tsharkByAddressPair(files[k]));
      checkConv(files[k], r.flows, await tcpHeaderCut(files[k]));
    });
  }

  it(`the iperf3 connections are there with the server side right, in every capture${NO_EDITCAP ? ' (but pcapng: editcap not installed)' : ''}`, async () => {
    for (const k of ['usec', 'nsec', 'sll2', 'pcapng'].filter((x) => files[x] !== undefined)) {
      const r = await aggregateFile(files[k], { localIps: local() });
      const conns = perConnection(r.flows);
      const bulk = [...conns.entries()].filter(([key]) => key.startsWith(`6|${net!.ipA}|`) && key.endsWith('|5201'));
      // Two control connections and the 3 MB data connection, all from ns a.
      expect(bulk.length, k).toBe(3);
      const lost = dropped[k === 'pcapng' ? 'usec' : k];
      expect(Number.isNaN(lost), `tcpdump's drop count for ${k}`).toBe(false);
      // Every payload byte the server received is in a frame from ns a, with its headers.
      expect(bulkReceived, 'bytes the iperf3 server received').toBeGreaterThan(0);
      if (lost === 0) expect(Math.max(...bulk.map(([, v]) => v.bytesOut)), k).toBeGreaterThan(bulkReceived);
      expect([...conns.keys()].some((key) => key.startsWith(`6|${net!.ip6A}|`)), k).toBe(true);
      expect([...conns.keys()].some((key) => key.startsWith(`17|${net!.ipA}|`)), k).toBe(true);
      // Three "port unreachable" back from each family (plus echo requests/replies with ping).
      expect(conns.get(`1|${net!.ipA}|0|${net!.ipB}|0`), k).toMatchObject({ packetsIn: HAVE_PING ? 6 : 3, packetsOut: HAVE_PING ? 3 : 0 });
      expect(conns.get(`58|${net!.ip6A}|0|${net!.ip6B}|0`)?.packetsIn, k).toBeGreaterThanOrEqual(3);
      expect(conns.get(`17|${net!.ipA}|${conns.has(`17|${net!.ipA}|9|${net!.ipB}|9`) ? 9 : 0}|${net!.ipB}|9`) ?? [...conns.keys()].find((x) => x.startsWith(`17|`) && x.endsWith(`|${net!.ipB}|9`)), k).toBeDefined();
    }
    // The SLL2 capture says which packets ns a sent: inference alone finds ns a's addresses.
    const inferred = await aggregateFile(files.sll2);
    const given = await aggregateFile(files.sll2, { localIps: local() });
    expect(inferred.flows.filter((f) => f.proto !== 0)).toEqual(given.flows.filter((f) => f.proto !== 0));
  });

  it.skipIf(NO_TSHARK !== null)(`a capture cut mid-record keeps every complete packet, as tshark does${skipNote(NO_TSHARK)}`, async () => {
    const whole = readFileSync(files.usec);
    const cutPath = join(dir, 'cut.pcap');
    // Cut 8 bytes into the record that holds the 60% mark (a cut at a fixed fraction of the
    // file may fall on a record boundary by chance, and then nothing is cut short).
    const le = whole.readUInt32LE(0) === 0xa1b2c3d4;
    let at = 24;
    while (at + 16 <= whole.length) {
      const next = at + 16 + (le ? whole.readUInt32LE(at + 8) : whole.readUInt32BE(at + 8));
      if (next > whole.length * 0.6) break;
      at = next;
    }
    writeFileSync(cutPath, whole.subarray(0, at + 8));
    const r = await aggregateFile(cutPath, { localIps: local() });
    expect(r.truncated).toBe(true);
    expect(r.warnings[0]).toMatch(/^capture ends inside a packet record at byte \d+/);
    // tshark reads up to the cut, then exits non-zero with "cut short in the middle of a packet".
    const t = spawnSync('tshark', ['-r', cutPath, '-n', '-T', 'fields', '-e', 'frame.len'], { maxBuffer: 1 << 28 });
    const lens = t.stdout.toString().split('\n').filter(Boolean).map(Number);
    expect(t.stderr.toString()).toMatch(/cut short in the middle of a packet/);
    expect(r.packets).toBe(lens.length);
    expect(r.bytes).toBe(lens.reduce((s, x) => s + x, 0));
  });

  it('the live API gives the same records as the file API', async () => {
    const batches: FlowRecord[][] = [];
    const agg = new FlowAggregator({ localIps: local(), onFlush: (b) => batches.push(b) });
    const sink: CaptureSink = {
      iface: () => 0,
      packet: (_h, lt, sec, nsec, buf, off, cap, orig) => agg.pushPacket(sec * 1000 + nsec / 1e6, lt, buf.subarray(off, off + cap), orig),
    };
    await readCapture(createReadStream(files.usec), sink);
    agg.finish();
    const file = await aggregateFile(files.usec, { localIps: local() });
    expect(perConnection(batches.flat())).toEqual(perConnection(file.flows));
  });
});
