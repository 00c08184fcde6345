/**
 * Capture benchmark: generate a large snaplen-96 capture of a mail/VPN server's traffic (the
 * busy mix by default, BENCH_MIX=legacy for the earlier one), run our reader, the aggregation
 * and the real ingest over it, and time tcpdump and tshark on the same file.
 *
 *   node dist/bench/pcap.js [packets] [dir]       (default 2,000,000 packets in .bench/pcap)
 *
 * Each of our measurements runs in its own process so that its peak RSS is its own.
 * Figures, not assertions: timings on a shared machine vary.
 */
import { rng } from './generate.js';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { aggregateFile, fileChunks } from '../flows/aggregate.js';
import { readCapture } from '../flows/pcap.js';
import { IPPROTO, ethernet, ipv4, ipv6, tcp, udp } from '../flows/pcap-write.js';
import { flowHandlers } from '../flows/handlers.js';
import { ingestPaths } from '../ingest/index.js';
import { openStore } from '../store/index.js';
import { type DbFigures, dbFigures, describeObjects, fmt, have, median, removeDb, RUNS, timeShell } from './measure.js';


const SERVER4 = '198.51.100.10';
const SERVER6 = '2001:db8:100::10';
const SNAPLEN = 96;

type Kind = 'imaps' | 'imaps6' | 'smtp-in' | 'smtp-out' | 'dns' | 'openvpn';

interface Session {
  kind: Kind;
  /** Header bytes (Ethernet + IP + TCP/UDP) for client→server [0] and server→client [1]. */
  hdr: [Uint8Array, Uint8Array];
  v6: boolean;
  udp: boolean;
  left: number;
  /** Next TCP sequence number per direction, so that tshark's TCP analysis sees a sane stream. */
  seq: [number, number];
}

/** Share of new sessions per kind. */
const MIX: Array<[Kind, number]> = [['imaps', 0.3], ['imaps6', 0.1], ['smtp-in', 0.15], ['smtp-out', 0.1], ['dns', 0.25], ['openvpn', 0.1]];

function clientV4(r: () => number): string {
  return `${r() < 0.5 ? '203.0.113' : '192.0.2'}.${1 + Math.floor(r() * 250)}`;
}

function seqs(r: () => number): [number, number] {
  return [Math.floor(r() * 2 ** 31), Math.floor(r() * 2 ** 31)];
}

/** A header pair for a 5-tuple: client→server [0] and server→client [1]. */
function headers(client: string, server: string, cport: number, sport: number, isUdp: boolean): [Uint8Array, Uint8Array] {
  const v6 = client.includes(':');
  const one = (src: string, dst: string, sp: number, dp: number) => {
    const l4 = isUdp ? udp({ sport: sp, dport: dp }) : tcp({ sport: sp, dport: dp });
    const proto = isUdp ? IPPROTO.UDP : IPPROTO.TCP;
    return ethernet(v6 ? ipv6({ src, dst, nextHeader: proto, payload: l4 }) : ipv4({ src, dst, proto, payload: l4 }));
  };
  return [one(client, server, cport, sport), one(server, client, sport, cport)];
}

function newSession(r: () => number): Session {
  let x = r();
  let kind: Kind = 'dns';
  for (const [k, w] of MIX) {
    if (x < w) { kind = k; break; }
    x -= w;
  }
  const eph = 32768 + Math.floor(r() * 28000);
  const mk = headers;
  switch (kind) {
    case 'imaps': return { kind, hdr: mk(clientV4(r), SERVER4, eph, 993, false), v6: false, udp: false, left: 50 + Math.floor(r() * 3000), seq: seqs(r) };
    case 'imaps6': return { kind, hdr: mk(`2001:db8:200::${(1 + Math.floor(r() * 4000)).toString(16)}`, SERVER6, eph, 993, false), v6: true, udp: false, left: 50 + Math.floor(r() * 3000), seq: seqs(r) };
    case 'smtp-in': return { kind, hdr: mk(clientV4(r), SERVER4, eph, 25, false), v6: false, udp: false, left: 20 + Math.floor(r() * 400), seq: seqs(r) };
    // The server relaying out: it is the client of a remote port 25.
    case 'smtp-out': return { kind, hdr: mk(SERVER4, clientV4(r), eph, 25, false), v6: false, udp: false, left: 20 + Math.floor(r() * 400), seq: seqs(r) };
    case 'dns': return { kind, hdr: mk(SERVER4, '192.0.2.53', eph, 53, true), v6: false, udp: true, left: 2, seq: [0, 0] };
    case 'openvpn': return { kind, hdr: mk(clientV4(r), SERVER4, eph, 1194, true), v6: false, udp: true, left: 100 + Math.floor(r() * 5000), seq: [0, 0] };
  }
}

