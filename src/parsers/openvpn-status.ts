/**
 * OpenVPN server status file (`--status file [n]`, `--status-version 1|2|3`), read as one
 * snapshot. Written by multi.c multi_print_status; the same text comes back from the management
 * interface's `status` command.
 *
 * Version 1: sections with their own header lines, local times without a zone.
 *
 *   OpenVPN CLIENT LIST
 *   Updated,Fri Nov 20 09:20:02 2026                       (2.6+: Updated,2026-11-20 09:20:02)
 *   Common Name,Real Address,Bytes Received,Bytes Sent,Connected Since
 *   client1,203.0.113.5:51234,1048576,8388608,Fri Nov 20 08:00:00 2026
 *   ROUTING TABLE
 *   Virtual Address,Common Name,Real Address,Last Ref
 *   198.51.100.6,client1,203.0.113.5:51234,Fri Nov 20 09:20:01 2026
 *   GLOBAL STATS
 *   Max bcast/mcast queue length,0
 *   END
 *
 * Versions 2 (`,`) and 3 (tab): every row tagged, columns named by a HEADER row, times also as
 * `time_t`, which is preferred.
 *
 *   TITLE,OpenVPN 2.6.8 x86_64-pc-linux-gnu [SSL (OpenSSL)] ...
 *   TIME,2026-11-20 09:20:02,1795166402
 *   HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,...
 *   CLIENT_LIST,client1,203.0.113.5:51234,198.51.100.6,,1048576,8388608,...,1795161600,UNDEF,0,0,AES-256-GCM
 *
 * `Bytes Received` is what the server read from the client (bytesIn), `Bytes Sent` what it wrote
 * (bytesOut). Counters are 64-bit; Number holds them exactly below 2^53.
 *
 * Pure: the zone for version 1 times comes in through the context.
 */
import type { ParseContext } from '../events.js';
import { monthNumber, zonedToUtc } from '../time.js';
import { timestampProblem } from './check.js';
import { normalizeIp, toCounter, toInt } from './common.js';
import { parsePeer } from './openvpn.js';

export interface OpenvpnStatusClient {
  /** As the file writes it; `UNDEF` for a client still in its TLS handshake. */
  cn: string;
  realIp: string;
  /** Null when OpenVPN did not print it (2.4 IPv6 clients, some older v4-mapped addresses). */
  realPort: number | null;
  virtualIp: string | null;
  virtualIp6: string | null;
  /** Received by the server from the client. */
  bytesIn: number;
  /** Sent by the server to the client. */
  bytesOut: number;
  /** UTC ms. */
  connectedSince: number | null;
  /** Null when absent or `UNDEF` (no user/password authentication). */
  username: string | null;
  clientId: number | null;
  peerId: number | null;
}

export interface OpenvpnStatusRoute {
  /** IP address, `IP/bits` for an --iroute subnet, or a MAC address (`00:ff:4c:2e:5d:3a@0`) in tap mode. */
  virtualIp: string;
  cn: string;
  realIp: string;
  realPort: number | null;
  /** UTC ms. */
  lastRef: number | null;
}

export interface OpenvpnStatus {
  version: 1 | 2 | 3;
  /** UTC ms. */
  updated: number | null;
  clients: OpenvpnStatusClient[];
  routes: OpenvpnStatusRoute[];
  /** Rows that could not be read, and anything odd about the file. Never silently dropped. */
  warnings: string[];
  /** Client rows not used because a value in them cannot be (counted as unparsed). */
  rejected: Array<{ line: number; reason: string; text: string }>;
}

const MAX_WARNINGS = 100;

/** Does the start of a file look like a server status file this module reads? */
export function isOpenvpnStatus(firstBytes: string): boolean {
  let s = firstBytes;
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  s = s.trimStart();
  if (s.startsWith('OpenVPN CLIENT LIST')) {
    const c = s.charCodeAt(19);
    return Number.isNaN(c) || c === 10 || c === 13;
  }
  // A client's (or point-to-point) status file: taken as a status file so that it is reported
  // once as what it is, not read as a log of a dozen lines that no parser understands.
  if (/^OpenVPN STATISTICS\r?\nUpdated,/.test(s)) return true;
  return /^(?:TITLE[,\t]OpenVPN |TIME[,\t]|HEADER[,\t]CLIENT_LIST[,\t])/.test(s);
}

