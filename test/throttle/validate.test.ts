import { describe, expect, it } from 'vitest';
import { UserError } from '../../src/errors.js';
import { contains, formatRate, humanRate, looksLikeAddress, parseAddress, parseIface, parsePorts, parseRate, parseWindow, safeLabel } from '../../src/throttle/validate.js';
import { resolveWindow } from '../../src/correlate/window.js';

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UserError);
    const e = err as UserError;
    return `${e.message}${e.hint ? ` | ${e.hint}` : ''}`;
  }
  throw new Error('expected a UserError');
}

describe('parseAddress', () => {
  it.each([
    ['192.0.2.10', '192.0.2.10', 4],
    [' 192.0.2.10 ', '192.0.2.10', 4],
    ['192.0.2.10/32', '192.0.2.10', 4],
    ['198.51.100.0/24', '198.51.100.0/24', 4],
    ['203.0.113.128/25', '203.0.113.128/25', 4],
    ['2001:DB8::10', '2001:db8::10', 6],
    ['2001:0db8:0000:0000:0000:0000:0000:0010', '2001:db8::10', 6],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', 6],
    ['2001:db8:0:1:0:0:0:0/64', '2001:db8:0:1::/64', 6],
    ['2001:db8::/32', '2001:db8::/32', 6],
    ['2001:db8::1/128', '2001:db8::1', 6],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6', 6],
    ['::ffff:192.0.2.7', '192.0.2.7', 4],
    ['::ffff:c000:207', '192.0.2.7', 4],
    ['::ffff:198.51.100.0/120', '198.51.100.0/24', 4],
  ])('%s → %s', (raw, text, family) => {
    const a = parseAddress(raw);
    expect(a.text).toBe(text);
    expect(a.family).toBe(family);
    // Canonical form is a fixed point.
    expect(parseAddress(a.text).text).toBe(text);
  });

  it.each([
    ['192.0.2.256', /not an IP address/],
    ['192.0.2', /not an IP address/],
    ['01.2.3.4', /not an IP address/],
    ['fe80::1%eth0', /not an IP address/],
    ['[2001:db8::1]', /not an IP address/],
    ['192.0.2.10; rm -rf /', /not an IP address/],
    ['$(reboot)', /not an IP address/],
    ['192.0.2.0/33', /bad prefix length.*1 to 32/],
    ['192.0.2.0/024', /bad prefix length/],
    ['192.0.2.0/', /bad prefix length/],
    ['2001:db8::/129', /bad prefix length.*1 to 128/],
    ['192.0.2.5/24', /host bits set under \/24 \| for the network write 192\.0\.2\.0\/24; for the one host write 192\.0\.2\.5/],
    ['2001:db8::1/64', /host bits set.*2001:db8::\/64/],
    ['0.0.0.0/0', /is every address/],
    ['::/0', /is every address/],
  ])('refuses %s', (raw, re) => {
    expect(message(() => parseAddress(raw))).toMatch(re);
  });

  it('decides what looks like an address', () => {
    for (const s of ['192.0.2.1', '192.0.2.300', '2001:db8::1', '198.51.100.0/24', 'dead:beef::1']) expect(looksLikeAddress(s), s).toBe(true);
    for (const s of ['alice', 'alice@example.com', 'cafe', 'bob.smith', 'face.book', '$(id)', '']) expect(looksLikeAddress(s), s).toBe(false);
  });

  it('knows containment', () => {
    expect(contains(parseAddress('198.51.100.0/24'), parseAddress('198.51.100.7'))).toBe(true);
    expect(contains(parseAddress('198.51.100.0/24'), parseAddress('198.51.101.7'))).toBe(false);
    expect(contains(parseAddress('2001:db8::/32'), parseAddress('2001:db8:5::1'))).toBe(true);
    expect(contains(parseAddress('2001:db8::/32'), parseAddress('192.0.2.1'))).toBe(false);
  });
});

