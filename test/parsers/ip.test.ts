/**
 * normalizeIp's shortcut for addresses already in RFC 5952 form (isCanonicalV6) must agree
 * with the full path: canonical exactly when the full path would return the text unchanged.
 */
import { isIP } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isCanonicalV6, normalizeIp } from '../../src/parsers/common.js';

describe('isCanonicalV6', () => {
  it('accepts RFC 5952 text and nothing else', () => {
    for (const s of ['::', '::1', '1::', '2001:db8::10', '2001:db8:7d51:7a::797', '2001:db8:0:1:1:1:1:1', '1:0:0:2::', '1::2:0:0:3', 'fe80::1:0:0:0', '1:2:3:4:5:6:7:8']) {
      expect(isCanonicalV6(s), s).toBe(true);
    }
    for (const s of ['', ':', ':::', '1:2', '2001:DB8::1', '2001:0db8::1', '2001:db8:0:0:1:1:1:1', '2001:db8::0:1', '0::1', '1::0', '1::2::3',
      '1:0:0:2:0:0:0:3', '1:2:3:4:5:6:7::', '::1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::ffff:192.0.2.1', 'fe80::1%eth0', '[::1]', ':1::', '1::2:', '12345::']) {
      expect(isCanonicalV6(s), s).toBe(false);
    }
  });

  it('agrees with the full normalisation on random addresses', () => {
    let seed = 7;
    const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
    const parts = ['0', '00', '0000', '1', 'a', 'A', 'db8', '2001', 'ffff', '0db8', '1.2.3.4', '%eth0', '', 'g', '12345'];
    for (let k = 0; k < 20_000; k++) {
      const g = Array.from({ length: 8 }, () => (rnd(3) ? '0' : rnd(65536).toString(16)));
      const canonical = normalizeIp(g.join(':'))!;
      expect(isCanonicalV6(canonical), canonical).toBe(true);
      const s = Array.from({ length: 1 + rnd(9) }, () => parts[rnd(parts.length)]).join(':');
      expect(isCanonicalV6(s), s).toBe(isIP(s) === 6 && normalizeIp(s) === s);
    }
  });
});
