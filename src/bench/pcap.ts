/**
 * Capture benchmark: generate a large snaplen-96 capture of a mail/VPN server's traffic, run
 * our reader + aggregation over it, and time tcpdump and tshark on the same file.
 *
 *   node dist/bench/pcap.js [packets] [dir]       (default 2,000,000 packets in .bench/pcap)
 *
 * Each of our measurements runs in its own process so that its peak RSS is its own.
 * Figures, not assertions: timings on a shared machine vary.
 */
import { rng } from './generate.js';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { aggregateFile, fileChunks } from '../flows/aggregate.js';
import { readCapture } from '../flows/pcap.js';
import { IPPROTO, ethernet, ipv4, ipv6, tcp, udp } from '../flows/pcap-write.js';


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

function newSession(r: () => number): Session {
  let x = r();
  let kind: Kind = 'dns';
  for (const [k, w] of MIX) {
    if (x < w) { kind = k; break; }
    x -= w;
  }
  const eph = 32768 + Math.floor(r() * 28000);
  const mk = (client: string, server: string, cport: number, sport: number, isUdp: boolean): [Uint8Array, Uint8Array] => {
    const v6 = client.includes(':');
    const one = (src: string, dst: string, sp: number, dp: number) => {
      const l4 = isUdp ? udp({ sport: sp, dport: dp }) : tcp({ sport: sp, dport: dp });
      const proto = isUdp ? IPPROTO.UDP : IPPROTO.TCP;
      return ethernet(v6 ? ipv6({ src, dst, nextHeader: proto, payload: l4 }) : ipv4({ src, dst, proto, payload: l4 }));
    };
    return [one(client, server, cport, sport), one(server, client, sport, cport)];
  };
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

/** Write a classic pcap (little-endian, microseconds, snaplen 96) of `packets` packets. */
export function generateCapture(path: string, packets: number, seed = 1): { bytes: number; packets: number } {
  const r = rng(seed);
  const fd = openSync(path, 'w');
  const buf = Buffer.alloc(8 << 20);
  let pos = 0;
  let written = 0;
  const flush = () => {
    writeSync(fd, buf, 0, pos);
    written += pos;
    pos = 0;
  };
  buf.writeUInt32LE(0xa1b2c3d4, 0);
  buf.writeUInt16LE(2, 4);
  buf.writeUInt16LE(4, 6);
  buf.writeUInt32LE(SNAPLEN, 16);
  buf.writeUInt32LE(1, 20);
  pos = 24;
  const active: Session[] = [];
  for (let i = 0; i < 300; i++) active.push(newSession(r));
  let us = Date.UTC(2026, 10, 20, 9, 0, 0) * 1000;
  for (let n = 0; n < packets; n++) {
    const i = Math.floor(r() * active.length);
    const s = active[i];
    const [dir, payload] = nextPacket(s, r);
    if (--s.left <= 0) active[i] = newSession(r);
    const hdr = s.hdr[dir];
    const orig = hdr.length + payload;
    const cap = orig < SNAPLEN ? orig : SNAPLEN;
    if (pos + 16 + cap > buf.length) flush();
    us += Math.floor(r() * 600);
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
      buf[l4 + 13] = payload > 0 ? 0x18 : 0x10; // PSH+ACK with data, else ACK
      s.seq[dir] = (s.seq[dir] + payload) % 2 ** 32;
    }
    pos = p + cap;
  }
  flush();
  closeSync(fd);
  return { bytes: written, packets };
}

