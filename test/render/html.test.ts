import { describe, expect, it } from 'vitest';
import { renderHtml } from '../../src/render/html.js';
import type { UsageReport } from '../../src/usage/report.js';
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

describe('renderHtml: the month view (report --html)', () => {
  const line = (key: string, bytes: number) => ({ key, bytesIn: 0, bytesOut: bytes, share: 0, confidence: { exact: bytes, sharedIp: 0, ipOnly: 0, logCounters: 0, estimated: 0 }, services: [] });
  const day = (d: number, rows: ReturnType<typeof line>[]) => ({
    start: `2026-11-${d}T00:00:00.000Z`, end: `2026-11-${d + 1}T00:00:00.000Z`, label: `2026-11-${d}`, hours: rows.length ? 24 : 0,
    shareBasis: { label: 'x', iface: null, bytes: 1 }, interfaces: [], rows, others: null, unattributed: [],
  });
  const usage = (days: ReturnType<typeof day>[]): UsageReport => ({
    window: { from: '2026-11-18T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z' }, tz: 'UTC', by: 'account', period: 'day', account: null, over: null,
    rolledUp: { hours: 72, through: '2026-11-21T00:00:00.000Z', pending: 0 }, periods: days,
  });

  it('stacks the top five accounts per day by name, the others together, escaped', () => {
    const evil = '<script>x</script>@example.com';
    const html = renderHtml(loadInvestigation(), { usage: usage([
      day(18, [line('a', 600), line('b', 500), line(evil, 400), line('d', 300), line('e', 200), line('f', 100), line('g', 50)]),
      day(19, []),
      day(20, [line('a', 1e9), line('g', 10)]),
    ]) });
    const month = html.slice(html.indexOf('<section id="month">'), html.indexOf('</section>', html.indexOf('<section id="month">')));
    expect(month).toContain('<h2>The month before: traffic per account and day</h2>');
    // Day 18: five named segments and one of the others (f and g); day 19 nothing; day 20: a and the others.
    expect(month.match(/<rect class="u\d"[^>]*><title>/g)!.length).toBe(5 + 1);
    expect(month.match(/<rect class="uo"[^>]*><title>/g)!.length).toBe(2);
    // The legend: five names and the others.
    expect(month.match(/<rect class="u[\do]"[^>]*\/><text/g)!.length).toBe(6);
    expect(month).toContain('<title>2026-11-18: other accounts 150 B</title>');
    expect(month).toContain('<title>2026-11-20: a 1.00 GB</title>');
    expect(month).toContain('>&lt;script&gt;x&lt;/script&gt;@ex…</text>');
    expect(month).not.toContain('<script>');
  });

  it('is left out without rolled-up traffic', () => {
    expect(renderHtml(loadInvestigation(), { usage: usage([day(18, [])]) })).not.toContain('id="month"');
    expect(renderHtml(loadInvestigation())).not.toContain('id="month"');
  });
});
