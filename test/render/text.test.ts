import { describe, expect, it } from 'vitest';
import { renderInvestigationText } from '../../src/render/investigation.js';
import { expectGolden, hostileInvestigation, loadInvestigation } from './helpers.js';

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

describe('renderInvestigationText', () => {
  it('matches the golden report (color off, 100 columns)', () => {
    expectGolden('investigation.txt', renderInvestigationText(loadInvestigation(), { color: false, width: 100 }) + '\n');
  });

  it('opens with the verdict and keeps the sections in order', () => {
    const out = renderInvestigationText(loadInvestigation(), { color: false, width: 100 });
    expect(out.startsWith('alice@example.com (IMAP, 198.51.100.23, 2001:db8:a::51, …) caused 66% of eth0\'s traffic in + out')).toBe(true);
    expect(out).toContain('Explained eth0 out 12.9 GB (vnstat): 92% measured on the wire');
    const order = ['Suspects', 'Findings', 'Unattributed:', 'Timeline (5-minute buckets', 'Notes', 'Interface totals', 'Proposed throttle'].map((h) => out.indexOf(`\n${h}`));
    expect(order.every((i) => i > 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
    expect(out).toContain('Baseline  3.2× the same hours on the previous 7 days (typically 4.02 GB)');
    expect(out).toContain('$ bytetrail throttle alice@example.com --rate 3mbit --direction out --ports 143,993');
    // IPs: the first two and +N, in a column when the screen is wide enough.
    const wide = renderInvestigationText(loadInvestigation(), { color: false, width: 140 });
    expect(wide).toMatch(/\n  alice@example\.com\s+IMAP\s+198\.51\.100\.23, 2001:db8:a::51 \+1\s+201 MB/);
  });

  it('fits any width: only the throttle command may be longer', () => {
    for (const width of [72, 80, 120]) {
      const out = renderInvestigationText(loadInvestigation(), { color: false, width });
      const long = out.split('\n').filter((l) => [...l].length > width);
      expect(long.every((l) => l.includes('$ bytetrail throttle'))).toBe(true);
      // Narrow screens put service and IPs on a line of their own.
      if (width <= 80) expect(out).toContain('\n    IMAP from 198.51.100.23, 2001:db8:a::51 +1\n');
    }
    // Narrower than the table can shrink: rows may overflow, nothing breaks.
    expect(renderInvestigationText(loadInvestigation(), { color: true, width: 20 })).toContain('Proposed throttle');
  });

  it('shows at most three evidence lines per finding, cut to the width, keeping the fields that matter', () => {
    const out = renderInvestigationText(loadInvestigation(), { color: false, width: 100 });
    const start = out.indexOf('\n  imap-resync  alice@example.com\n');
    const resync = out.slice(start, out.indexOf('\n  vpn-heavy  bob@example.com\n', start));
    expect(resync.match(/\/var\/log\/mail\.log:\d+/g)).toHaveLength(3);
    expect(resync).toContain('(1 more line in the Markdown and JSON reports)');
    // Shortened, a line keeps its head and its key fields (user=, rip=, in=, out=), not its middle.
    expect(resync).toMatch(/mail\.log:10412 {2}Nov 20 09:02:11 mail dovecot: imap… user=<alice@example\.com>,\n/);
    expect(resync).toMatch(/mail\.log:10533 {2}.* in=18230 out=412233870\n/);
    for (const l of resync.split('\n')) expect(l.length).toBeLessThanOrEqual(100);
  });

  it('colours only when asked, and the text is the same without the escapes', () => {
    const plain = renderInvestigationText(loadInvestigation(), { color: false, width: 100 });
    const colored = renderInvestigationText(loadInvestigation(), { color: true, width: 100 });
    expect(plain).not.toContain('\x1b');
    expect(colored).toContain('\x1b[1m');
    expect(colored.replace(ANSI, '')).toBe(plain);
  });

  it('never passes control characters from the data to the terminal', () => {
    const out = renderInvestigationText(hostileInvestigation(), { color: true, width: 300 });
    expect(out.replace(ANSI, '')).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f]/);
    expect(out).toContain('\\x1b[2J\\x1b]0;pwned\\x07');
  });

  it('an empty investigation still reads as a report', () => {
    const out = renderInvestigationText(loadInvestigation('empty'), { color: false, width: 100 });
    expectGolden('empty.txt', out + '\n');
    expect(out).toContain('No traffic recorded in this window.');
    expect(out).toContain('no traffic between 2026-11-20 09:00 and 2026-11-20 11:00');
    const none = loadInvestigation('empty');
    none.timeline.buckets = [];
    expect(() => renderInvestigationText(none, { color: true, width: 10 })).not.toThrow();
  });
});