/** Direction (0 client→server, 1 server→client) and transport payload size of a session's next packet. */
function nextPacket(s: Session, r: () => number): [number, number] {
  const x = r();
  switch (s.kind) {
    case 'imaps': case 'imaps6': return x < 0.68 ? [1, 1448] : x < 0.98 ? [0, 0] : [0, 40];
    case 'smtp-in': return x < 0.65 ? [0, 1448] : x < 0.98 ? [1, 0] : [1, 30];
    case 'smtp-out': return x < 0.65 ? [0, 1448] : x < 0.98 ? [1, 0] : [1, 30];
    case 'dns': return s.left === 2 ? [0, 30 + Math.floor(x * 30)] : [1, 80 + Math.floor(x * 300)];
    case 'openvpn': return [x < 0.5 ? 0 : 1, 60 + Math.floor(r() * 1350)];
  }
}

/** Classic pcap (little-endian, microseconds, snaplen 96), written through an 8 MB buffer. */
class PcapOut {
  private readonly fd: number;
  private readonly buf = Buffer.alloc(8 << 20);
  private pos = 24;
  written = 0;
  packets = 0;

  constructor(path: string) {
    this.fd = openSync(path, 'w');
    this.buf.writeUInt32LE(0xa1b2c3d4, 0);
    this.buf.writeUInt16LE(2, 4);
    this.buf.writeUInt16LE(4, 6);
    this.buf.writeUInt32LE(SNAPLEN, 16);
    this.buf.writeUInt32LE(1, 20);
  }

  private flush(): void {
    writeSync(this.fd, this.buf, 0, this.pos);
    this.written += this.pos;
    this.pos = 0;
  }

  /**
   * One packet of `s` in direction `dir` (0 client→server) with `payload` transport bytes at
   * `us`. TCP flags: PSH+ACK with data, else ACK, unless `flags` is given.
   */
  packet(s: Session, dir: number, payload: number, us: number, flags?: number): void {
    const buf = this.buf;
    const hdr = s.hdr[dir];
    const orig = hdr.length + payload;
    const cap = orig < SNAPLEN ? orig : SNAPLEN;
    if (this.pos + 16 + cap > buf.length) this.flush();
    const pos = this.pos;
    buf.writeUInt32LE(Math.floor(us / 1e6), pos);
    buf.writeUInt32LE(us % 1e6, pos + 4);
    buf.writeUInt32LE(cap, pos + 8);
    buf.writeUInt32LE(orig, pos + 12);
    const p = pos + 16;
    buf.set(hdr.subarray(0, Math.min(hdr.length, cap)), p);
    if (cap > hdr.length) buf.fill(0, p + hdr.length, p + cap);
    const l4 = p + 14 + (s.v6 ? 40 : 20);
    if (s.v6) {
      buf.writeUInt16BE(orig - 54, p + 18);
    } else {
      buf.writeUInt16BE(orig - 14, p + 16);
      buf.writeUInt16BE(0, p + 24);
      let sum = 0;
      for (let k = 0; k < 20; k += 2) sum += buf.readUInt16BE(p + 14 + k);
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      buf.writeUInt16BE(~sum & 0xffff, p + 24);
    }
    if (s.udp) {
      buf.writeUInt16BE(orig - 14 - (s.v6 ? 40 : 20), l4 + 4);
    } else {
      buf.writeUInt32BE(s.seq[dir] >>> 0, l4 + 4);
      buf.writeUInt32BE(s.seq[1 - dir] >>> 0, l4 + 8);
      buf[l4 + 13] = flags ?? (payload > 0 ? 0x18 : 0x10);
      s.seq[dir] = (s.seq[dir] + payload) % 2 ** 32;
    }
    this.pos = p + cap;
    this.packets++;
  }

  close(): number {
    this.flush();
    closeSync(this.fd);
    return this.written;
  }
}

export type CaptureMix = 'busy' | 'legacy';

