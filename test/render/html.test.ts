import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/render/html.js';
import { hostileInvestigation, loadInvestigation } from './helpers.js';

describe('renderHtml', () => {
  it('is one self-contained page: no script, no external resource', () => {
    const html = renderHtml(loadInvestigation());
    expect(html.startsWith('<!DOCTYPE html>\n<html lang="en">')).toBe(true);
    expect(html).toContain('<meta charset="utf-8">');
    // (A log line may say `SRC=`: the check is for attributes, which this page writes in lower case.)
    expect(html).not.toMatch(/<script|<link|<img|<iframe|<object|<embed| src=| href=|url\(|@import|https?:\/\/(?!www\.w3\.org\/2000\/svg")/);
    for (const id of ['suspects', 'timeline', 'findings', 'unattributed', 'notes', 'interfaces', 'action']) expect(html).toContain(`<section id="${id}">`);
    expect(html).toContain('<title>Bandwidth incident 2026-11-20 09:00–11:00 UTC: alice@example.com</title>');
    expect(html).toContain('<pre><code>bytetrail throttle alice@example.com --rate 3mbit --direction out --ports 143,993</code></pre>');
  });

  it('draws the window as stacked bars with labelled axes', () => {
    const html = renderHtml(loadInvestigation());
    const svg = html.slice(html.indexOf('<svg'), html.indexOf('</svg>'));
    expect(svg.match(/<rect class="out" x=/g)!.length).toBe(24 + 1);
    expect(svg.match(/<rect class="in" x=/g)!.length).toBe(24 + 1);
    for (const label of ['>09:00<', '>10:00<', '>11:00<', '>0 B<', '>1.50 GB<', '>time (UTC)<', 'bytes per 5-minute bucket']) expect(svg).toContain(label);
    expect(svg).toContain('<title>09:35–09:40: in 115 MB, out 1.17 GB, mostly alice@example.com</title>');
  });

  it('escapes every string from the data', () => {
    const html = renderHtml(hostileInvestigation());
    expect(html).not.toMatch(/<script|<iframe|<img|<style>body|<u>|<b>mail/);
    expect(html).toContain('&lt;script&gt;alert(&quot;acct&quot;)&lt;/script&gt;@example.com');
    expect(html).toContain('&lt;/code&gt;&lt;/pre&gt;&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('eth0&quot;&gt;&lt;script&gt;alert(3)&lt;/script&gt;');
    expect(html).not.toContain('\x1b');
    // Tags the page itself opens are closed in the same numbers.
    for (const tag of ['section', 'table', 'pre', 'code', 'ul', 'svg', 'article']) {
      expect((html.match(new RegExp(`<${tag}[ >]`, 'g')) ?? []).length).toBe((html.match(new RegExp(`</${tag}>`, 'g')) ?? []).length);
    }
  });

  it('an empty investigation still has a chart and says so', () => {
    const html = renderHtml(loadInvestigation('empty'));
    expect(html).toContain('No traffic recorded in this window.');
    expect(html).toContain('no traffic in this window</text>');
    expect(html).toContain('None: no account or known cause stands out in this window.');
    expect(html).not.toContain('<section id="findings">');
    const none = loadInvestigation('empty');
    none.timeline.buckets = [];
    expect(renderHtml(none)).toContain('</svg>');
  });
});
