/** Helpers shared by every parser: IP normalisation, address:port splitting, key=value lists. */
import { isIP } from 'node:net';

const v6Cache = new Map<string, string | null>();

/**
 * Canonical text form of an IP address, or null if it is not one.
 * IPv4-mapped IPv6 (`::ffff:192.0.2.1`) becomes plain IPv4; IPv6 is lower-cased and compressed
 * (RFC 5952); a zone id (`%eth0`) and surrounding brackets are dropped.
 */
export function normalizeIp(raw: string | null | undefined): string | null {
  if (!raw) return null;
  let s = raw;
  if (s.charCodeAt(0) === 91 /* [ */ && s.charCodeAt(s.length - 1) === 93) s = s.slice(1, -1);
  if (isIPv4Fast(s)) return s;
  if (isCanonicalV6(s)) return s;
  const cached = v6Cache.get(s);
  if (cached !== undefined) return cached;
  let out: string | null = null;
  const pct = s.indexOf('%');
  const bare = pct >= 0 ? s.slice(0, pct) : s;
  if (isIP(bare) === 6) {
    const lower = bare.toLowerCase();
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower) ?? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
    if (mapped && isIPv4Fast(mapped[1])) out = mapped[1];
    else out = compressV6(lower);
  } else if (isIP(bare) === 4) {
    out = bare.split('.').map((o) => String(+o)).join('.');
  }
  if (v6Cache.size > 50_000) v6Cache.clear();
  // `s` (and a part of it kept as `out`) is usually a slice of the chunk of text the line came
  // from, and a V8 slice keeps its whole parent alive: the cache would pin every chunk it saw
  // (measured: parse-only peak RSS 576 MB, 237 MB with copies). Cache fresh copies instead.
  const key = flatCopy(s);
  if (out !== null) out = flatCopy(out);
  v6Cache.set(key, out);
  return out;
}

/** A copy of an ASCII string that shares no memory with the string it was cut from. */
function flatCopy(s: string): string {
  return Buffer.from(s, 'latin1').toString('latin1');
}

/** Strict dotted-quad check without allocation (no leading zeros beyond a single 0). */
export function isIPv4Fast(s: string): boolean {
  const n = s.length;
  if (n < 7 || n > 15) return false;
  let dots = 0, digits = 0, val = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0) return false;
      dots++; digits = 0; val = 0;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && val === 0) return false;
      val = val * 10 + (c - 48);
      if (++digits > 3 || val > 255) return false;
    } else return false;
  }
  return dots === 3 && digits > 0;
}

const isHexDigit = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102);

/**
 * Is `s` an IPv6 address already in the form normalizeIp returns (RFC 5952: lower case, no
 * leading zeros, `::` for the first longest run of two or more zero groups, no IPv4 tail)?
 * Most addresses in logs are; checking without allocation is cheaper than looking `s` up in
 * the cache, which hashes a fresh string on every line (about 0.2 µs a line on the busy day).
 */
export function isCanonicalV6(s: string): boolean {
  const n = s.length;
  if (n < 2 || n > 39) return false;
  let groups = 0;
  /** The groups before the `::`, or -1 when there is none. */
  let dbl = -1;
  /** The longest run of `0` groups before the `::`, and after it. */
  let runBefore = 0, runAfter = 0, run = 0;
  let i = 0;
  if (s.charCodeAt(0) === 58) {
    if (s.charCodeAt(1) !== 58) return false;
    dbl = 0; i = 2;
    if (i === n) return true; // `::`
  }
  for (;;) {
    // One group: 1-4 hex digits, no leading zero.
    const g0 = i;
    while (i < n && isHexDigit(s.charCodeAt(i))) i++;
    const len = i - g0;
    if (len === 0 || len > 4) return false;
    const zero = s.charCodeAt(g0) === 48;
    if (zero && len > 1) return false;
    // A zero group next to the `::` belongs in it.
    if (zero && dbl === groups) return false;
    groups++;
    if (zero) {
      run++;
      if (dbl < 0) { if (run > runBefore) runBefore = run; } else if (run > runAfter) runAfter = run;
    } else run = 0;
    if (i === n) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (s.charCodeAt(i) === 58) {
      if (dbl >= 0 || zero) return false;
      dbl = groups; run = 0; i++;
      if (i === n) break;
    } else if (i === n) return false;
  }
  if (dbl < 0) return groups === 8 && runBefore < 2;
  // The `::` stands for 8 - groups zero groups: at least two, and the first longest run.
  const z = 8 - groups;
  return z >= 2 && runBefore < z && runAfter <= z;
}

function compressV6(s: string): string {
  // Expand to 8 groups, then compress the longest run of zero groups (RFC 5952).
  let groups: string[];
  let tail: string[] = [];
  let v4tail: string | null = null;
  let body = s;
  const lastColon = s.lastIndexOf(':');
  if (s.indexOf('.', lastColon) > 0) {
    v4tail = s.slice(lastColon + 1);
    body = s.slice(0, lastColon + 1) + '0:0';
  }
  const dbl = body.indexOf('::');
  if (dbl >= 0) {
    const head = body.slice(0, dbl).split(':').filter((g) => g !== '');
    tail = body.slice(dbl + 2).split(':').filter((g) => g !== '');
    groups = [...head, ...new Array(8 - head.length - tail.length).fill('0'), ...tail];
  } else groups = body.split(':');
  groups = groups.map((g) => g.replace(/^0+(?=.)/, ''));
  if (v4tail) {
    const o = v4tail.split('.').map(Number);
    groups[6] = ((o[0] << 8) | o[1]).toString(16);
    groups[7] = ((o[2] << 8) | o[3]).toString(16);
  }
  let bestStart = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] === '0') {
      let j = i;
      while (j < 8 && groups[j] === '0') j++;
      if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
      i = j;
    } else i++;
  }
  if (bestStart < 0) return groups.join(':');
  return groups.slice(0, bestStart).join(':') + '::' + groups.slice(bestStart + bestLen).join(':');
}