describe('parseRate', () => {
  it.each([
    ['2mbit', 2_000_000],
    ['2Mbit', 2_000_000],
    ['500kbit', 500_000],
    ['1gbit', 1_000_000_000],
    ['2.5mbit', 2_500_000],
    ['250kbps', 2_000_000],
    ['8000bit', 8000],
    ['1tbit', 1e12],
    [' 10 mbit ', 10_000_000],
  ])('%s → %d bit/s', (raw, bits) => {
    expect(parseRate(raw)).toBe(bits);
  });

  it.each([
    ['2', /has no unit \| tc would read a bare number as bytes per second; write 2mbit/],
    ['2mb', /unknown unit "mb"/],
    ['2 mbit/s', /bad rate/],
    ['-2mbit', /bad rate/],
    ['1e6bit', /bad rate/],
    ['2mbit; reboot', /bad rate/],
    ['7bit', /below 8kbit/],
    ['2tbit', /above 1tbit/],
    ['', /bad rate/],
  ])('refuses %j', (raw, re) => {
    expect(message(() => parseRate(raw))).toMatch(re);
  });

  it('renders tc rates as integer bits and human rates for people', () => {
    expect(formatRate(2_500_000)).toBe('2500000bit');
    expect(humanRate(2_500_000)).toBe('2.5mbit');
    expect(humanRate(10e9)).toBe('10gbit');
    expect(humanRate(8000)).toBe('8kbit');
  });
});

describe('parsePorts', () => {
  it('takes names and numbers, sorted and unique', () => {
    expect(parsePorts('imaps,imap,993')).toEqual([143, 993]);
    expect(parsePorts('POP3S, submission,25')).toEqual([25, 587, 995]);
    expect(parsePorts(['openvpn', 'dns,https'])).toEqual([53, 443, 1194]);
  });

  it.each([
    ['', /--ports is empty/],
    ['0', /bad port "0"/],
    ['65536', /bad port "65536"/],
    ['imapz', /bad port "imapz" \| use 1-65535 or a name: imap, imaps/],
    ['993;reboot', /bad port/],
    ['1-100', /bad port/],
    ['1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16', /too many ports \(16\)/],
  ])('refuses %j', (raw, re) => {
    expect(message(() => parsePorts(raw))).toMatch(re);
  });
});

describe('parseIface', () => {
  it.each(['eth0', 'ens3', 'wg0', 'br-lan', 'bond0.100', 'veth_a@b', 'eth0:1', 'abcdefghijklmno'])('accepts %s', (name) => {
    expect(parseIface(name)).toBe(name);
  });

  it.each([
    ['', /1 to 15 characters/],
    ['abcdefghijklmnop', /1 to 15 characters/],
    ['eth 0', /only letters, digits/],
    ['eth0/1', /only letters, digits/],
    ['eth0;reboot', /only letters, digits/],
    ['$(id)', /only letters, digits/],
    ['eth0\n', /only letters, digits/],
    ['ethé', /only letters, digits/],
    ['.', /bad interface name/],
    ['..', /bad interface name/],
    ['-h', /bad interface name/],
  ])('refuses %j', (raw, re) => {
    expect(message(() => parseIface(raw))).toMatch(re);
  });
});

describe('parseWindow', () => {
  const now = Date.UTC(2026, 10, 21, 12, 0, 0);
  const since = (raw: string) => parseWindow(raw, undefined, now).fromMs;
  it('takes durations and dates, as investigate does', () => {
    expect(since('24h')).toBe(now - 24 * 3600e3);
    expect(since('7d')).toBe(now - 7 * 86400e3);
    expect(since('90m')).toBe(now - 90 * 60e3);
    expect(since('2026-11-20T00:00:00Z')).toBe(Date.UTC(2026, 10, 20));
    expect(since('2026-11-20T01:00:00+01:00')).toBe(Date.UTC(2026, 10, 20));
    expect(since('1d12h')).toBe(now - 36 * 3600e3);
    expect(since('2026-11-20')).toBe(resolveWindow('2026-11-20', undefined, now).from);
  });
  it('ends at --until, read in the zone given', () => {
    expect(parseWindow('2h', '2026-11-20 10:00', now, 'Europe/Berlin')).toEqual({ fromMs: Date.UTC(2026, 10, 20, 7), toMs: Date.UTC(2026, 10, 20, 9) });
  });
  it('refuses the rest', () => {
    expect(message(() => since('yesterday'))).toMatch(/--since is neither a duration nor a date: yesterday \| use a duration/);
    expect(message(() => since('2026-11-22T00:00:00Z'))).toMatch(/the window is empty/);
  });
});

describe('safeLabel', () => {
  it('keeps plain names and encodes everything else', () => {
    expect(safeLabel('alice@example.com')).toBe('alice@example.com');
    expect(safeLabel('$(rm -rf /)')).toBe('%24%28rm%20-rf%20%2F%29');
    expect(safeLabel('a\nb')).toBe('a%0Ab');
    expect(safeLabel('josé')).toBe('jos%C3%A9');
    expect(safeLabel('x'.repeat(100))).toBe(`${'x'.repeat(64)}...(100 bytes)`);
  });
});
