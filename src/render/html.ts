/**
 * The incident report as one self-contained HTML page: inline CSS, an inline SVG chart, no
 * script and no external resource, so that it can be attached to a ticket or mailed. A pure
 * function of one Investigation; every string from the data goes through `escapeHtml`.
 */
import { evidenceText, type Confidence, type Investigation } from '../correlate/types.js';
import type { UsageReport } from '../usage/report.js';
import {
  CONFIDENCE_TEXT, FINDING_TITLE, FLOW_SOURCE_LABEL, SERVICE_LABEL, attributionLine, axisTime, baselineLine, blockAdvice, closureLines, shareBasisLine,
  bucketEnd, bucketLabel, clean, dateTime, duration, escapeHtml, formatBytes, isFleet, percent, plural, remoteLabel, suspectName,
  timelineSummary, truncate, windowLabel, windowMs, type TimelineSummary,
} from './format.js';

/** Data text for element content or an attribute value: control characters shown, markup escaped. */
const h = (s: string): string => escapeHtml(clean(s));

/** Static advice with `code` spans, escaped first. */
const prose = (s: string): string => escapeHtml(clean(s)).replace(/`([^`]+)`/g, '<code>$1</code>');

const CSS = `
:root { color-scheme: light dark; --fg: #1d2125; --muted: #5f6b76; --line: #d6dbe0; --bg: #fff; --card: #f5f7f9;
  --in: #2f7ebc; --out: #e0782b; --bad: #b3261e; --ok: #1e7a3c; --warn: #8a6100; }
@media (prefers-color-scheme: dark) { :root { --fg: #e4e7ea; --muted: #9aa6b1; --line: #3a4148; --bg: #16191c; --card: #1f2327;
  --in: #5aa6e0; --out: #f0a060; --bad: #ff8a80; --ok: #7fd49a; --warn: #e8c063; } }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1100px; padding: 24px; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
h1 { font-size: 1.5em; margin: 0 0 .4em; } h2 { font-size: 1.2em; margin: 1.8em 0 .6em; border-bottom: 1px solid var(--line); padding-bottom: .2em; }
h3 { font-size: 1.05em; margin: 1.2em 0 .3em; }
.verdict { font-size: 1.1em; font-weight: 600; padding: .6em .9em; background: var(--card); border-left: 4px solid var(--bad); }
.muted, .legend { color: var(--muted); font-size: .9em; }
table { border-collapse: collapse; width: 100%; margin: .4em 0; font-size: .93em; }
th, td { border-bottom: 1px solid var(--line); padding: .3em .55em; text-align: left; vertical-align: top; }
th { font-weight: 600; color: var(--muted); } td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.ips { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .88em; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 0 .45em; border-radius: 3px; font-size: .85em; border: 1px solid var(--line); white-space: nowrap; }
.conf-exact { color: var(--ok); } .conf-shared-ip, .conf-ip-only { color: var(--warn); } .conf-log-counters { color: var(--in); }
.finding-normal-use { color: var(--muted); } .finding { color: var(--bad); }
pre { background: var(--card); padding: .6em .8em; overflow-x: auto; font-size: .85em; line-height: 1.4; white-space: pre-wrap; overflow-wrap: anywhere; }
pre .where { color: var(--muted); }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
svg { width: 100%; height: auto; max-width: 900px; display: block; }
svg text { fill: var(--muted); font: 11px system-ui, sans-serif; }
svg .axis { stroke: var(--muted); stroke-width: 1; } svg .grid { stroke: var(--line); stroke-width: 1; }
svg .in { fill: var(--in); } svg .out { fill: var(--out); }
svg .u0 { fill: #2f7ebc; } svg .u1 { fill: #e0782b; } svg .u2 { fill: #3b9a5a; } svg .u3 { fill: #9b59b6; } svg .u4 { fill: #c0a020; } svg .uo { fill: var(--line); }
details summary { cursor: pointer; color: var(--muted); }
footer { margin-top: 3em; color: var(--muted); font-size: .85em; }
`;

/** `usage`: the daily roll-ups of the month before the window (report --html), drawn as a month view. */
export function renderHtml(inv: Investigation, opts: { usage?: UsageReport | null } = {}): string {
  const top = inv.suspects[0] ?? null;
  const all = inv.totals.bytesIn + inv.totals.bytesOut;
  const title = `Bandwidth incident ${windowLabel(inv.window)}: ${top ? suspectName(top) : 'no suspect'}`;
  const b: string[] = [];

  b.push(`<header><h1>${h(title)}</h1>`, `<p class="verdict">${h(inv.verdict)}</p>`);
  const packets = inv.totals.packetsIn + inv.totals.packetsOut;
  const summary = [
    `Between ${dateTime(inv.window.from)} and ${dateTime(inv.window.to)} UTC (${duration(windowMs(inv.window))}) the server received`,
    `${formatBytes(inv.totals.bytesIn)} and sent ${formatBytes(inv.totals.bytesOut)} (<strong>${formatBytes(all)}</strong>${packets ? `, ${plural(packets, 'packet')}` : ''}),`,
    inv.flowSource === 'none' ? 'and no flow data covers the window.' : `measured from ${h(FLOW_SOURCE_LABEL[inv.flowSource] ?? inv.flowSource)}.`,
  ];
  if (all > 0) summary.push(`${h(attributionLine(inv))}.`);
  if (inv.baseline) summary.push(`That is <strong>${h(baselineLine(inv.baseline))}</strong>.`);
  b.push(`<p>${summary.join(' ')}</p>`);
  const closure = closureLines(inv);
  if (closure.length) b.push(`<p><strong>Explained:</strong></p><ul class="closure">${closure.map((l) => `<li>${h(l)}</li>`).join('')}</ul>`);
  if (inv.missingEvidence) b.push(`<p class="legend">${h(inv.missingEvidence)}</p>`);
  b.push('</header>');

  b.push('<section id="suspects"><h2>Suspects</h2>');
  if (!inv.suspects.length) {
    b.push('<p>None: no account or known cause stands out in this window.</p>');
  } else {
    // A server column only for a fleet: one server's page is as it was.
    const fleet = isFleet(inv);
    b.push(`<table><thead><tr><th class="num">#</th>${fleet ? '<th>Server</th>' : ''}<th>Account</th><th>Service</th><th>IPs</th><th class="num">In</th><th class="num">Out</th><th class="num">Share</th><th>Confidence</th><th>Finding</th><th class="num">Sessions</th></tr></thead><tbody>`);
    inv.suspects.forEach((s, i) => {
      b.push(`<tr><td class="num">${i + 1}</td>${fleet ? `<td>${h(s.server ?? '')}</td>` : ''}<td>${s.account === null ? '<em class="muted">(no account)</em>' : `<strong>${h(s.account)}</strong>`}</td>`
        + `<td>${h(SERVICE_LABEL[s.service] ?? s.service)}</td><td class="ips">${s.ips.length ? s.ips.map(h).join('<br>') : '–'}</td>`
        + `<td class="num">${formatBytes(s.bytesIn)}</td><td class="num">${formatBytes(s.bytesOut)}</td><td class="num">${percent(s.share)}</td>`
        + `<td><span class="badge conf-${h(s.confidence)}" title="${h(CONFIDENCE_TEXT[s.confidence] ?? '')}">${h(s.confidence)}${s.split ? ' (split)' : ''}</span></td>`
        + `<td class="${s.finding === 'normal-use' ? 'finding-normal-use' : 'finding'}">${h(s.finding)}</td><td class="num">${s.sessions}</td></tr>`);
    });
    b.push('</tbody></table>');
    const used = [...new Set(inv.suspects.map((s) => s.confidence))] as Confidence[];
    b.push(`<p class="legend">Confidence: ${used.map((c) => `<em>${h(c)}</em>: ${h(CONFIDENCE_TEXT[c] ?? c)}`).join('; ')}. Share: ${h(shareBasisLine(inv))}.</p>`);
    const est = inv.suspects.filter((s) => s.estimated && s.estimated.bytesIn + s.estimated.bytesOut > 0);
    if (est.length) b.push(`<p class="legend">${est.map((s) => `${h(suspectName(s))}: ${formatBytes(s.estimated.bytesIn + s.estimated.bytesOut)} estimated (${h(s.estimated.methods.join('; '))}).`).join(' ')}</p>`);
    for (const s of inv.suspects.filter((x) => x.doubleCountedBytes > 0)) {
      b.push(`<p class="legend">${h(suspectName(s))}: ${formatBytes(s.doubleCountedBytes)} was seen a second time on the wire (forwarded VPN traffic) and is counted once.</p>`);
    }
  }
  b.push('</section>');

  const tl = timelineSummary(inv);
  b.push(`<section id="timeline"><h2>Traffic over time</h2>`);
  if (tl.peak) b.push(`<p>Peak <strong>${formatBytes(tl.peak.total)}</strong> at ${h(axisTime(tl.peak.t, inv.window))}–${h(axisTime(tl.peak.end, inv.window))} UTC${tl.peak.top ? ` (mostly ${h(tl.peak.top)})` : ''}.</p>`);
  b.push(chart(inv, tl));
  if (tl.buckets.length && tl.max > 0) {
    b.push(`<details><summary>${tl.buckets.length} ${h(bucketLabel(inv.timeline.bucketSeconds))} buckets</summary><table><thead><tr><th>Time (UTC)</th><th class="num">In</th><th class="num">Out</th><th class="num">Total</th><th>Top</th></tr></thead><tbody>`);
    for (const k of tl.buckets) {
      b.push(`<tr><td>${h(axisTime(k.t, inv.window))}</td><td class="num">${formatBytes(k.bytesIn)}</td><td class="num">${formatBytes(k.bytesOut)}</td><td class="num">${formatBytes(k.total)}</td><td>${k.top ? h(k.top) : '–'}</td></tr>`);
    }
    b.push('</tbody></table></details>');
  }
  b.push('</section>');

  if (inv.findings.length) {
    b.push('<section id="findings"><h2>Findings</h2>');
    inv.findings.forEach((f, i) => {
      b.push(`<article><h3>${i + 1}. ${h(FINDING_TITLE[f.kind] ?? f.kind)}: ${h(f.subject)}</h3><p>${h(f.summary)}</p>`);
      if (f.evidence.facts.length) b.push(`<ul>${f.evidence.facts.map((x) => `<li>${h(x)}</li>`).join('')}</ul>`);
      if (f.evidence.lines.length) {
        b.push(`<pre><code>${f.evidence.lines.map((l) => `<span class="where" title="${h(l.ts)}">${h(l.where)}</span>  ${h(evidenceText(l))}`).join('\n')}</code></pre>`);
      }
      b.push('</article>');
    });
    b.push('</section>');
  }

  const un = inv.unattributed.filter((u) => u.bytes > 0);
  if (un.length) {
    b.push('<section id="unattributed"><h2>Unattributed traffic</h2>');
    b.push(`<p>${formatBytes(inv.totals.unattributedBytes)}${all > 0 ? ` (${percent(inv.totals.unattributedBytes / all)})` : ''} matched no account.</p>`);
    b.push('<table><thead><tr><th>Reason</th><th class="num">Bytes</th><th class="num">In</th><th class="num">Out</th><th>Top remotes</th></tr></thead><tbody>');
    for (const u of un) {
      b.push(`<tr><td>${h(u.reason)}</td><td class="num">${formatBytes(u.bytes)}</td><td class="num">${formatBytes(u.bytesIn)}</td><td class="num">${formatBytes(u.bytesOut)}</td>`
        + `<td class="ips">${u.topRemotes.map((r) => `${h(remoteLabel(r))} (${formatBytes(r.bytes)})`).join('<br>') || '–'}</td></tr>`);
    }
    b.push('</tbody></table></section>');
  }

  if (inv.notes.length) b.push(`<section id="notes"><h2>Notes</h2><ul>${inv.notes.map((n) => `<li>${h(n)}</li>`).join('')}</ul></section>`);

  if (inv.interfaceTotals && inv.interfaceTotals.length) {
    b.push('<section id="interfaces"><h2>Interface totals (vnstat)</h2><table><thead><tr><th>Interface</th><th class="num">RX (received)</th><th class="num">TX (sent)</th></tr></thead><tbody>');
    for (const i of inv.interfaceTotals) b.push(`<tr><td>${h(i.iface)}</td><td class="num">${formatBytes(i.rx)}</td><td class="num">${formatBytes(i.tx)}</td></tr>`);
    b.push('</tbody></table></section>');
  }

  b.push('<section id="action"><h2>Recommended action</h2>');
  const t = inv.throttle;
  if (!t) {
    b.push('<p>No throttle is proposed: no single client stands out.</p>');
  } else {
    const dir = t.direction === 'out' ? 'downloads' : t.direction === 'in' ? 'uploads' : 'both directions';
    b.push(`<p>Throttle <strong>${h(t.target)}</strong> to ${h(t.rate)} (${dir}${t.ports.length ? `, ports ${t.ports.join(', ')}` : ''}) rather than block: ${h(t.reason)}.</p>`);
    b.push(`<pre><code>${h(t.command)}</code></pre>`);
    b.push('<p class="muted">The command prints a shaping script and changes nothing by itself: review it, then run it as root (or add <code>--apply</code>). The same command with <code>--undo</code> removes it.</p>');
  }
  if (top) b.push(`<ul>${blockAdvice(top.finding, t ? t.ips : top.ips).map((a) => `<li>${prose(a)}</li>`).join('')}</ul>`);
  b.push('</section>');
  const month = opts.usage ? monthSection(opts.usage) : null;
  if (month) b.push(month);
  b.push(`<footer>bytetrail incident report for ${h(windowLabel(inv.window))}. Bytes are wire bytes in decimal units, seen from the server: in = received, out = sent.</footer>`);

  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${h(title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    ...b,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

/** 1, 2, 2.5 or 5 times a power of ten, at least `x`. */
function niceStep(x: number): number {
  if (x <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

const f1 = (x: number): string => String(Math.round(x * 10) / 10);

/** Stacked bars per bucket (out below, in above), with byte and time axes. */
function chart(inv: Investigation, tl: TimelineSummary): string {
  const W = 760, H = 260, ml = 72, mr = 16, mt = 16, mb = 44;
  const pw = W - ml - mr, ph = H - mt - mb;
  const n = Math.max(1, tl.buckets.length);
  const step = niceStep(tl.max / 4);
  const ticks = tl.max > 0 ? Math.max(1, Math.ceil(tl.max / step)) : 0;
  const ymax = Math.max(1, step * ticks);
  const y = (v: number) => mt + ph - (v / ymax) * ph;
  const bw = pw / n;
  const o: string[] = [];
  const label = `Bytes per ${bucketLabel(inv.timeline.bucketSeconds)} bucket from ${dateTime(inv.window.from)} to ${dateTime(inv.window.to)} UTC; peak ${tl.peak ? formatBytes(tl.peak.total) : '0 B'}`;
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(label)}">`);
  for (let i = 0; i <= ticks; i++) {
    const v = i * step, yy = f1(y(v));
    o.push(`<line class="grid" x1="${ml}" x2="${W - mr}" y1="${yy}" y2="${yy}"/><text x="${ml - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${formatBytes(v)}</text>`);
  }
  const stepMs = inv.timeline.bucketSeconds * 1000;
  tl.buckets.forEach((k, i) => {
    const x = f1(ml + i * bw + bw * 0.1), w = f1(Math.max(0.5, bw * 0.8));
    const outTop = y(k.bytesOut), inTop = y(k.bytesOut + k.bytesIn);
    const tip = `${axisTime(k.t, inv.window)}–${axisTime(bucketEnd(k.t, stepMs, inv.window.to), inv.window)}: in ${formatBytes(k.bytesIn)}, out ${formatBytes(k.bytesOut)}${k.top ? `, mostly ${k.top}` : ''}`;
    o.push(`<g><title>${h(tip)}</title>`
      + (k.bytesOut > 0 ? `<rect class="out" x="${x}" y="${f1(outTop)}" width="${w}" height="${f1(mt + ph - outTop)}"/>` : '')
      + (k.bytesIn > 0 ? `<rect class="in" x="${x}" y="${f1(inTop)}" width="${w}" height="${f1(outTop - inTop)}"/>` : '')
      + '</g>');
  });
  o.push(`<line class="axis" x1="${ml}" x2="${W - mr}" y1="${mt + ph}" y2="${mt + ph}"/><line class="axis" x1="${ml}" x2="${ml}" y1="${mt}" y2="${mt + ph}"/>`);
  // Time labels: at most 7, on bucket boundaries, and the end of the window.
  const every = Math.max(1, Math.ceil(n / 6));
  for (let i = 0; i < tl.buckets.length; i += every) {
    if (i > 0 && n - i < every / 2) break;
    const x = f1(ml + i * bw);
    o.push(`<line class="axis" x1="${x}" x2="${x}" y1="${mt + ph}" y2="${mt + ph + 4}"/><text x="${x}" y="${mt + ph + 16}" text-anchor="middle">${h(axisTime(tl.buckets[i].t, inv.window))}</text>`);
  }
  o.push(`<text x="${W - mr}" y="${mt + ph + 16}" text-anchor="end">${h(axisTime(inv.window.to, inv.window))}</text>`);
  o.push(`<text x="${ml + pw / 2}" y="${H - 6}" text-anchor="middle">time (UTC)</text>`);
  o.push(`<text transform="translate(12 ${mt + ph / 2}) rotate(-90)" text-anchor="middle">bytes per ${h(bucketLabel(inv.timeline.bucketSeconds))} bucket</text>`);
  o.push(`<rect class="out" x="${W - mr - 200}" y="2" width="10" height="10"/><text x="${W - mr - 186}" y="11">out (sent)</text>`);
  o.push(`<rect class="in" x="${W - mr - 110}" y="2" width="10" height="10"/><text x="${W - mr - 96}" y="11">in (received)</text>`);
  if (tl.max <= 0) o.push(`<text x="${ml + pw / 2}" y="${mt + ph / 2}" text-anchor="middle">no traffic in this window</text>`);
  o.push('</svg>');
  return o.join('\n');
}

/** The accounts drawn by name in the month view; the rest share one colour. */
const MONTH_TOP = 5;

/**
 * The month before the incident from the usage roll-ups: one bar per day, stacked by the month's
 * top accounts (bytes in + out), the other accounts together on top. Null without rolled-up days.
 */
export function monthSection(u: UsageReport): string | null {
  const days = u.periods;
  if (!days.some((d) => d.rows.length || d.others)) return null;
  const totals = new Map<string, number>();
  for (const d of days) for (const l of d.rows) totals.set(l.key, (totals.get(l.key) ?? 0) + l.bytesIn + l.bytesOut);
  const top = [...totals.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).slice(0, MONTH_TOP).map(([k]) => k);
  const stacks = days.map((d) => {
    const parts = top.map((k) => { const l = d.rows.find((x) => x.key === k); return l ? l.bytesIn + l.bytesOut : 0; });
    const rest = d.rows.filter((l) => !top.includes(l.key)).reduce((a, l) => a + l.bytesIn + l.bytesOut, 0) + (d.others ? d.others.bytesIn + d.others.bytesOut : 0);
    return { d, parts: [...parts, rest] };
  });
  const max = Math.max(0, ...stacks.map((s) => s.parts.reduce((a, v) => a + v, 0)));
  const W = 760, H = 240, ml = 72, mr = 16, mt = 34, mb = 36;
  const pw = W - ml - mr, ph = H - mt - mb;
  const step = niceStep(max / 4);
  const ticks = max > 0 ? Math.max(1, Math.ceil(max / step)) : 0;
  const ymax = Math.max(1, step * ticks);
  const y = (v: number) => mt + ph - (v / ymax) * ph;
  const bw = pw / Math.max(1, days.length);
  const names = [...top, 'other accounts'];
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${W} ${H}" role="img" aria-label="${h(`Bytes per day per account from ${days[0].label} to ${days[days.length - 1].label}`)}">`);
  for (let i = 0; i <= ticks; i++) {
    const yy = f1(y(i * step));
    o.push(`<line class="grid" x1="${ml}" x2="${W - mr}" y1="${yy}" y2="${yy}"/><text x="${ml - 6}" y="${yy}" text-anchor="end" dominant-baseline="middle">${formatBytes(i * step)}</text>`);
  }
  stacks.forEach(({ d, parts }, i) => {
    const x = f1(ml + i * bw + bw * 0.1), w = f1(Math.max(0.5, bw * 0.8));
    let base = 0;
    const segs: string[] = [];
    parts.forEach((v, k) => {
      if (v <= 0) return;
      const top0 = y(base + v), bottom = y(base);
      segs.push(`<rect class="${k < top.length ? `u${k}` : 'uo'}" x="${x}" y="${f1(top0)}" width="${w}" height="${f1(bottom - top0)}"><title>${h(`${d.label}: ${names[k]} ${formatBytes(v)}`)}</title></rect>`);
      base += v;
    });
    o.push(`<g>${segs.join('')}</g>`);
  });
  o.push(`<line class="axis" x1="${ml}" x2="${W - mr}" y1="${mt + ph}" y2="${mt + ph}"/><line class="axis" x1="${ml}" x2="${ml}" y1="${mt}" y2="${mt + ph}"/>`);
  const every = Math.max(1, Math.ceil(days.length / 6));
  for (let i = 0; i < days.length; i += every) o.push(`<text x="${f1(ml + i * bw + bw / 2)}" y="${mt + ph + 16}" text-anchor="middle">${h(days[i].label.slice(5))}</text>`);
  names.forEach((n, k) => {
    const lx = ml + k * (pw / names.length);
    o.push(`<rect class="${k < top.length ? `u${k}` : 'uo'}" x="${f1(lx)}" y="6" width="10" height="10"/><text x="${f1(lx + 14)}" y="15">${h(truncate(n, 22))}</text>`);
  });
  o.push('</svg>');
  return `<section id="month"><h2>The month before: traffic per account and day</h2>\n${o.join('\n')}\n<p class="legend">${h(`Bytes in + out per day (${u.tz}) from the hourly usage roll-ups (bytetrail usage), the top ${top.length} accounts of the ${days.length} days by name.`)}</p></section>`;
}
