/**
 * Country and AS of an address from MaxMind-format databases (.mmdb): MaxMind GeoLite2/GeoIP2,
 * DB-IP lite, and the ip-location-db builds. Several files are merged: a country file and an
 * ASN file answer one lookup together.
 */
import { open, type Reader, type Response } from 'maxmind';
import { readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { InputError, describeFsError } from './errors.js';
import { normalizeIp } from './parsers/common.js';

export interface GeoRecord {
  /** ISO 3166-1 alpha-2, e.g. `NL`. */
  country: string | null;
  countryName: string | null;
  asn: number | null;
  asOrg: string | null;
}

export interface Geo {
  /** Null when no database knows the address (documentation and private ranges, for one). */
  lookup(ip: string): GeoRecord | null;
  /** The files opened, in the order they are asked. */
  sources: string[];
}

/** Where geoipupdate and the distributions' packages put the databases. */
export const GEOIP_DIRS = ['/usr/share/GeoIP', '/var/lib/GeoIP'];

type Kind = 'country' | 'city' | 'asn' | 'other';

/** By file name: GeoLite2-Country, dbip-country-lite-2026-11, geo-whois-asn-country (a country file), GeoLite2-ASN, GeoIP2-ISP. */
function kindOf(name: string): Kind {
  const n = name.toLowerCase();
  if (n.includes('country')) return 'country';
  if (n.includes('city')) return 'city';
  if (/asn|isp/.test(n)) return 'asn';
  return 'other';
}

/**
 * The databases worth opening in a directory: every country and ASN file, a city file only when
 * there is no country file (it is ten times the size for the same answer), and no `-ipv4` or
 * `-ipv6` half when the combined file is there too.
 */
export function pickDatabases(names: string[]): string[] {
  const mmdb = names.filter((n) => /\.mmdb$/i.test(n));
  const whole = new Set(mmdb.map((n) => n.toLowerCase()));
  const useful = mmdb.filter((n) => {
    const m = /^(.*)-ipv[46](\.mmdb)$/i.exec(n);
    return !(m && whole.has(`${m[1]}${m[2]}`.toLowerCase()));
  });
  const byKind = (k: Kind) => useful.filter((n) => kindOf(n) === k).sort().reverse();
  const country = byKind('country');
  return [...country, ...(country.length ? [] : byKind('city')), ...byKind('asn')];
}

interface Source { path: string; reader: Reader<Response>; ipv4Only: boolean }

async function openOne(path: string): Promise<Source> {
  let reader: Reader<Response>;
  try {
    reader = await open<Response>(path, { cache: { max: 1000 } });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code) throw new InputError(describeFsError(path, err), { hint: 'check --geoip-db' });
    const msg = firstLine(e.message ?? String(err));
    if (/gzip/i.test(msg)) throw new InputError(`GeoIP database ${path} is gzip-compressed`, { hint: `gunzip it first: gunzip -k ${path}` });
    // The reader's own words ("Unknown type 111 at offset 1") say nothing to a user; keep them as the cause.
    throw new InputError(`GeoIP database ${path} is not a MaxMind DB (.mmdb) file, or it is damaged`, { hint: 'download it again, or point --geoip-db elsewhere', cause: err });
  }
  return { path, reader, ipv4Only: reader.metadata.ipVersion === 4 };
}

function firstLine(s: string): string {
  return s.split('\n')[0].trim() || 'unreadable';
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch (err) {
    throw new InputError(describeFsError(dir, err), { hint: 'check --geoip-db' });
  }
}

function isDir(path: string): boolean | null {
  try {
    return statSync(path).isDirectory();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new InputError(describeFsError(path, err), { hint: 'check --geoip-db' });
  }
}

/**
 * Open the databases at `path` (a file, or a directory of them), else in the standard
 * directories. Null when none is found without `path`; with `path`, nothing usable is an error.
 */