/**
 * Split `IP:port`, `[IPv6]:port`, `IP#port` (BIND), `IP port N` is not handled here.
 * Returns a normalised IP and the port, or null when the text holds no IP.
 */
export function splitHostPort(raw: string): { ip: string; port: number | null } | null {
  let s = raw.trim();
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) return null;
    const ip = normalizeIp(s.slice(1, end));
    if (!ip) return null;
    const rest = s.slice(end + 1);
    const port = rest.startsWith(':') || rest.startsWith('#') ? toPort(rest.slice(1)) : null;
    return { ip, port };
  }
  const hash = s.indexOf('#');
  if (hash > 0) {
    const ip = normalizeIp(s.slice(0, hash));
    return ip ? { ip, port: toPort(s.slice(hash + 1)) } : null;
  }
  // Fast path for the common `192.0.2.1:51234`, without touching the IPv6 machinery.
  const c1 = s.indexOf(':');
  if (c1 > 0 && c1 === s.lastIndexOf(':') && isIPv4Fast(s.slice(0, c1))) return { ip: s.slice(0, c1), port: toPort(s.slice(c1 + 1)) };
  const whole = normalizeIp(s);
  if (whole) return { ip: whole, port: null };
  const colon = s.lastIndexOf(':');
  if (colon > 0) {
    const ip = normalizeIp(s.slice(0, colon));
    if (ip) return { ip, port: toPort(s.slice(colon + 1)) };
  }
  return null;
}

/**
 * A port: null when `s` is not digits (no port there), NaN when it is digits but no port
 * (`4294967296`), which the event check (check.ts) turns into the line's failure.
 */
export function toPort(s: string): number | null {
  if (!/^\d+$/.test(s)) return null;
  const n = s.length > 5 ? NaN : +s;
  return n <= 65535 ? n : NaN;
}

/**
 * A counter or port field that is present in s[from, to): null when the range is empty,
 * NaN when it holds anything but an unsigned decimal of at most `max` (a damaged or
 * impossible value: the event check makes that the line's failure), else the value.
 */
function fieldAt(s: string, from: number, to: number, max: number): number | null {
  if (to <= from) return null;
  if (to - from > 16) return NaN;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return NaN;
    v = v * 10 + c;
  }
  return v <= max ? v : NaN;
}

/** A byte or packet counter in s[from, to): see fieldAt. */
export function counterAt(s: string, from: number, to: number): number | null {
  return fieldAt(s, from, to, Number.MAX_SAFE_INTEGER);
}

/** A port in s[from, to): see fieldAt. */
export function portAt(s: string, from: number, to: number): number | null {
  return fieldAt(s, from, to, 65535);
}

/** A counter written as text: null when absent or empty, NaN when present but not a counter. */
export function toCounter(s: string | undefined | null): number | null {
  if (s == null) return null;
  const t = s.trim();
  return counterAt(t, 0, t.length);
}

/** Unsigned decimal in s[from, to), or null; allocation-free, for hot paths. */
export function uintAt(s: string, from: number, to: number): number | null {
  if (to <= from || to - from > 15) return null;
  let v = 0;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return null;
    v = v * 10 + c;
  }
  return v;
}

/** Non-negative integer or null. */
export function toInt(s: string | undefined | null): number | null {
  if (s == null || s === '') return null;
  if (!/^\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Parse `key=value` pairs separated by `, ` or spaces, as Dovecot (`user=<jan>, rip=192.0.2.1`),
 * Postfix (`from=<a@b>, size=123`) and netfilter (`SRC=192.0.2.1 DST=...`) write them.
 * Values in `<...>` may hold commas and spaces; the angle brackets are removed.
 * A bare word without `=` (netfilter's `DF`, `SYN`) is stored with the value `true` when `flags` is set.
 */
export function parseKv(s: string, flags = false): Record<string, string | true> {
  const out: Record<string, string | true> = {};
  const n = s.length;
  let i = 0;
  while (i < n) {
    while (i < n && (s.charCodeAt(i) === 32 || s.charCodeAt(i) === 44)) i++;
    if (i >= n) break;
    let j = i;
    while (j < n) {
      const c = s.charCodeAt(j);
      if (c === 61 || c === 32 || c === 44) break;
      j++;
    }
    const key = s.slice(i, j);
    if (j < n && s.charCodeAt(j) === 61) {
      j++;
      if (s.charCodeAt(j) === 60 /* < */) {
        const end = s.indexOf('>', j + 1);
        if (end < 0) { out[key] = s.slice(j + 1); break; }
        out[key] = s.slice(j + 1, end);
        i = end + 1;
      } else {
        let k = j;
        while (k < n && s.charCodeAt(k) !== 32 && s.charCodeAt(k) !== 44) k++;
        out[key] = s.slice(j, k);
        i = k;
      }
    } else {
      if (flags && key) out[key] = true;
      i = j + 1;
    }
  }
  return out;
}

/** Trim a value and turn '' into null. */
export function nonEmpty(s: string | undefined | null): string | null {
  if (s == null) return null;
  const t = s.trim();
  return t === '' ? null : t;
}
