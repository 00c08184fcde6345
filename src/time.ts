/**
 * Wall-clock to UTC conversion for a named zone, without reading the process zone.
 * Intl is slow (microseconds per call), so offsets are cached per zone and local hour.
 */
const MONTHS: Record<string, number> = {
  jan: 1, feb: 2, mar: 3, apr: 4, may: 5, jun: 6, jul: 7, aug: 8, sep: 9, oct: 10, nov: 11, dec: 12,
  // French abbreviations, as syslog writes them under a fr_FR locale ("août 19 11:08:37").
  janv: 1, 'fév': 2, 'févr': 2, fevr: 2, mars: 3, avr: 4, mai: 5, juin: 6, juil: 7, 'aoû': 8, 'août': 8, aout: 8, sept: 9, 'déc': 12,
};

/** Month number (1-12) from an English (or French) abbreviation, or 0. Case-insensitive. */
export function monthNumber(name: string): number {
  if (name.length === 3) return month3(name, 0);
  const key = name.toLowerCase().replace(/\.$/, '');
  return MONTHS[key] ?? MONTHS[key.slice(0, 3)] ?? 0;
}

/** monthNumber(s.slice(start, end)), without the slice for a three-letter English name. */
export function monthNumberAt(s: string, start: number, end: number): number {
  if (end - start === 3) return month3(s, start);
  return monthNumber(s.slice(start, end));
}

/**
 * A three-letter abbreviation at i, matched on char codes (this runs per line). Falls back to
 * the table for three-letter French names (`fév`, `déc`).
 */
function month3(s: string, i: number): number {
  const a = s.charCodeAt(i) | 32, b = s.charCodeAt(i + 1) | 32, c = s.charCodeAt(i + 2) | 32;
  switch (a) {
    case 106: if (b === 97 && c === 110) return 1; if (b === 117) return c === 110 ? 6 : c === 108 ? 7 : 0; break; // jan jun jul
    case 102: if (b === 101 && c === 98) return 2; break; // feb
    case 109: if (b === 97) return c === 114 ? 3 : c === 121 ? 5 : 0; break; // mar may
    case 97: if (b === 112 && c === 114) return 4; if (b === 117 && c === 103) return 8; break; // apr aug
    case 115: if (b === 101 && c === 112) return 9; break; // sep
    case 111: if (b === 99 && c === 116) return 10; break; // oct
    case 110: if (b === 111 && c === 118) return 11; break; // nov
    case 100: if (b === 101 && c === 99) return 12; break; // dec
  }
  const key = s.slice(i, i + 3).toLowerCase().replace(/\.$/, '');
  return MONTHS[key] ?? MONTHS[key.slice(0, 3)] ?? 0;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
const offsetCache = new Map<string, number>();

function formatterFor(tz: string): Intl.DateTimeFormat {
  let f = formatters.get(tz);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: tz, hourCycle: 'h23',
      year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    formatters.set(tz, f);
  }
  return f;
}