/**
 * A status-file time: `Fri Nov 20 09:20:02 2026` (ctime style, day padded with a space) or,
 * from 2.6 on, `2026-11-20 09:20:02`. Local time in `tz`; null when unreadable.
 */
export function parseStatusTime(raw: string, tz: string): number | null {
  const s = raw.trim();
  let m = /^(\d{4})-(\d\d)-(\d\d)[ T](\d\d):(\d\d):(\d\d)$/.exec(s);
  if (m) return checkedUtc(tz, +m[1], +m[2], +m[3], +m[4], +m[5], +m[6]);
  m = /^[A-Za-z]{3} +([A-Za-z]{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})$/.exec(s);
  if (m) {
    const mo = monthNumber(m[1]);
    if (!mo) return null;
    return checkedUtc(tz, +m[6], mo, +m[2], +m[3], +m[4], +m[5]);
  }
  return null;
}

function checkedUtc(tz: string, y: number, mo: number, d: number, h: number, mi: number, s: number): number | null {
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  try {
    const t = zonedToUtc(tz, y, mo, d, h, mi, s === 60 ? 59 : s);
    return Number.isFinite(t) ? t : null;
  } catch {
    return null; // unknown zone
  }
}

/** `1795166402` → ms; null when not a plain non-negative integer. */
function epochMs(s: string | undefined): number | null {
  const n = toInt(s?.trim());
  return n === null ? null : n * 1000;
}

/** Byte counter, or null when unreadable or beyond 2^53-1 (no count a log can mean: see check.ts). */
function counter(s: string | undefined): number | null {
  const v = toCounter(s ?? '');
  return v === null || Number.isNaN(v) ? null : v;
}

/** A time the file can mean (see check.ts), else null with a warning. */
function plausible(out: Collector, n: number, what: string, t: number | null, ctx: ParseContext): number | null {
  if (t === null) return null;
  const why = timestampProblem(t, ctx.refTime);
  if (why === null) return t;
  out.warn(`line ${n}: ${what} ${why}; not used`);
  return null;
}

interface Real { ip: string; port: number | null }

/** A real address as mroute.c prints it; see parsePeer in openvpn.ts. */
function realAddress(s: string | undefined): Real | null {
  const t = s?.trim() ?? '';
  if (t === '') return null;
  return parsePeer(t);
}

/**
 * A routing-table address: `198.51.100.6`, `198.51.100.6C` (C: a host route cached from an
 * --iroute, MULTI_ROUTE_CACHE), `192.0.2.128/25`, `2001:db8::1000`, `00:ff:4c:2e:5d:3a@0`.
 */
function routeAddress(raw: string): { addr: string; host: 'v4' | 'v6' | null; cached: boolean } {
  let s = raw.trim();
  let cached = false;
  if (s.endsWith('C')) { cached = true; s = s.slice(0, -1); }
  const slash = s.indexOf('/');
  if (slash > 0) {
    const ip = normalizeIp(s.slice(0, slash));
    const bits = toInt(s.slice(slash + 1));
    if (ip && bits !== null && bits <= 128) return { addr: `${ip}/${bits}`, host: null, cached };
  } else {
    const ip = normalizeIp(s);
    if (ip) return { addr: ip, host: ip.indexOf(':') >= 0 ? 'v6' : 'v4', cached };
  }
  // Not an IP: a MAC in tap mode. Keep it as written, without the flag removal.
  return { addr: raw.trim(), host: null, cached: false };
}

const undefToNull = (s: string | undefined): string | null => {
  const t = s?.trim() ?? '';
  return t === '' || t === 'UNDEF' ? null : t;
};

class Collector {
  clients: OpenvpnStatusClient[] = [];
  routes: OpenvpnStatusRoute[] = [];
  warnings: string[] = [];
  rejected: Array<{ line: number; reason: string; text: string }> = [];
  /** Host routes cached from an --iroute (`C` flag): addresses behind a client, not its own. */
  cached = new WeakSet<OpenvpnStatusRoute>();
  private clientsByKey = new Map<string, OpenvpnStatusClient[]>();
  private routeKeys = new Set<string>();
  private dropped = 0;

