/**
 * A ticket-ready incident report in Markdown: a pure function of one Investigation.
 * Text from the data is escaped so that an account name or a log line cannot add markup, HTML
 * or table cells; log lines go into code blocks whose fence is longer than any run of backticks
 * inside them.
 */
import { evidenceText, type Confidence, type Investigation } from '../correlate/types.js';
import {
  CONFIDENCE_TEXT, FINDING_TITLE, FLOW_SOURCE_LABEL, SERVICE_LABEL, attributionLine, axisTime, baselineLine, blockAdvice,
  bucketLabel, clean, closureLines, dateTime, duration, formatBytes, isFleet, personLine, shareBasisLine, percent, plural, remoteLabel, sparkline, suspectName, timelineSummary,
  windowLabel, windowMs,
} from './format.js';

/**
 * Escape text from the data for Markdown prose and table cells: inline markup, table pipes and
 * HTML become literal, and so does a leading `#`, `-`, `+`, `>` or `1.` that would start a block.
 */
export function mdText(s: string): string {
  return clean(s)
    .replace(/[\\`*_[\]|~]/g, (c) => `\\${c}`)
    .replace(/^(\s*)(#{1,6}|[+-])(?=\s|$)/, '$1\\$2')
    .replace(/^(\s*\d{1,9})([.)])(?=\s|$)/, '$1\\$2')
    .replace(/[<>&]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;' })[c]!);
}

/** A fenced code block that no backtick run in `lines` can close early. */
export function codeBlock(lines: string[], lang = 'text'): string {
  const body = lines.map(clean);
  const longest = Math.max(0, ...body.map((l) => Math.max(0, ...(l.match(/`+/g) ?? []).map((r) => r.length))));
  const fence = '`'.repeat(Math.max(3, longest + 1));
  return [`${fence}${lang}`, ...body, fence].join('\n');
}