/** Write a capture of `packets` packets in the given mix (see generateBusyCapture). */
export function generateCapture(path: string, packets: number, seed = 1, mix: CaptureMix = 'legacy'): { bytes: number; packets: number } {
  return mix === 'busy' ? generateBusyCapture(path, packets, seed) : generateLegacyCapture(path, packets, seed);
}

/**
 * The earlier capture: 300 sessions at a time, most of them long IMAPS, SMTP and OpenVPN
 * transfers, and a DNS exchange now and then. About one flow record per 400 packets.
 */
function generateLegacyCapture(path: string, packets: number, seed: number): { bytes: number; packets: number } {
  const r = rng(seed);
  const out = new PcapOut(path);
  const active: Session[] = [];
  for (let i = 0; i < 300; i++) active.push(newSession(r));
  let us = Date.UTC(2026, 10, 20, 9, 0, 0) * 1000;
  for (let n = 0; n < packets; n++) {
    const i = Math.floor(r() * active.length);
    const s = active[i];
    const [dir, payload] = nextPacket(s, r);
    if (--s.left <= 0) active[i] = newSession(r);
    us += Math.floor(r() * 600);
    out.packet(s, dir, payload, us);
  }
  return { bytes: out.close(), packets };
}

/** Packets of the busy day the issue measured (2.07 M packets over 24 hours). */
const BUSY_DAY_PACKETS = 2_070_000;
/** Share of packets that start a short exchange (DNS, a scan's probe) rather than continue a session. */
const BUSY_SHORT = 0.045;
/** Long sessions open at a time (IMAPS, SMTP, OpenVPN). */
const BUSY_SESSIONS = 80;

/**
 * A busy day as a server's capture shows it (issue 12: about one flow record per four
 * packets): besides the long sessions, many one- and two-packet exchanges, each on a fresh
 * 5-tuple because the client picks a random source port: DNS queries from thousands of
 * clients and the server's own lookups, port scans (a SYN, sometimes answered by a RST) and
 * UDP probes from tens of thousands of addresses, in bursts from one address at a time. The capture spans a day per 2.07 M packets,
 * so records per packet do not depend on its size.
 */