  warn(msg: string): void {
    if (this.warnings.length < MAX_WARNINGS) this.warnings.push(msg);
    else this.dropped++;
  }

  /** A client row not used: a warning, and counted. */
  reject(line: number, reason: string, text: string): void {
    this.warn(`line ${line}: ${reason}`);
    this.rejected.push({ line, reason, text: text.slice(0, 400) });
  }

  finish(): void {
    if (this.dropped > 0) this.warnings.push(`${this.dropped} more warnings not shown`);
  }

  /**
   * OpenVPN keys clients by real address, so two rows with the same CN and real address are one
   * client written twice (seen in published samples): keep the first, say so. The same CN from
   * different real addresses (--duplicate-cn, or several `UNDEF` handshakes) are separate clients.
   */
  addClient(line: number, c: OpenvpnStatusClient): void {
    const key = `${c.cn}\u0000${c.realIp}\u0000${c.realPort ?? ''}`;
    const same = this.clientsByKey.get(key);
    if (same) {
      if (same.some((x) => sameClient(x, c))) {
        this.warn(`line ${line}: client row repeated word for word (${c.cn}, ${c.realIp}); counted once`);
        return;
      }
      this.warn(`line ${line}: a second row for ${c.cn} at the same real address ${c.realIp}; kept as a separate client`);
      same.push(c);
    } else this.clientsByKey.set(key, [c]);
    this.clients.push(c);
  }

  addRoute(line: number, r: OpenvpnStatusRoute, cached: boolean): void {
    const key = `${r.virtualIp}\u0000${r.cn}\u0000${r.realIp}\u0000${r.realPort ?? ''}\u0000${r.lastRef ?? ''}`;
    if (this.routeKeys.has(key)) {
      this.warn(`line ${line}: routing row repeated word for word (${r.virtualIp}); counted once`);
      return;
    }
    this.routeKeys.add(key);
    if (cached) this.cached.add(r);
    this.routes.push(r);
  }
}

function sameClient(a: OpenvpnStatusClient, b: OpenvpnStatusClient): boolean {
  return a.virtualIp === b.virtualIp && a.virtualIp6 === b.virtualIp6 && a.bytesIn === b.bytesIn && a.bytesOut === b.bytesOut &&
    a.connectedSince === b.connectedSince && a.username === b.username && a.clientId === b.clientId && a.peerId === b.peerId;
}

/**
 * A row whose CN (or username) held the separator: more fields than columns. OpenVPN does not
 * escape it. The CN takes the extra fields when the real address then falls in its column.
 */
function realign(fields: string[], expected: number, cnAt: number, realAt: number): string[] | null {
  const extra = fields.length - expected;
  if (extra <= 0) return fields;
  if (!realAddress(fields[realAt + extra])) return null;
  const cn = fields.slice(cnAt, cnAt + extra + 1).join(',');
  return [...fields.slice(0, cnAt), cn, ...fields.slice(cnAt + extra + 1)];
}