function rssMb(): number {
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** One measurement, in this process: `read` (reader only) or `aggregate` (reader + aggregation). */
type Measure = 'read' | 'aggregate' | 'aggregate-local' | 'stream';

const MEASURES: Record<Measure, string> = {
  read: 'read only (no decode)',
  aggregate: 'read + aggregate (inferred local)',
  'aggregate-local': 'read + aggregate (localIps given)',
  stream: 'read + aggregate, per-minute batches',
};

/** One measurement, in this process. */
async function measure(what: Measure, file: string): Promise<Record<string, number>> {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let packets = 0, flows = 0;
  if (what === 'read') {
    await readCapture(fileChunks(file), {
      iface: () => 0,
      packet: () => { packets++; },
    });
  } else if (what === 'stream') {
    // What the store will do: take each minute's batch as it is flushed, hold nothing else.
    const r = await aggregateFile(file, { localIps: [SERVER4, SERVER6], onFlush: (batch) => { flows += batch.length; } });
    packets = r.packets;
  } else {
    const r = await aggregateFile(file, what === 'aggregate-local' ? { localIps: [SERVER4, SERVER6] } : {});
    packets = r.packets;
    flows = r.flows.length;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // CPU time as well: on a shared machine the wall clock also counts other people's work.
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, packets, flows, peakRssMb: rssMb() };
}

/** Best (by wall clock) of `runs` runs, each in a fresh process so that peak RSS is its own. */
function inChild(what: Measure, file: string, runs: number): Record<string, number> {
  let best: Record<string, number> | null = null;
  for (let i = 0; i < runs; i++) {
    const m = inChildOnce(what, file);
    if (best === null || m.seconds < best.seconds) best = m;
  }
  return best!;
}

function inChildOnce(what: Measure, file: string): Record<string, number> {
  const self = import.meta.filename;
  if (!self.endsWith('.js')) throw new Error('child measurement needs the compiled bench (npm run bench)');
  const r = spawnSync(process.execPath, [self, '--measure', what, file], { encoding: 'utf8', maxBuffer: 16 << 20 });
  if (r.status !== 0) throw new Error(`bench measure ${what} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, number>;
}

function have(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Wall-clock seconds of a shell command, or null when it failed. */
function timeShell(cmd: string): number | null {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('sh', ['-c', cmd], { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', maxBuffer: 64 << 20 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) {
    process.stderr.write(`bench: '${cmd}' failed: ${r.stderr.slice(0, 200)}\n`);
    return null;
  }
  return s;
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/**
 * Generate the capture (≥ 2,000,000 packets by default) in `dir`, measure our packets/s and
 * MB/s through reading and aggregation with peak RSS, and time tcpdump/tshark where installed.
 */
export async function benchPcap(opts: { packets?: number; dir: string }): Promise<Record<string, unknown>> {
  const packets = opts.packets ?? 2_000_000;
  mkdirSync(opts.dir, { recursive: true });
  const file = join(opts.dir, `bench-${packets}.pcap`);
  process.stderr.write(`bench: generating ${fmt(packets)} packets (snaplen ${SNAPLEN}) in ${file}\n`);
  const tg = process.hrtime.bigint();
  generateCapture(file, packets);
  const genSeconds = Number(process.hrtime.bigint() - tg) / 1e9;
  const mb = statSync(file).size / 1e6;
  const run = (what: Measure) => (import.meta.filename.endsWith('.js') ? inChild(what, file, 3) : null);
  const result: Record<string, unknown> = { packets, captureMb: Math.round(mb * 10) / 10, generateSeconds: Math.round(genSeconds * 100) / 100 };
  console.log(`\n## Capture: ${fmt(packets)} packets, ${mb.toFixed(0)} MB (snaplen ${SNAPLEN}; IMAPS, SMTP in/out, DNS, OpenVPN UDP, IPv6)`);
  const ours: Record<string, Record<string, number>> = {};
  for (const what of Object.keys(MEASURES) as Measure[]) {
    const m = run(what) ?? await measure(what, file);
    ours[what] = m;
    const label = MEASURES[what];
    console.log(`${label.padEnd(34)} ${fmt(m.packets / m.seconds).padStart(12)} packets/s  ${(mb / m.seconds).toFixed(0).padStart(5)} MB/s  ${m.seconds.toFixed(2)} s`
      + ` (CPU ${m.cpuSeconds.toFixed(2)} s: ${fmt(m.packets / m.cpuSeconds)} packets/s)  peak RSS ${m.peakRssMb} MB${m.flows ? `  (${fmt(m.flows)} flow records)` : ''}`);
  }
  result.ours = ours;
  const ourSeconds = ours.aggregate.seconds;
  const refs: Record<string, number | null> = {};
  const tools: Array<[string, string, string]> = [
    ['tcpdump -w /dev/null', 'tcpdump', `tcpdump -nn -r ${file} -w /dev/null`],
    ['tcpdump (decode to /dev/null)', 'tcpdump', `tcpdump -nn -r ${file} > /dev/null`],
    ['tshark -q -z conv,ip', 'tshark', `tshark -r ${file} -n -q -z conv,ip > /dev/null`],
  ];
  for (const [label, cmd, line] of tools) {
    if (!have(cmd)) {
      console.log(`${label.padEnd(34)} not installed`);
      refs[label] = null;
      continue;
    }
    // Best of 3 for the quick ones; tshark once (it takes a minute or so).
    const s = cmd === 'tshark' ? timeShell(line) : [timeShell(line), timeShell(line), timeShell(line)].reduce<number | null>((a, x) => (x === null || a === null ? null : Math.min(a, x)), Infinity);
    refs[label] = s;
    if (s !== null) {
      console.log(`${label.padEnd(34)} ${fmt(packets / s).padStart(12)} packets/s  ${(mb / s).toFixed(0).padStart(5)} MB/s  ${s.toFixed(2)} s  → bytetrail is ${(s / ourSeconds).toFixed(2)}× its speed`);
    }
  }
  result.referenceSeconds = refs;
  // How many times faster than each tool the default path (inferred local, all records) is.
  result.speedupOver = Object.fromEntries(Object.entries(refs).map(([k, v]) => [k, v === null ? null : Math.round((v / ourSeconds) * 100) / 100]));
  result.target = { packetsPerSecond: 4_000_000, peakRssMb: 256 };
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