function table(head: string[], align: Array<'l' | 'r'>, rows: string[][]): string {
  const sep = align.map((a) => (a === 'r' ? '--:' : '---'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

export function renderMarkdown(inv: Investigation): string {
  const out: string[] = [];
  const top = inv.suspects[0] ?? null;
  const all = inv.totals.bytesIn + inv.totals.bytesOut;
  const fleet = isFleet(inv);
  // A server column only when several servers were investigated; one server's report is as it was.
  const srv = <T>(x: T[], server: () => T): T[] => (fleet ? [server(), ...x] : x);
  out.push(`# Bandwidth incident ${windowLabel(inv.window)}: ${top ? mdText(suspectName(top)) : 'no suspect'}`);

  out.push(`**Verdict:** ${mdText(inv.verdict)}`);
  const packets = inv.totals.packetsIn + inv.totals.packetsOut;
  const summary = [
    `Between ${dateTime(inv.window.from)} and ${dateTime(inv.window.to)} UTC (${duration(windowMs(inv.window))}) ${fleet ? `the ${inv.fleet!.servers.length} servers` : 'the server'} received`,
    `${formatBytes(inv.totals.bytesIn)} and sent ${formatBytes(inv.totals.bytesOut)} (**${formatBytes(all)}**${packets ? `, ${plural(packets, 'packet')}` : ''}),`,
    inv.flowSource === 'none' ? 'and no flow data covers the window.' : `measured from ${FLOW_SOURCE_LABEL[inv.flowSource] ?? mdText(inv.flowSource)}.`,
  ];
  if (all > 0) summary.push(`${attributionLine(inv)}.`);
  if (inv.baseline) summary.push(`That is ${baselineLine(inv.baseline)}.`);
  out.push(summary.join(' '));
  const closure = closureLines(inv);
  if (closure.length) out.push(`**Explained:**\n\n${closure.map((l) => `- ${mdText(l)}`).join('\n')}`);
  if (inv.missingEvidence) out.push(`*${mdText(inv.missingEvidence)}*`);

  out.push('## Suspects');
  if (!inv.suspects.length) {
    out.push('None: no account or known cause stands out in this window.');
  } else {
    out.push(table(
      ['#', ...srv(['Account', 'Service', 'IPs', 'In', 'Out', 'Share', 'Confidence', 'Finding', 'Sessions'], () => 'Server')],
      ['r', ...srv<'l' | 'r'>(['l', 'l', 'l', 'r', 'r', 'r', 'l', 'l', 'r'], () => 'l')],
      inv.suspects.map((s, i) => [
        String(i + 1), ...srv([], () => mdText(s.server ?? '')), s.account === null ? '*(no account)*' : mdText(s.account), SERVICE_LABEL[s.service] ?? mdText(s.service),
        s.ips.length ? s.ips.map(mdText).join(', ') : '–', formatBytes(s.bytesIn), formatBytes(s.bytesOut), percent(s.share),
        `${s.confidence}${s.split ? ' (split)' : ''}`, s.finding, String(s.sessions),
      ]),
    ));
    const used = [...new Set(inv.suspects.map((s) => s.confidence))] as Confidence[];
    out.push(`Confidence: ${used.map((c) => `*${c}*: ${CONFIDENCE_TEXT[c]}`).join('; ')}. Share: ${mdText(shareBasisLine(inv))}.`);
    const est = inv.suspects.filter((s) => s.estimated && s.estimated.bytesIn + s.estimated.bytesOut > 0);
    if (est.length) out.push(est.map((s) => `${mdText(suspectName(s))}: ${formatBytes(s.estimated.bytesIn + s.estimated.bytesOut)} estimated (${mdText(s.estimated.methods.join('; '))}).`).join(' '));
    const doubled = inv.suspects.filter((s) => s.doubleCountedBytes > 0);
    if (doubled.length) out.push(doubled.map((s) => `${mdText(suspectName(s))}: ${formatBytes(s.doubleCountedBytes)} was seen a second time on the wire (forwarded VPN traffic) and is counted once.`).join(' '));
  }

  if (inv.fleet?.people.length) {
    out.push('## Accounts on several servers');
    out.push(inv.fleet.people.map((p) => `- ${mdText(personLine(p))}`).join('\n'));
  }

  out.push('## Timeline');
  const tl = timelineSummary(inv);
  if (!tl.buckets.length || tl.max <= 0) {
    out.push(`No traffic in any ${bucketLabel(inv.timeline.bucketSeconds)} bucket of the window.`);
  } else {
    const spark = sparkline(tl.buckets.map((b) => b.total), 72);
    const start = axisTime(inv.window.from, inv.window), end = axisTime(inv.window.to, inv.window);
    const axis = spark.length >= start.length + end.length + 2 ? start + ' '.repeat(spark.length - start.length - end.length) + end : `${start} … ${end}`;
    out.push(`${bucketLabel(inv.timeline.bucketSeconds)} buckets, bytes in + out, UTC. Peak: **${formatBytes(tl.peak!.total)}** at ${axisTime(tl.peak!.t, inv.window)}–${axisTime(tl.peak!.end, inv.window)}${tl.peak!.top ? ` (mostly ${mdText(tl.peak!.top)})` : ''}.`);
    out.push(codeBlock([spark, axis]));
    out.push(table(['Time (UTC)', 'In', 'Out', 'Total', 'Top'], ['l', 'r', 'r', 'r', 'l'],
      tl.buckets.map((b) => [axisTime(b.t, inv.window), formatBytes(b.bytesIn), formatBytes(b.bytesOut), formatBytes(b.total), b.top ? mdText(b.top) : '–'])));
  }

  if (inv.findings.length) {
    out.push('## Findings');
    inv.findings.forEach((f, i) => {
      out.push(`### ${i + 1}. ${FINDING_TITLE[f.kind] ?? mdText(f.kind)}: ${mdText(f.subject)}${f.server === undefined ? '' : ` on ${mdText(f.server)}`}`);
      out.push(`${mdText(f.summary)}`);
      if (f.evidence.facts.length) out.push(f.evidence.facts.map((x) => `- ${mdText(x)}`).join('\n'));
      if (f.evidence.lines.length) out.push(codeBlock(f.evidence.lines.map((l) => `${l.where}  ${evidenceText(l)}`)));
    });
  }

  const un = inv.unattributed.filter((u) => u.bytes > 0);
  if (un.length) {
    out.push('## Unattributed traffic');
    out.push(`${formatBytes(inv.totals.unattributedBytes)}${all > 0 ? ` (${percent(inv.totals.unattributedBytes / all)})` : ''} matched no account.`);
    out.push(table(srv(['Reason', 'Bytes', 'In', 'Out', 'Top remotes'], () => 'Server'), srv<'l' | 'r'>(['l', 'r', 'r', 'r', 'l'], () => 'l'),
      un.map((u) => [...srv([], () => mdText(u.server ?? '')), mdText(u.reason), formatBytes(u.bytes), formatBytes(u.bytesIn), formatBytes(u.bytesOut),
        u.topRemotes.map((r) => `${mdText(remoteLabel(r))} (${formatBytes(r.bytes)})`).join(', ') || '–'])));
  }

  if (inv.notes.length) {
    out.push('## Notes');
    out.push(inv.notes.map((n) => `- ${mdText(n)}`).join('\n'));
  }

  if (inv.interfaceTotals && inv.interfaceTotals.length) {
    out.push('## Interface totals (vnstat)');
    out.push(table(srv(['Interface', 'RX (received)', 'TX (sent)'], () => 'Server'), srv<'l' | 'r'>(['l', 'r', 'r'], () => 'l'),
      inv.interfaceTotals.map((i) => [...srv([], () => mdText(i.server ?? '')), mdText(i.iface), formatBytes(i.rx), formatBytes(i.tx)])));
  }

  out.push('## Recommended action');
  const t = inv.throttle;
  if (!t) {
    out.push('No throttle is proposed: no single client stands out.');
  } else {
    out.push(`${t.server === undefined ? 'Throttle' : `On ${mdText(t.server)}, throttle`} ${mdText(t.target)} to ${mdText(t.rate)} (${t.direction === 'out' ? 'downloads' : t.direction === 'in' ? 'uploads' : 'both directions'}${t.ports.length ? `, ports ${t.ports.join(', ')}` : ''}) rather than block: ${mdText(t.reason)}.`);
    out.push(codeBlock([t.command], 'sh'));
    out.push('The command prints a shaping script and changes nothing by itself: review it, then run it as root (or add `--apply`). The same command with `--undo` removes it.');
  }
  const finding = top ? top.finding : null;
  if (top) out.push(blockAdvice(finding, t ? t.ips : top.ips, mdText).map((a) => `- ${a}`).join('\n'));

  return out.join('\n\n') + '\n';
}