function parseV1(lines: string[], ctx: ParseContext): OpenvpnStatus {
  const out = new Collector();
  let updated: number | null = null;
  let section: 'head' | 'clients' | 'routes' | 'stats' | 'end' = 'head';
  let sawRouting = false;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const n = i + 1;
    if (line === '') continue;
    if (section === 'end') { out.warn(`line ${n}: text after END`); break; }
    if (line === 'END') { section = 'end'; continue; }
    if (line === 'ROUTING TABLE') { section = 'routes'; sawRouting = true; continue; }
    if (line === 'GLOBAL STATS') { section = 'stats'; continue; }
    if (line.startsWith('Updated,')) {
      updated = parseStatusTime(line.slice(8), ctx.tz);
      if (updated === null) out.warn(`line ${n}: unreadable Updated time`);
      else updated = plausible(out, n, 'Updated time', updated, ctx);
      continue;
    }
    if (line.startsWith('Common Name,Real Address,')) { section = 'clients'; continue; }
    if (line.startsWith('Virtual Address,Common Name,')) { section = 'routes'; continue; }
    if (section === 'clients') {
      const f = realign(line.split(','), 5, 0, 1);
      if (!f || f.length !== 5) { out.warn(`line ${n}: client row without 5 fields`); continue; }
      const real = realAddress(f[1]);
      const bin = counter(f[2]), bout = counter(f[3]);
      if (!real) { out.reject(n, `client ${f[0]} has an unreadable real address`, line); continue; }
      if (bin === null || bout === null) { out.reject(n, `client ${f[0]} has byte counters unreadable or above 2^53-1`, line); continue; }
      out.addClient(n, {
        cn: f[0], realIp: real.ip, realPort: real.port, virtualIp: null, virtualIp6: null,
        bytesIn: bin, bytesOut: bout, connectedSince: plausible(out, n, 'Connected Since', parseStatusTime(f[4], ctx.tz), ctx),
        username: null, clientId: null, peerId: null,
      });
    } else if (section === 'routes') {
      const parts = line.split(',');
      if (parts.length < 4) { out.warn(`line ${n}: routing row without 4 fields`); continue; }
      // The CN is the only field that may hold commas: it is everything between the first and the last two.
      const f = [parts[0], parts.slice(1, parts.length - 2).join(','), parts[parts.length - 2], parts[parts.length - 1]];
      addRoute(out, n, f[0], f[1], f[2], plausible(out, n, 'Last Ref', parseStatusTime(f[3], ctx.tz), ctx));
    } else if (section === 'stats') {
      continue;
    } else {
      out.warn(`line ${n}: unexpected line before the client list`);
    }
  }
  if (section !== 'end') out.warn('no END line: the file may be truncated (read while OpenVPN was rewriting it?)');
  if (!sawRouting) out.warn('no ROUTING TABLE section (OpenVPN always writes one): the file was cut or edited; virtual addresses are unknown');
  fillVirtualFromRoutes(out, true, true);
  out.finish();
  return { version: 1, updated, clients: out.clients, routes: out.routes, warnings: out.warnings, rejected: out.rejected };
}

function addRoute(out: Collector, n: number, vaddr: string, cn: string, realRaw: string, lastRef: number | null): void {
  const real = realAddress(realRaw);
  if (!real) { out.warn(`line ${n}: route for ${cn} has an unreadable real address`); return; }
  const ra = routeAddress(vaddr);
  if (ra.addr === '') { out.warn(`line ${n}: route without a virtual address`); return; }
  out.addRoute(n, { virtualIp: ra.addr, cn, realIp: real.ip, realPort: real.port, lastRef }, ra.cached);
}

/**
 * Version 1 has no virtual address per client, and 2.3's version 2 no IPv6 one: take them from
 * the routing table, by CN and exact real address, host routes only (not --iroute subnets, not
 * routes cached from them, which end in `C`).
 */
function fillVirtualFromRoutes(out: Collector, v4: boolean, v6: boolean): void {
  if (!v4 && !v6) return;
  const byClient = new Map<string, { v4: string | null; v6: string | null }>();
  const key = (cn: string, ip: string, port: number | null) => `${cn}\u0000${ip}\u0000${port ?? ''}`;
  const clientKeys = new Set(out.clients.map((c) => key(c.cn, c.realIp, c.realPort)));
  for (const r of out.routes) {
    const ra = routeAddress(r.virtualIp);
    if (!ra.host || out.cached.has(r)) continue;
    const k = key(r.cn, r.realIp, r.realPort);
    if (!clientKeys.has(k)) {
      out.warn(`route ${r.virtualIp} (${r.cn}, ${r.realIp}${r.realPort === null ? '' : ':' + r.realPort}) matches no client row`);
      continue;
    }
    const slot = byClient.get(k) ?? { v4: null, v6: null };
    if (ra.host === 'v4' && slot.v4 === null) slot.v4 = ra.addr;
    if (ra.host === 'v6' && slot.v6 === null) slot.v6 = ra.addr;
    byClient.set(k, slot);
  }
  for (const c of out.clients) {
    const slot = byClient.get(key(c.cn, c.realIp, c.realPort));
    if (!slot) continue;
    if (v4 && c.virtualIp === null) c.virtualIp = slot.v4;
    if (v6 && c.virtualIp6 === null) c.virtualIp6 = slot.v6;
  }
}

