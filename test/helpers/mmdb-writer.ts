/**
 * A tiny MaxMind DB (.mmdb) writer for tests: a search tree over a few networks and their
 * records, in the format of https://maxmind.github.io/MaxMind-DB/ (24-bit records, no data
 * pointers, no deduplication). Enough to test both record shapes without shipping real data.
 */
import { isIP } from 'node:net';

export type MmdbValue = string | number | boolean | MmdbValue[] | { [key: string]: MmdbValue };

export interface MmdbSpec {
  databaseType: string;
  ipVersion: 4 | 6;
  records: Array<{ network: string; data: { [key: string]: MmdbValue } }>;
  description?: string;
}

const METADATA_MARKER = Buffer.from([0xab, 0xcd, 0xef, ...Buffer.from('MaxMind.com')]);

function control(type: number, size: number): Buffer {
  const ext = type > 7;
  const head = (t: number, s: number) => Buffer.from([(t << 5) | s]);
  let sizeBits: number, extra: Buffer;
  if (size < 29) { sizeBits = size; extra = Buffer.alloc(0); }
  else if (size < 29 + 256) { sizeBits = 29; extra = Buffer.from([size - 29]); }
  else if (size < 285 + 65536) { sizeBits = 30; extra = Buffer.alloc(2); extra.writeUInt16BE(size - 285); }
  else { sizeBits = 31; extra = Buffer.alloc(3); extra.writeUIntBE(size - 65821, 0, 3); }
  return ext ? Buffer.concat([head(0, sizeBits), Buffer.from([type - 7]), extra]) : Buffer.concat([head(type, sizeBits), extra]);
}

function uint(type: number, v: number): Buffer {
  const bytes: number[] = [];
  let x = BigInt(v);
  while (x > 0n) { bytes.unshift(Number(x & 0xffn)); x >>= 8n; }
  return Buffer.concat([control(type, bytes.length), Buffer.from(bytes)]);
}

export function encode(v: MmdbValue): Buffer {
  if (typeof v === 'string') { const b = Buffer.from(v, 'utf8'); return Buffer.concat([control(2, b.length), b]); }
  if (typeof v === 'boolean') return control(14, v ? 1 : 0);
  if (typeof v === 'number') {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 32) return uint(6, v);
    const b = Buffer.alloc(8); b.writeDoubleBE(v); return Buffer.concat([control(3, 8), b]);
  }
  if (Array.isArray(v)) return Buffer.concat([control(11, v.length), ...v.map(encode)]);
  const entries = Object.entries(v);
  return Buffer.concat([control(7, entries.length), ...entries.flatMap(([k, x]) => [encode(k), encode(x)])]);
}

function bits(network: string, ipVersion: 4 | 6): number[] {
  const [addr, lenText] = network.split('/');
  const fam = isIP(addr);
  if (!fam) throw new Error(`not a network: ${network}`);
  let bytes: number[];
  if (fam === 4) {
    bytes = addr.split('.').map(Number);
    if (ipVersion === 6) bytes = [...new Array(12).fill(0), ...bytes];
  } else {
    if (ipVersion === 4) throw new Error('IPv6 network in an IPv4 database');
    const [head, tail = ''] = addr.split('::');
    const h = head ? head.split(':') : [], t = tail ? tail.split(':') : [];
    const groups = addr.includes('::') ? [...h, ...new Array(8 - h.length - t.length).fill('0'), ...t] : h;
    bytes = groups.flatMap((g) => { const n = parseInt(g, 16); return [n >> 8, n & 0xff]; });
  }
  const width = bytes.length * 8;
  const len = (lenText === undefined ? width : Number(lenText)) + (fam === 4 && ipVersion === 6 ? 96 : 0);
  const out: number[] = [];
  for (let i = 0; i < len; i++) out.push((bytes[i >> 3] >> (7 - (i & 7))) & 1);
  return out;
}

type Rec = { node: number } | { data: number } | null;

export function writeMmdb(spec: MmdbSpec): Buffer {
  const nodes: Array<[Rec, Rec]> = [[null, null]];
  const data: Buffer[] = [];
  let dataLen = 0;
  for (const r of spec.records) {
    const enc = encode(r.data);
    const off = dataLen;
    data.push(enc); dataLen += enc.length;
    const path = bits(r.network, spec.ipVersion);
    let n = 0;
    path.forEach((bit, i) => {
      if (i === path.length - 1) { nodes[n][bit] = { data: off }; return; }
      const next = nodes[n][bit];
      if (next && 'node' in next) { n = next.node; return; }
      nodes.push([null, null]);
      nodes[n][bit] = { node: nodes.length - 1 };
      n = nodes.length - 1;
    });
  }
  const count = nodes.length;
  const tree = Buffer.alloc(count * 6);
  const value = (r: Rec) => (r === null ? count : 'node' in r ? r.node : count + 16 + r.data);
  nodes.forEach(([l, r], i) => { tree.writeUIntBE(value(l), i * 6, 3); tree.writeUIntBE(value(r), i * 6 + 3, 3); });
  const metadata = encode({
    node_count: count, record_size: 24, ip_version: spec.ipVersion, database_type: spec.databaseType,
    languages: ['en'], binary_format_major_version: 2, binary_format_minor_version: 0, build_epoch: 1_763_683_200,
    description: { en: spec.description ?? `${spec.databaseType} test database` },
  });
  return Buffer.concat([tree, Buffer.alloc(16), ...data, METADATA_MARKER, metadata]);
}