function generateBusyCapture(path: string, packets: number, seed: number): { bytes: number; packets: number } {
  const r = rng(seed);
  const out = new PcapOut(path);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const v6Addr = (prefix: string) => `${prefix}:${int(1, 0xffff).toString(16)}::${int(1, 0xfff).toString(16)}`;
  const dnsClients = Array.from({ length: 6000 }, (_, i) => (i < 230 ? `192.0.2.${20 + i}` : v6Addr(`2001:db8:1:${(i >> 8).toString(16)}`)));
  const scanners = Array.from({ length: 30_000 }, () => (r() < 0.6 ? v6Addr('2001:db8:' + int(0x1000, 0xffff).toString(16)) : `${r() < 0.5 ? '198.51.100' : '203.0.113'}.${int(1, 254)}`));
  const upstream = ['192.0.2.53', '198.51.100.53'];
  const probePorts = [53, 123, 161, 1900, 5060, 11211, 389, 137];
  const scanPorts = [22, 23, 80, 443, 445, 3389, 8080, 25, 3306, 6379];
  const spanUs = (86_400e6 * packets) / BUSY_DAY_PACKETS;
  const gap = spanUs / packets;
  let us = Date.UTC(2026, 10, 20, 0, 0, 0) * 1000;
  const sessionEnd = (s: Session, now: number) => now + (s.kind === 'openvpn' ? int(10, 480) * 60e6 : s.kind.startsWith('imaps') ? int(1, 120) * 60e6 : int(2, 60) * 1e6);
  const active: Array<{ s: Session; end: number }> = [];
  const newLong = (now: number) => {
    let s = newSession(r);
    while (s.kind === 'dns') s = newSession(r);
    s.left = Infinity;
    return { s, end: sessionEnd(s, now) };
  };
  for (let i = 0; i < BUSY_SESSIONS; i++) active.push(newLong(us));
  const eph = () => int(1024, 65535);
  let n = 0;
  const emit = (s: Session, dir: number, payload: number, flags?: number) => {
    if (n >= packets) return;
    out.packet(s, dir, payload, us, flags);
    n++;
  };
  while (n < packets) {
    us += Math.floor(r() * 2 * gap);
    if (r() >= BUSY_SHORT) {
      const i = Math.floor(r() * active.length);
      if (us > active[i].end) active[i] = newLong(us);
      const [dir, payload] = nextPacket(active[i].s, r);
      emit(active[i].s, dir, payload);
      continue;
    }
    // A burst from one remote address: a client resolving a page's names, a scanner sweeping
    // ports. Every exchange in it is a fresh 5-tuple (a new source port).
    const x = r();
    const burst = 1 + Math.floor(-Math.log(1 - r()) * (x < 0.7 ? 2 : 6));
    const dnsClient = dnsClients[Math.floor(dnsClients.length * r() ** 1.3)];
    const scanner = scanners[Math.floor(scanners.length * r() ** 2)];
    for (let k = 0; k < burst && n < packets; k++) {
      if (k) us += int(1000, x < 0.7 ? 2_000_000 : 300_000);
      const seq = seqs(r);
      if (x < 0.5) {
        // A query to the server's resolver; one in ten goes unanswered (rate limited, dropped).
        const c = dnsClient;
        const s: Session = { kind: 'dns', hdr: headers(c, c.includes(':') ? SERVER6 : SERVER4, eph(), 53, true), v6: c.includes(':'), udp: true, left: 2, seq };
        emit(s, 0, int(30, 60));
        if (r() < 0.9) { us += int(200, 3000); emit(s, 1, int(80, 400)); }
      } else if (x < 0.7) {
        // The server's own lookups (Postfix, rspamd's RBL checks) to its upstream resolvers.
        const s: Session = { kind: 'dns', hdr: headers(SERVER4, upstream[int(0, 1)], eph(), 53, true), v6: false, udp: true, left: 2, seq };
        emit(s, 0, int(30, 60));
        us += int(2000, 40_000);
        emit(s, 1, int(80, 400));
      } else if (x < 0.93) {
        // A scan's SYN; closed ports answer with a RST now and then.
        const v6 = scanner.includes(':');
        const dport = r() < 0.5 ? scanPorts[int(0, scanPorts.length - 1)] : int(1, 65535);
        const s: Session = { kind: 'smtp-in', hdr: headers(scanner, v6 ? SERVER6 : SERVER4, eph(), dport, false), v6, udp: false, left: 1, seq };
        emit(s, 0, 0, 0x02);
        if (r() < 0.15) { us += int(100, 500); emit(s, 1, 0, 0x14); }
      } else {
        // A UDP probe (NTP, SNMP, SSDP, SIP, memcached amplification checks), never answered.
        const v6 = scanner.includes(':');
        const s: Session = { kind: 'dns', hdr: headers(scanner, v6 ? SERVER6 : SERVER4, eph(), probePorts[int(0, probePorts.length - 1)], true), v6, udp: true, left: 1, seq };
        emit(s, 0, int(8, 90));
      }
    }
  }
  return { bytes: out.close(), packets };
}

function rssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** One measurement, in this process. */
type Measure = 'read' | 'aggregate' | 'aggregate-local' | 'stream' | 'store';

const MEASURES: Record<Measure, string> = {
  read: 'read only (no decode)',
  aggregate: 'read + aggregate (inferred local)',
  'aggregate-local': 'read + aggregate (localIps given)',
  stream: 'read + aggregate, per-minute batches',
  store: 'ingest (read, aggregate, store)',
};

/** One measurement, in this process. */
async function measure(what: Measure, file: string): Promise<Record<string, unknown>> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let packets = 0, flows = 0;
  let db: DbFigures | null = null;
  if (what === 'read') {
    await readCapture(fileChunks(file), {
      iface: () => 0,
      packet: () => { packets++; },
    });
  } else if (what === 'stream') {
    // What the store will do: take each minute's batch as it is flushed, hold nothing else.
    const r = await aggregateFile(file, { localIps: [SERVER4, SERVER6], onFlush: (batch) => { flows += batch.length; } });
    packets = r.packets;
  } else if (what === 'store') {
    // `bytetrail ingest FILE` into a fresh database, closed (its WAL checkpointed) before the clock stops.
    const path = file + '.db';
    removeDb(path);
    const store = openStore({ path });
    const s = await ingestPaths(store, [file], { tz: 'UTC', now: Date.now(), settleMs: 0, handlers: flowHandlers() });
    store.close();
    if (s.errors.length) throw new Error(s.errors.join('; '));
    flows = Object.values(s.records).reduce((a, b) => a + b, 0);
    packets = -1;
    db = dbFigures(path);
  } else {
    const r = await aggregateFile(file, what === 'aggregate-local' ? { localIps: [SERVER4, SERVER6] } : {});
    packets = r.packets;
    flows = r.flows.length;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // CPU time as well: on a shared machine the wall clock also counts other people's work.
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, packets, flows, peakRssMb: rssMb(), db };
}