/** Client-list columns by OpenVPN release, for files whose HEADER row is missing (keyed by field count). */
const CLIENT_COLUMNS_BY_COUNT: Record<number, string[]> = {
  // 2.3
  8: ['Common Name', 'Real Address', 'Virtual Address', 'Bytes Received', 'Bytes Sent', 'Connected Since', 'Connected Since (time_t)', 'Username'],
  // 2.4
  11: ['Common Name', 'Real Address', 'Virtual Address', 'Virtual IPv6 Address', 'Bytes Received', 'Bytes Sent', 'Connected Since', 'Connected Since (time_t)', 'Username', 'Client ID', 'Peer ID'],
  // 2.5+
  12: ['Common Name', 'Real Address', 'Virtual Address', 'Virtual IPv6 Address', 'Bytes Received', 'Bytes Sent', 'Connected Since', 'Connected Since (time_t)', 'Username', 'Client ID', 'Peer ID', 'Data Channel Cipher'],
};
const ROUTE_COLUMNS = ['Virtual Address', 'Common Name', 'Real Address', 'Last Ref', 'Last Ref (time_t)'];

function parseV23(lines: string[], ctx: ParseContext, version: 2 | 3): OpenvpnStatus {
  const sep = version === 3 ? '\t' : ',';
  const out = new Collector();
  let updated: number | null = null;
  let clientCols: string[] | null = null;
  let routeCols: string[] | null = null;
  let sawEnd = false;
  let sawTitle = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const n = i + 1;
    if (line === '') continue;
    if (sawEnd) { out.warn(`line ${n}: text after END`); break; }
    const f = line.split(sep);
    const tag = f[0];
    switch (tag) {
      case 'TITLE': sawTitle = true; break;
      case 'TIME': {
        updated = epochMs(f[2]) ?? parseStatusTime(f[1] ?? '', ctx.tz);
        if (updated === null) out.warn(`line ${n}: unreadable TIME`);
        else updated = plausible(out, n, 'TIME', updated, ctx);
        break;
      }
      case 'HEADER':
        if (f[1] === 'CLIENT_LIST') clientCols = f.slice(2);
        else if (f[1] === 'ROUTING_TABLE') routeCols = f.slice(2);
        break;
      case 'CLIENT_LIST': {
        const data = f.slice(1);
        const cols = clientCols ?? CLIENT_COLUMNS_BY_COUNT[data.length];
        if (!cols) { out.warn(`line ${n}: client row with ${data.length} fields and no HEADER to name them`); break; }
        readClient(out, n, data, cols, version, ctx);
        break;
      }
      case 'ROUTING_TABLE': {
        const data = f.slice(1);
        const cols = routeCols ?? ROUTE_COLUMNS;
        const at = (name: string) => cols.indexOf(name);
        let row = data;
        if (data.length > cols.length && version === 2) {
          // A comma in the CN: it takes the surplus fields.
          const cnAt = at('Common Name');
          const extra = data.length - cols.length;
          row = [...data.slice(0, cnAt), data.slice(cnAt, cnAt + extra + 1).join(','), ...data.slice(cnAt + extra + 1)];
        }
        if (row.length < cols.length) { out.warn(`line ${n}: routing row with ${row.length} of ${cols.length} fields`); break; }
        const lastRef = epochMs(row[at('Last Ref (time_t)')]) ?? (at('Last Ref') >= 0 ? parseStatusTime(row[at('Last Ref')], ctx.tz) : null);
        addRoute(out, n, row[at('Virtual Address')] ?? '', row[at('Common Name')] ?? '', row[at('Real Address')] ?? '', plausible(out, n, 'Last Ref', lastRef, ctx));
        break;
      }
      case 'GLOBAL_STATS': break;
      case 'END': sawEnd = true; break;
      default:
        out.warn(`line ${n}: unknown row type ${JSON.stringify(tag.slice(0, 40))}`);
    }
  }
  if (!sawTitle) out.warn('no TITLE row');
  if (!sawEnd) out.warn('no END line: the file may be truncated (read while OpenVPN was rewriting it?)');
  const hasV4 = (clientCols ?? CLIENT_COLUMNS_BY_COUNT[12]).includes('Virtual Address');
  const hasV6 = (clientCols ?? CLIENT_COLUMNS_BY_COUNT[12]).includes('Virtual IPv6 Address');
  fillVirtualFromRoutes(out, !hasV4, !hasV6);
  out.finish();
  return { version, updated, clients: out.clients, routes: out.routes, warnings: out.warnings, rejected: out.rejected };
}