/** Offset (ms) of `tz` from UTC at the UTC instant `utcMs`. */
export function zoneOffsetAt(tz: string, utcMs: number): number {
  if (tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT') return 0;
  const parts = formatterFor(tz).formatToParts(new Date(utcMs));
  let y = 0, mo = 0, d = 0, h = 0, mi = 0, s = 0;
  for (const p of parts) {
    switch (p.type) {
      case 'year': y = +p.value; break;
      case 'month': mo = +p.value; break;
      case 'day': d = +p.value; break;
      case 'hour': h = +p.value; break;
      case 'minute': mi = +p.value; break;
      case 'second': s = +p.value; break;
    }
  }
  const asUtc = Date.UTC(y, mo - 1, d, h, mi, s);
  return asUtc - Math.floor(utcMs / 1000) * 1000;
}

/** Is `tz` a zone this runtime knows? */
export function isValidZone(tz: string): boolean {
  try {
    formatterFor(tz);
    return true;
  } catch {
    return false;
  }
}

/**
 * UTC ms for a local wall-clock time in `tz`. In a DST gap the time is read with the
 * offset before the change; in an overlap, the earlier instant is chosen.
 */
let hourTz = '';
const hourCache = new Map<number, number>();

export function zonedToUtc(tz: string, y: number, mo: number, d: number, h: number, mi: number, s: number, ms = 0): number {
  const naive = Date.UTC(y, mo - 1, d, h, mi, s, ms);
  if (tz === 'UTC' || tz === 'Etc/UTC' || tz === 'GMT') return naive;
  // Offsets change on the hour (DST), so one lookup per zone and local hour serves every line in it.
  if (tz !== hourTz) { hourTz = tz; hourCache.clear(); }
  const hourKey = Math.floor(naive / 3_600_000);
  const cached = hourCache.get(hourKey);
  if (cached !== undefined) return naive - cached;
  const key = tz + '|' + hourKey;
  let off = offsetCache.get(key);
  if (off === undefined) {
    // Two-pass: guess with the offset at the naive instant, then correct with the offset at the guess.
    const o1 = zoneOffsetAt(tz, naive);
    const o2 = zoneOffsetAt(tz, naive - o1);
    off = o1 === o2 ? o1 : Math.max(o1, o2);
    if (offsetCache.size > 100_000) offsetCache.clear();
    offsetCache.set(key, off);
  }
  if (hourCache.size > 100_000) hourCache.clear();
  hourCache.set(hourKey, off);
  return naive - off;
}

/** Parse a `+01:00`, `+0100`, `-05`, `Z` offset into ms east of UTC, or null. */
export function parseOffset(s: string): number | null {
  if (s === 'Z' || s === 'z') return 0;
  const m = /^([+-])(\d\d):?(\d\d)?$/.exec(s);
  if (!m) return null;
  const v = (+m[2] * 60 + (m[3] ? +m[3] : 0)) * 60_000;
  return m[1] === '-' ? -v : v;
}

/** Year to give a year-less date so that it is not more than a day after `refTime`. */
let yearRef = NaN, yearTz = '';
const yearCache = new Map<number, number>();

export function yearFor(tz: string, refTime: number, mo: number, d: number, h: number, mi: number, s: number): number {
  // Only the hour before the reference can go either way; cache by (month, day, hour) otherwise.
  if (refTime !== yearRef || tz !== yearTz) { yearRef = refTime; yearTz = tz; yearCache.clear(); }
  const key = mo * 10000 + d * 100 + h;
  const hit = yearCache.get(key);
  if (hit !== undefined) return hit;
  const y = yearForSlow(tz, refTime, mo, d, h, 59, 59);
  // The year of hh:59:59 is the year of every second in that hour unless the hour straddles the limit.
  if (y === yearForSlow(tz, refTime, mo, d, h, 0, 0)) { yearCache.set(key, y); return y; }
  return yearForSlow(tz, refTime, mo, d, h, mi, s);
}

function yearForSlow(tz: string, refTime: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const refYear = new Date(refTime).getUTCFullYear();
  // The reference's local year can differ from its UTC year around New Year; try both sides.
  for (const y of [refYear + 1, refYear, refYear - 1]) {
    const t = zonedToUtc(tz, y, mo, d, h, mi, s);
    if (t <= refTime + 86_400_000) return y;
  }
  return refYear - 1;
}

const CLF_MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * `dd/Mon/yyyy:HH:MM:SS +zzzz` (the common log format's stamp, which pvefw-logger also writes)
 * from seven groups of a match starting at `at`: UTC milliseconds, or null when out of range.
 * The stamp carries its offset, so no zone is needed.
 */
export function clfTime(m: RegExpExecArray, at: number): number | null {
  const mo = CLF_MONTHS.indexOf(m[at + 1]);
  const d = +m[at], h = +m[at + 3], mi = +m[at + 4], sec = +m[at + 5], z = m[at + 6];
  if (mo < 0 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 60) return null;
  const off = (z.charCodeAt(0) === 45 ? -1 : 1) * (+z.slice(1, 3) * 60 + +z.slice(3, 5)) * 60_000;
  return Date.UTC(+m[at + 2], mo, d, h, mi, sec === 60 ? 59 : sec) - off;
}