/** Best (by wall clock) of `runs` runs, each in a fresh process so that peak RSS is its own. */
function inChild(what: Measure, file: string, runs: number): M {
  let best: M | null = null;
  for (let i = 0; i < runs; i++) {
    const m = inChildOnce(what, file);
    if (best === null || m.seconds < best.seconds) best = m;
  }
  return best!;
}

type M = { seconds: number; cpuSeconds: number; packets: number; flows: number; peakRssMb: number; db: DbFigures | null };

function inChildOnce(what: Measure, file: string): M {
  const self = import.meta.filename;
  if (!self.endsWith('.js')) throw new Error('child measurement needs the compiled bench (npm run bench)');
  const r = spawnSync(process.execPath, [self, '--measure', what, file], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`bench measure ${what} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as M;
}


/** Changes whenever the capture for a given size, seed and mix changes (an existing one is reused). */
const CAPTURE_VERSION = 3;

/**
 * Generate the capture (2,000,000 packets by default; the busy mix unless BENCH_MIX=legacy) in
 * `dir`, measure reading, aggregating and the real ingest with peak RSS, and time tcpdump and
 * tshark on the same file. The ingest and `tcpdump -r FILE -w /dev/null` take turns run after
 * run, and their ratio is the median of the pairs.
 */
export async function benchPcap(opts: { packets?: number; dir: string; mix?: CaptureMix }): Promise<Record<string, unknown>> {
  const packets = opts.packets ?? 2_000_000;
  const mix = opts.mix ?? (process.env.BENCH_MIX === 'legacy' ? 'legacy' : 'busy');
  mkdirSync(opts.dir, { recursive: true });
  const file = join(opts.dir, `bench-${mix}-v${CAPTURE_VERSION}-${packets}.pcap`);
  let genSeconds = 0;
  if (!existsSync(file)) {
    process.stderr.write(`bench: generating ${fmt(packets)} packets (${mix} mix, snaplen ${SNAPLEN}) in ${file}\n`);
    const tg = process.hrtime.bigint();
    generateCapture(file + '.part', packets, 1, mix);
    renameSync(file + '.part', file);
    genSeconds = Number(process.hrtime.bigint() - tg) / 1e9;
  }
  const mb = statSync(file).size / 1e6;
  const runs = RUNS;
  const run = (what: Measure) => (import.meta.filename.endsWith('.js') ? inChild(what, file, runs) : null);
  const result: Record<string, unknown> = { mix, packets, captureMb: Math.round(mb * 10) / 10, generateSeconds: Math.round(genSeconds * 100) / 100 };
  console.log(`\n## Capture (${mix} mix): ${fmt(packets)} packets, ${mb.toFixed(0)} MB (snaplen ${SNAPLEN}; ${mix === 'busy'
    ? 'a day of IMAPS, SMTP, OpenVPN sessions, DNS from thousands of clients, scans and probes from random ports'
    : 'IMAPS, SMTP in/out, DNS, OpenVPN UDP, IPv6'}), best of ${runs} runs`);
  const ours: Record<string, M> = {};
  const line = (label: string, m: M) => console.log(`${label.padEnd(34)} ${fmt(packets / m.seconds).padStart(12)} packets/s  ${(mb / m.seconds).toFixed(0).padStart(5)} MB/s  ${m.seconds.toFixed(2)} s`
    + ` (CPU ${m.cpuSeconds.toFixed(2)} s: ${fmt(packets / m.cpuSeconds)} packets/s)  peak RSS ${m.peakRssMb} MB${m.flows ? `  (${fmt(m.flows)} flow records)` : ''}`);
  for (const what of ['read', 'aggregate', 'aggregate-local', 'stream'] as Measure[]) {
    const m = run(what) ?? await measure(what, file) as M;
    ours[what] = m;
    line(MEASURES[what], m);
  }
  // The real ingest and tcpdump's copy, in turns.
  const copy = have('tcpdump') ? `tcpdump -nn -r ${file} -w /dev/null 2>/dev/null` : null;
  const pairs: Array<{ store: M; copy: { wall: number; cpu: number } | null }> = [];
  for (let i = 0; i < runs; i++) pairs.push({ store: inChildOnce('store', file), copy: copy ? timeShell(copy, 1) : null });
  const store = pairs.reduce((a, p) => (p.store.seconds < a.seconds ? p.store : a), pairs[0].store);
  store.peakRssMb = Math.max(...pairs.map((p) => p.store.peakRssMb));
  ours.store = store;
  line(MEASURES.store, store);
  const d = store.db!;
  console.log(`ingest stored ${fmt(d.flows)} flow records: ${(d.flows / packets).toFixed(3)} per packet (1 per ${(packets / Math.max(1, d.flows)).toFixed(1)} packets); database ${(d.bytes / 1e6).toFixed(0)} MB, ${(d.bytes / 1e6 / mb).toFixed(2)} database bytes per capture byte`);
  console.log(`by table and index: ${describeObjects(d.objects)}`);
  result.ours = ours;
  const paired = pairs.filter((p) => p.copy !== null) as Array<{ store: M; copy: { wall: number; cpu: number } }>;
  if (paired.length) {
    const byWall = median(paired.map((p) => p.copy.wall / p.store.seconds));
    const byCpu = median(paired.map((p) => p.copy.cpu / p.store.cpuSeconds));
    result.ingestOverTcpdumpCopy = { wall: byWall, cpu: byCpu };
    console.log(`ingest ÷ tcpdump -r FILE -w /dev/null, side by side (median of ${paired.length} pairs): ${byWall.toFixed(3)}× (1/${(1 / byWall).toFixed(1)}) by wall time, ${byCpu.toFixed(3)}× (1/${(1 / byCpu).toFixed(1)}) by CPU (aim ≥ 1/3)`);
  }
  const refs: Record<string, number | null> = {};
  const tools: Array<[string, string, string]> = [
    ['tcpdump -w /dev/null', 'tcpdump', `tcpdump -nn -r ${file} -w /dev/null`],
    ['tcpdump (decode to /dev/null)', 'tcpdump', `tcpdump -nn -r ${file} > /dev/null`],
    ['tshark -q -z conv,ip', 'tshark', `tshark -r ${file} -n -q -z conv,ip > /dev/null`],
  ];
  const ourSeconds = ours.aggregate.seconds;
  for (const [label, cmd, cmdLine] of tools) {
    if (!have(cmd)) {
      console.log(`${label.padEnd(34)} not installed`);
      refs[label] = null;
      continue;
    }
    // Best of the runs for the quick ones; tshark once (it takes a minute or so).
    const t = label === 'tcpdump -w /dev/null' && paired.length ? { wall: Math.min(...paired.map((p) => p.copy.wall)), cpu: 0 } : timeShell(`${cmdLine} 2>/dev/null`, cmd === 'tshark' ? 1 : runs);
    const sec = t?.wall ?? null;
    refs[label] = sec;
    if (sec !== null) {
      console.log(`${label.padEnd(34)} ${fmt(packets / sec).padStart(12)} packets/s  ${(mb / sec).toFixed(0).padStart(5)} MB/s  ${sec.toFixed(2)} s  → read + aggregate is ${(sec / ourSeconds).toFixed(2)}× its speed, ingest ${(sec / store.seconds).toFixed(3)}×`);
    }
  }
  result.referenceSeconds = refs;
  // How many times faster than each tool the default path (inferred local, all records) is.
  result.speedupOver = Object.fromEntries(Object.entries(refs).map(([k, v]) => [k, v === null ? null : Math.round((v / ourSeconds) * 100) / 100]));
  result.target = { ingestOverTcpdumpCopy: 1 / 3, peakRssMb: 256 };
  return result;
}


if (process.argv[1] === import.meta.filename) {
  if (process.argv[2] === '--measure') {
    const m = await measure(process.argv[3] as Measure, process.argv[4]);
    console.log(JSON.stringify(m));
  } else {
    const packets = process.argv[2] ? Number(process.argv[2]) : undefined;
    const dir = process.argv[3] ?? join(import.meta.dirname, '..', '..', '.bench', 'pcap');
    const r = await benchPcap({ packets, dir });
    console.log(JSON.stringify(r));
  }
}
