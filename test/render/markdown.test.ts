import { describe, expect, it } from 'vitest';
import { codeBlock, mdText, renderMarkdown } from '../../src/render/markdown.js';
import { expectGolden, hostileInvestigation, loadInvestigation } from './helpers.js';

describe('renderMarkdown', () => {
  it('matches the golden report', () => {
    expectGolden('investigation.md', renderMarkdown(loadInvestigation()));
  });

  it('has the ticket sections, the title, and the throttle in a sh block', () => {
    const md = renderMarkdown(loadInvestigation());
    expect(md.split('\n')[0]).toBe('# Bandwidth incident 2026-11-20 09:00–11:00 UTC: alice@example.com');
    const heads = md.split('\n').filter((l) => l.startsWith('## '));
    expect(heads).toEqual(['## Suspects', '## Timeline', '## Findings', '## Unattributed traffic', '## Notes', '## Interface totals (vnstat)', '## Recommended action']);
    expect(md).toContain('```sh\nbytetrail throttle alice@example.com --rate 3mbit --direction out --ports 143,993\n```');
    expect(md).toContain('/var/log/mail.log:10412  Nov 20 09:02:11 mail dovecot: imap-login: Login: user=<alice@example.com>');
    expect(md).toContain('3.2× the same hours on the previous 7 days');
  });

  it('every table row has as many cells as its header', () => {
    const md = renderMarkdown(hostileInvestigation());
    const lines = md.split('\n');
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].startsWith('| ') || !lines[i + 1]?.startsWith('| -')) continue;
      const cells = (l: string) => l.replace(/\\\|/g, '').split('|').length;
      const n = cells(lines[i]);
      for (let j = i + 1; lines[j]?.startsWith('|'); j++) expect(cells(lines[j])).toBe(n);
    }
  });

  it('escapes hostile account names and log lines', () => {
    const md = renderMarkdown(hostileInvestigation());
    const outsideCode = md.split(/^(`{3,})[a-z]*\n[\s\S]*?^\1$/m).join('');
    expect(outsideCode).not.toMatch(/<script|<iframe|<style|<img|<u>/);
    expect(md).toContain('&lt;script&gt;alert("acct")&lt;/script&gt;@example.com');
    // The log line holds ``` itself: its fence is longer.
    expect(md).toContain('````text\n');
    expect(md).not.toContain('\x1b');
  });

  it('mdText and codeBlock', () => {
    expect(mdText('a|b *c* _d_ [e](f) <g> & `h`')).toBe('a\\|b \\*c\\* \\_d\\_ \\[e\\](f) &lt;g&gt; &amp; \\`h\\`');
    expect(mdText('# not a heading')).toBe('\\# not a heading');
    expect(mdText('1. not a list, 198.51.100.23 stays')).toBe('1\\. not a list, 198.51.100.23 stays');
    expect(codeBlock(['a ```` b'])).toBe('`````text\na ```` b\n`````');
  });

  it('an empty investigation still reads as a report', () => {
    const md = renderMarkdown(loadInvestigation('empty'));
    expectGolden('empty.md', md);
    expect(md).toContain('# Bandwidth incident 2026-11-20 09:00–11:00 UTC: no suspect');
    expect(md).toContain('No throttle is proposed');
  });
});