export async function openGeo(opts: { path?: string; searchDirs?: string[] }): Promise<Geo | null> {
  let files: string[];
  if (opts.path) {
    const dir = isDir(opts.path);
    if (dir === null) throw new InputError(`GeoIP database ${opts.path} does not exist`, { hint: 'pass an .mmdb file or a directory that holds some' });
    files = dir ? pickDatabases(listDir(opts.path)).map((n) => join(opts.path!, n)) : [opts.path];
    if (!files.length) throw new InputError(`no country or ASN .mmdb file in ${opts.path}`, { hint: 'e.g. GeoLite2-Country.mmdb and GeoLite2-ASN.mmdb, or dbip-country-lite-*.mmdb' });
  } else {
    const seen = new Set<string>();
    files = [];
    for (const dir of opts.searchDirs ?? GEOIP_DIRS) {
      if (!isDir(dir)) continue;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        continue; // an unreadable system directory is the same as none
      }
      for (const n of pickDatabases(names)) if (!seen.has(n)) { seen.add(n); files.push(join(dir, n)); }
    }
    if (!files.length) return null;
  }
  const sources = await Promise.all(files.map(openOne));
  return { lookup: (ip) => lookup(sources, ip), sources: sources.map((s) => s.path) };
}

function lookup(sources: Source[], raw: string): GeoRecord | null {
  const ip = normalizeIp(raw);
  if (!ip) return null;
  const v6 = ip.includes(':');
  const rec: GeoRecord = { country: null, countryName: null, asn: null, asOrg: null };
  for (const s of sources) {
    if (v6 && s.ipv4Only) continue;
    let data: unknown;
    try {
      data = s.reader.get(ip);
    } catch (err) {
      throw new InputError(`GeoIP database ${s.path} is damaged: ${firstLine((err as Error).message ?? String(err))}`, { hint: 'download it again, or point --geoip-db elsewhere' });
    }
    if (data && typeof data === 'object') merge(rec, data as Record<string, unknown>);
    if (rec.country && rec.countryName && rec.asn !== null && rec.asOrg) break;
  }
  if (rec.country && !rec.countryName) rec.countryName = regionName(rec.country);
  return rec.country || rec.asn !== null || rec.asOrg ? rec : null;
}

const obj = (v: unknown): Record<string, unknown> | null => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : null);
const text = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v.trim() : null);

function asNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const m = /^(?:AS)?(\d{1,10})$/i.exec(v.trim());
    if (m) return Number(m[1]);
  }
  return null;
}

/**
 * The two record shapes:
 * MaxMind and DB-IP: `{ country: { iso_code: 'NL', names: { en: 'Netherlands' } }, registered_country: {...} }`
 * and `{ autonomous_system_number: 64496, autonomous_system_organization: 'Example' }`;
 * ip-location-db: `{ country_code: 'NL' }` and the same ASN keys (some builds: `asn`, `as_name`).
 */
function merge(rec: GeoRecord, d: Record<string, unknown>): void {
  const place = obj(d.country) ?? obj(d.registered_country) ?? obj(d.represented_country);
  if (!rec.country) {
    const code = text(place?.iso_code) ?? text(d.country_code) ?? text(d.country);
    if (code && /^[A-Za-z]{2}$/.test(code)) {
      rec.country = code.toUpperCase();
      rec.countryName = text(obj(place?.names)?.en) ?? text(d.country_name);
    }
  }
  if (rec.asn === null) rec.asn = asNumber(d.autonomous_system_number) ?? asNumber(d.asn);
  if (!rec.asOrg) rec.asOrg = text(d.autonomous_system_organization) ?? text(d.as_name) ?? text(d.as_org) ?? text(d.organization);
}

let regionNames: Intl.DisplayNames | null = null;

/** `NL` → `Netherlands`, for databases that hold only the code. */
function regionName(code: string): string | null {
  try {
    regionNames ??= new Intl.DisplayNames(['en'], { type: 'region' });
    const name = regionNames.of(code);
    return name && name !== code ? name : null;
  } catch {
    return null;
  }
}
