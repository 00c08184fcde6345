/**
 * Every value that reaches a throttle script passes through here first. Each parser either returns
 * a canonical value built from numbers and a fixed alphabet, or throws a UserError (a usage error, exit 2) that says what
 * was wrong and what would be right. Nothing here reads the machine or the clock.
 */
import { isIP } from 'node:net';
import { UserError } from '../errors.js';
import { RATE_UNITS } from '../rates.js';
import { resolveWindow } from '../correlate/window.js';

export type Family = 4 | 6;

/** An IP address or network in canonical text form: `192.0.2.10`, `198.51.100.0/24`, `2001:db8::/48`. */
export interface Address {
  /** Canonical text: a plain address for a host (/32, /128), `net/len` otherwise. */
  text: string;
  family: Family;
  /** The prefix length; 32 or 128 for a single host. */
  prefix: number;
  /** The network address as 4 or 16 bytes (host bits zero). */
  bytes: number[];
}

/**
 * Parses an IP address or CIDR network and prints it back canonically (RFC 5952 for IPv6).
 * An IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, as dual-stack daemons log) becomes IPv4.
 * Host bits set under the prefix (`192.0.2.5/24`) are an error, not silently masked: the user
 * may have meant the host.
 */
export function parseAddress(raw: string): Address {
  const s = raw.trim();
  const slash = s.indexOf('/');
  const addrText = slash >= 0 ? s.slice(0, slash) : s;
  const lenText = slash >= 0 ? s.slice(slash + 1) : null;
  // A zone id (fe80::1%eth0) or brackets are host syntax, not an address.
  const fam = /^[0-9A-Fa-f:.]+$/.test(addrText) ? isIP(addrText) : 0;
  if (fam === 0) throw new UserError(`not an IP address: ${quoteForMessage(raw)}`, { hint: 'use an address such as 192.0.2.10 or 2001:db8::10, or a network such as 198.51.100.0/24' });
  let bytes = fam === 4 ? v4Bytes(addrText) : v6Bytes(addrText);
  let family: Family = fam === 4 ? 4 : 6;
  let bits = family === 4 ? 32 : 128;
  let prefix = bits;
  if (lenText !== null) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(lenText) || Number(lenText) > bits) {
      throw new UserError(`bad prefix length in ${quoteForMessage(raw)}`, { hint: `an IPv${family} prefix is 1 to ${bits}` });
    }
    prefix = Number(lenText);
  }
  if (family === 6 && isV4Mapped(bytes) && prefix >= 96) {
    bytes = bytes.slice(12);
    family = 4;
    bits = 32;
    prefix -= 96;
  }
  if (prefix === 0) throw new UserError(`${quoteForMessage(raw)} is every address`, { hint: 'throttling /0 would shape all traffic; give the client\'s address or network' });
  const masked = maskBytes(bytes, prefix);
  if (masked.some((b, i) => b !== bytes[i])) {
    const net = formatBytes(masked, family);
    throw new UserError(`${quoteForMessage(raw)} has host bits set under /${prefix}`, { hint: `for the network write ${net}/${prefix}; for the one host write ${formatBytes(bytes, family)}` });
  }
  const text = prefix === bits ? formatBytes(bytes, family) : `${formatBytes(bytes, family)}/${prefix}`;
  return { text, family, prefix, bytes };
}

/**
 * Whether a positional argument is meant as an address (so a typo is an error rather than an
 * account name): only hex digits, dots, colons and a slash, with a dot or a colon.
 */
export function looksLikeAddress(raw: string): boolean {
  return /^[0-9A-Fa-f:./]+$/.test(raw) && /[.:]/.test(raw) && /[0-9]/.test(raw);
}

/** Does network `outer` contain `inner` (same family)? */
export function contains(outer: Address, inner: Address): boolean {
  if (outer.family !== inner.family || outer.prefix > inner.prefix) return false;
  const m = maskBytes(inner.bytes, outer.prefix);
  return m.every((b, i) => b === outer.bytes[i]);
}

function v4Bytes(s: string): number[] {
  return s.split('.').map(Number);
}

function v6Bytes(s: string): number[] {
  let text = s.toLowerCase();
  let tail: number[] = [];
  const lastColon = text.lastIndexOf(':');
  if (text.indexOf('.', lastColon) > 0) {
    tail = v4Bytes(text.slice(lastColon + 1));
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = text.indexOf('::');
  let groups: string[];
  if (dbl >= 0) {
    const head = text.slice(0, dbl).split(':').filter((g) => g !== '');
    const rest = text.slice(dbl + 2).split(':').filter((g) => g !== '');
    groups = [...head, ...new Array<string>(8 - head.length - rest.length).fill('0'), ...rest];
  } else groups = text.split(':');
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g, 16);
    out.push(v >> 8, v & 0xff);
  }
  if (tail.length === 4) out.splice(12, 4, ...tail);
  return out;
}

function isV4Mapped(b: number[]): boolean {
  return b.slice(0, 10).every((x) => x === 0) && b[10] === 0xff && b[11] === 0xff;
}

function maskBytes(b: number[], prefix: number): number[] {
  return b.map((x, i) => {
    const keep = Math.max(0, Math.min(8, prefix - i * 8));
    return x & ((0xff << (8 - keep)) & 0xff);
  });
}