function readClient(out: Collector, n: number, data: string[], cols: string[], version: 2 | 3, ctx: ParseContext): void {
  const at = (name: string) => cols.indexOf(name);
  const cnAt = at('Common Name'), realAt = at('Real Address');
  if (cnAt < 0 || realAt < 0) { out.warn(`line ${n}: HEADER has no Common Name or Real Address column`); return; }
  let row: string[] | null = data;
  if (data.length > cols.length) {
    // Tabs cannot occur in a CN (OpenVPN keeps printable characters only); commas can.
    row = version === 2 ? realign(data, cols.length, cnAt, realAt) : null;
    if (!row) { out.warn(`line ${n}: client row with ${data.length} fields for ${cols.length} columns`); return; }
  }
  if (row.length < cols.length) out.warn(`line ${n}: client row with ${row.length} of ${cols.length} fields`);
  const get = (name: string): string | undefined => { const k = at(name); return k >= 0 ? row![k] : undefined; };
  const cn = row[cnAt] ?? '';
  const real = realAddress(row[realAt]);
  if (!real) { out.reject(n, `client ${cn} has an unreadable real address`, data.join(version === 3 ? '\t' : ',')); return; }
  const bin = counter(get('Bytes Received')), bout = counter(get('Bytes Sent'));
  if (bin === null || bout === null) { out.reject(n, `client ${cn} has byte counters unreadable or above 2^53-1`, data.join(version === 3 ? '\t' : ',')); return; }
  const since = epochMs(get('Connected Since (time_t)')) ?? (get('Connected Since') !== undefined ? parseStatusTime(get('Connected Since')!, ctx.tz) : null);
  out.addClient(n, {
    cn,
    realIp: real.ip,
    realPort: real.port,
    virtualIp: normalizeIp(get('Virtual Address')?.trim()),
    virtualIp6: normalizeIp(get('Virtual IPv6 Address')?.trim()),
    bytesIn: bin,
    bytesOut: bout,
    connectedSince: plausible(out, n, 'Connected Since', since, ctx),
    username: undefToNull(get('Username')),
    clientId: toInt(get('Client ID')?.trim()),
    peerId: toInt(get('Peer ID')?.trim()),
  });
}

/**
 * Parse a whole status file. Returns an error (never throws) when the text is not a server
 * status file; rows it cannot read become warnings.
 */
export function parseOpenvpnStatus(text: string, ctx: ParseContext): OpenvpnStatus | { error: string } {
  if (typeof text !== 'string') return { error: 'status file content is not text' };
  let s = text;
  if (s.charCodeAt(0) === 0xfeff) s = s.slice(1);
  const lines = s.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    if (l.endsWith('\r')) lines[i] = l.slice(0, -1);
  }
  let first = 0;
  while (first < lines.length && lines[first].trim() === '') first++;
  if (first >= lines.length) return { error: 'empty status file' };
  const body = lines.slice(first);
  const head = body[0];
  try {
    if (head === 'OpenVPN CLIENT LIST') return parseV1(body, ctx);
    if (head.startsWith('OpenVPN STATISTICS')) return { error: 'this is a client or point-to-point status file (OpenVPN STATISTICS): it lists no clients' };
    const tab = head.indexOf('\t'), comma = head.indexOf(',');
    const tagEnd = tab >= 0 && (comma < 0 || tab < comma) ? tab : comma;
    if (tagEnd > 0) {
      const tag = head.slice(0, tagEnd);
      if (tag === 'TITLE' || tag === 'TIME' || tag === 'HEADER' || tag === 'CLIENT_LIST') {
        return parseV23(body, ctx, head.charCodeAt(tagEnd) === 9 ? 3 : 2);
      }
    }
  } catch (e) {
    // A bug, not bad data: report it as an error rather than take the caller down.
    return { error: `status file could not be read: ${(e as Error).message}` };
  }
  return { error: `not an OpenVPN server status file: it starts with ${JSON.stringify(head.slice(0, 60))}` };
}