function formatBytes(b: number[], family: Family): string {
  if (family === 4) return b.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((b[i] << 8) | b[i + 1]);
  // RFC 5952: compress the longest run (first if tied) of two or more zero groups.
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

// ---- rates ----


export const MIN_RATE = 8_000;
export const MAX_RATE = 1e12;

/** `2mbit`, `500kbit`, `1gbit`, `250kbps` (bytes, as in tc) → bits per second. A bare number is refused: tc would read it as bytes. */
export function parseRate(raw: string, what = 'rate'): number {
  const m = /^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]*)\s*$/i.exec(raw);
  if (!m) throw new UserError(`bad ${what} ${quoteForMessage(raw)}`, { hint: 'write a number and a unit: 2mbit, 500kbit, 1gbit, 250kbps (bytes/s)' });
  const unit = m[2].toLowerCase();
  if (unit === '') throw new UserError(`${what} ${quoteForMessage(raw)} has no unit`, { hint: `tc would read a bare number as bytes per second; write ${m[1]}mbit or ${m[1]}kbit` });
  const mult = RATE_UNITS[unit];
  if (mult === undefined) throw new UserError(`unknown unit ${quoteForMessage(unit)} in ${what} ${quoteForMessage(raw)}`, { hint: `use one of ${Object.keys(RATE_UNITS).join(', ')}` });
  const bits = Math.round(Number(m[1]) * mult);
  if (!Number.isFinite(bits) || bits < MIN_RATE) throw new UserError(`${what} ${quoteForMessage(raw)} is below 8kbit`, { hint: 'HTB cannot shape reliably below 8kbit (1 KB/s)' });
  if (bits > MAX_RATE) throw new UserError(`${what} ${quoteForMessage(raw)} is above 1tbit`, { hint: 'check the unit: 2mbit, not 2tbit' });
  return bits;
}

/** tc's spelling of a rate: always integer bits per second, so nothing is lost to unit rounding. */
export function formatRate(bits: number): string {
  return `${bits}bit`;
}

/** Human spelling for messages and comments: 2mbit, 2.5mbit, 10gbit. */
export function humanRate(bits: number): string {
  for (const [unit, mult] of [['tbit', 1e12], ['gbit', 1e9], ['mbit', 1e6], ['kbit', 1e3]] as const) {
    if (bits >= mult) return `${+(bits / mult).toFixed(3)}${unit}`;
  }
  return `${bits}bit`;
}

// ---- ports ----

export const PORT_NAMES: Readonly<Record<string, number>> = {
  imap: 143, imaps: 993, pop3: 110, pop3s: 995, smtp: 25, submission: 587, smtps: 465,
  openvpn: 1194, dns: 53, http: 80, https: 443, ssh: 22,
};

/** iptables' multiport match takes at most 15 ports; the same limit holds for every backend. */
export const MAX_PORTS = 15;

/** `imap,imaps` or `993,995` → sorted unique port numbers. */
export function parsePorts(raw: string | string[]): number[] {
  const items = (Array.isArray(raw) ? raw : [raw]).flatMap((r) => r.split(',')).map((s) => s.trim()).filter((s) => s !== '');
  if (items.length === 0) throw new UserError('--ports is empty', { hint: 'for example --ports imap,imaps or --ports 993' });
  const out = new Set<number>();
  for (const item of items) {
    const named = PORT_NAMES[item.toLowerCase()];
    if (named !== undefined) { out.add(named); continue; }
    if (!/^[0-9]{1,5}$/.test(item) || Number(item) < 1 || Number(item) > 65535) {
      throw new UserError(`bad port ${quoteForMessage(item)}`, { hint: `use 1-65535 or a name: ${Object.keys(PORT_NAMES).join(', ')}` });
    }
    out.add(Number(item));
  }
  if (out.size > MAX_PORTS) throw new UserError(`too many ports (${out.size})`, { hint: `at most ${MAX_PORTS}; iptables' multiport match stops there` });
  return [...out].sort((a, b) => a - b);
}

// ---- interfaces ----

/**
 * Interface names as the kernel allows them (1-15 bytes, no '/', no whitespace, not '.' or '..'),
 * narrowed to letters, digits and `_ . : @ -`, and never starting with '-' (a tool would read it as
 * an option).
 */
export function parseIface(raw: string, what = 'interface'): string {
  if (raw.length === 0 || raw.length > 15) throw new UserError(`bad ${what} name ${quoteForMessage(raw)}: must be 1 to 15 characters`, { hint: 'list interfaces with: ip -br link' });
  if (!/^[A-Za-z0-9_.:@-]+$/.test(raw)) throw new UserError(`bad ${what} name ${quoteForMessage(raw)}: only letters, digits and _ . : @ - are allowed`, { hint: 'list interfaces with: ip -br link' });
  if (raw === '.' || raw === '..' || raw.startsWith('-')) throw new UserError(`bad ${what} name ${quoteForMessage(raw)}`, { hint: 'list interfaces with: ip -br link' });
  return raw;
}

// ---- durations ----

/**
 * `--since` and `--until`: the same windows as investigate and report accept (resolveWindow), so
 * that the window of an investigation can be pasted into the throttle it proposes. Its errors
 * already name the flag and the forms it takes.
 */
export function parseWindow(since: string, until: string | undefined, nowMs: number, tz = 'UTC'): { fromMs: number; toMs: number } {
  const w = resolveWindow(since, until, nowMs, since, tz);
  return { fromMs: w.from, toMs: w.to };
}

// ---- names from logs ----

/**
 * A name from a log (account, CN, rDNS) made safe for a shell comment and a terminal:
 * every byte outside a small safe set becomes %XX, and long names are cut.
 */
export function safeLabel(name: string, max = 64): string {
  let out = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9._@+=-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (out.length > max) out = `${out.slice(0, max)}...(${Buffer.byteLength(name, 'utf8')} bytes)`;
  return out;
}

/** Quote user input inside an error message without letting control characters through. */
function quoteForMessage(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}...` : s);
}
