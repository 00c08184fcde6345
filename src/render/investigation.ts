/**
 * The terminal report of `bytetrail investigate`: a pure function of one Investigation.
 * Everything that comes from the data passes through `clean`, so a log line cannot move the
 * cursor or recolour the screen.
 */
import { evidenceText, type Confidence, type Investigation, type Suspect } from '../correlate/types.js';
import {
  SERVICE_LABEL, attributionLine, displayWidth, axisTime, baselineLine, bucketLabel, clean, closureLines, dateTime, duration, shareBasisLine, shortenLine,
  flowSourcePhrase, formatBytes, ipList, isFleet, pad, personLine, percent, plural, remoteLabel, sparkline, suspectName, textTable, type TextColumn, timelineSummary, totalsLine,
  truncate, windowLabel, windowMs, wrap,
} from './format.js';

export interface TextOptions {
  color: boolean;
  /** Screen columns; lines from the data are cut to fit. */
  width: number;
}

const EVIDENCE_LINES = 3;

type Paint = (s: string) => string;

function palette(on: boolean) {
  const sgr = (open: string): Paint => (on ? (s) => (s ? `\x1b[${open}m${s}\x1b[0m` : s) : (s) => s);
  return { bold: sgr('1'), dim: sgr('2'), red: sgr('31'), green: sgr('32'), yellow: sgr('33'), cyan: sgr('36'), heading: sgr('1;4') };
}

export function renderInvestigationText(inv: Investigation, opts: TextOptions): string {
  const width = Math.max(40, Math.floor(opts.width) || 80);
  const p = palette(opts.color);
  const out: string[] = [];
  const section = (title: string) => { out.push('', p.heading(title)); };

  out.push(...wrap(clean(inv.verdict), width).map(p.bold), '');

  const field = (k: string, v: string) => out.push(...wrap(v, width, ' '.repeat(10), pad(k, 10)));
  field('Window', `${windowLabel(inv.window)} (${duration(windowMs(inv.window))}), ${flowSourcePhrase(inv.flowSource)}`);
  closureLines(inv).forEach((l, i) => field(i === 0 ? 'Explained' : '', clean(l)));
  const packets = inv.totals.packetsIn + inv.totals.packetsOut;
  field('Traffic', `${totalsLine(inv)}${packets ? `; ${plural(packets, 'packet')}` : ''}`);
  if (inv.totals.bytesIn + inv.totals.bytesOut > 0) field('', attributionLine(inv));
  if (inv.baseline) field('Baseline', baselineLine(inv.baseline));
  if (inv.missingEvidence) { out.push(''); out.push(...wrap(clean(inv.missingEvidence), width, '  ', '  ').map(p.dim)); }

  section('Suspects');
  if (!inv.suspects.length) out.push('  none: no account or known cause stands out');
  else out.push(...suspectsTable(inv, width, p));

  if (inv.fleet?.people.length) {
    section('Accounts on several servers');
    for (const person of inv.fleet.people) out.push(...wrap(clean(personLine(person)), width, '    ', '  '));
  }

  if (inv.findings.length) {
    section('Findings');
    for (const f of inv.findings) {
      const [head, ...rest] = wrap(clean(f.server === undefined ? f.subject : `${f.subject} on ${f.server}`), width, '    ', ' '.repeat(4 + f.kind.length));
      out.push(`  ${p.red(f.kind)}  ${p.bold(head.trimStart())}`, ...rest.map(p.bold));
      out.push(...wrap(clean(f.summary), width, '    '));
      for (const fact of f.evidence.facts) out.push(...wrap(clean(fact), width, '      ', '    - '));
      for (const l of f.evidence.lines.slice(0, EVIDENCE_LINES)) {
        const where = shortWhere(clean(l.where));
        out.push(`    ${p.dim(where)}  ${shortenLine(clean(evidenceText(l)), width - 6 - displayWidth(where))}`);
      }
      if (f.evidence.lines.length > EVIDENCE_LINES) out.push(p.dim(`    (${plural(f.evidence.lines.length - EVIDENCE_LINES, 'more line')} in the Markdown and JSON reports)`));
    }
  }

  const unattributed = inv.unattributed.filter((u) => u.bytes > 0);
  if (unattributed.length) {
    const all = inv.totals.bytesIn + inv.totals.bytesOut;
    section(`Unattributed: ${formatBytes(inv.totals.unattributedBytes)}${all > 0 ? ` (${percent(inv.totals.unattributedBytes / all)})` : ''}`);
    out.push(...textTable(
      [...(isFleet(inv) ? [{ title: 'server', shrink: true, min: 6 }] : []), { title: 'reason', shrink: true, min: 10 }, { title: 'bytes', align: 'right' }, { title: 'in', align: 'right' }, { title: 'out', align: 'right' }, { title: 'top remotes', shrink: true, min: 12 }],
      unattributed.map((u) => [...(isFleet(inv) ? [clean(u.server ?? '')] : []), clean(u.reason), formatBytes(u.bytes), formatBytes(u.bytesIn), formatBytes(u.bytesOut),
        u.topRemotes.slice(0, 3).map((r) => `${remoteLabel(r)} ${formatBytes(r.bytes)}`).join(', ') || '–']),
      { width, indent: '  ', paintHeader: p.dim },
    ));
  }

  section(`Timeline (${bucketLabel(inv.timeline.bucketSeconds)} buckets, in + out, UTC)`);
  out.push(...timeline(inv, width, p));

  if (inv.notes.length) {
    section('Notes');
    for (const n of inv.notes) out.push(...wrap(clean(n), width, '    ', '  - '));
  }

  if (inv.interfaceTotals && inv.interfaceTotals.length) {
    section('Interface totals (vnstat; rx = received by the server)');
    out.push(...textTable(
      [...(isFleet(inv) ? [{ title: 'server', shrink: true }] : []), { title: 'iface', shrink: true }, { title: 'rx', align: 'right' }, { title: 'tx', align: 'right' }],
      inv.interfaceTotals.map((i) => [...(isFleet(inv) ? [clean(i.server ?? '')] : []), clean(i.iface), formatBytes(i.rx), formatBytes(i.tx)]),
      { width, indent: '  ', paintHeader: p.dim },
    ));
  }

  section('Proposed throttle');
  if (!inv.throttle) {
    out.push('  none: no single client to slow down');
  } else {
    // The command is never cut: it has to stay copyable.
    if (inv.throttle.server !== undefined) out.push(`  on ${clean(inv.throttle.server)}:`);
    out.push(`  ${p.bold(`$ ${clean(inv.throttle.command)}`)}`);
    out.push(...wrap(clean(inv.throttle.reason), width, '  '));
    out.push(...wrap('Nothing changes until you run it; it prints a script (--apply runs it as root, --undo removes it).', width, '  ').map(p.dim));
  }
  return out.join('\n');
}

function suspectsTable(inv: Investigation, width: number, p: ReturnType<typeof palette>): string[] {
  const suspects = inv.suspects;
  const conf: Record<Confidence, Paint> = { exact: p.green, 'shared-ip': p.yellow, 'ip-only': p.yellow, 'log-counters': p.cyan, estimated: p.yellow };
  const account = (s: Suspect) => (s.account === null ? '(no account)' : clean(s.account));
  // Wide screens get service and IPs as columns; narrow ones a line under each suspect.
  const fleet = isFleet(inv);
  const cols = (wide: boolean): TextColumn[] => [
    ...(fleet ? [{ title: 'server', shrink: true, min: 6 }] : []),
    { title: 'account', shrink: true, min: 10, paint: (t, r) => (suspects[r].account === null ? p.dim(t) : p.bold(t)) },
    ...(wide ? [{ title: 'service' }, { title: 'IPs', shrink: true, min: 15 }] : []),
    { title: 'in', align: 'right' },
    { title: 'out', align: 'right' },
    { title: 'share', align: 'right', paint: (t, r) => (suspects[r].share >= 0.5 ? p.bold(t) : t) },
    { title: 'confidence', paint: (t, r) => conf[suspects[r].confidence]?.(t) ?? t },
    { title: 'finding', shrink: true, min: 12, paint: (t, r) => (suspects[r].finding === 'normal-use' ? p.dim(t) : p.red(t)) },
  ];
  const service = (s: Suspect) => SERVICE_LABEL[s.service] ?? s.service;
  const rows = (wide: boolean) => suspects.map((s) => [
    ...(fleet ? [clean(s.server ?? '')] : []), account(s), ...(wide ? [service(s), clean(ipList(s.ips))] : []),
    formatBytes(s.bytesIn), formatBytes(s.bytesOut), percent(s.share), s.confidence + (s.split ? '*' : ''), s.finding,
  ]);
  const wideRows = rows(true);
  const fits = 2 + cols(true).reduce((a, c, i) => a + Math.max(displayWidth(c.title), ...wideRows.map((r) => displayWidth(r[i]))) + 2, -2) <= width;
  let lines: string[];
  if (fits) {
    lines = textTable(cols(true), wideRows, { width, indent: '  ', paintHeader: p.dim });
  } else {
    const table = textTable(cols(false), rows(false), { width, indent: '  ', paintHeader: p.dim });
    lines = [table[0]];
    suspects.forEach((s, i) => lines.push(table[i + 1], p.dim(truncate(`    ${service(s)}${s.ips.length ? ` from ${clean(ipList(s.ips))}` : ''}`, width))));
  }
  if (inv.shareBasis) lines.push(...wrap(shareBasisLine(inv), width, '    ', '  ').map(p.dim));
  for (const s of suspects.filter((x) => x.estimated && x.estimated.bytesIn + x.estimated.bytesOut > 0 && x.confidence !== 'estimated')) {
    lines.push(...wrap(`${clean(suspectName(s))}: ${formatBytes(s.estimated.bytesIn + s.estimated.bytesOut)} of it estimated (${clean(s.estimated.methods.join('; '))})`, width, '    ', '  ').map(p.dim));
  }
  if (suspects.some((s) => s.split)) lines.push(...wrap('* bytes split between accounts logged in on the same IP at the same time', width, '    ', '  ').map(p.dim));
  for (const s of suspects.filter((x) => x.doubleCountedBytes > 0)) {
    lines.push(...wrap(`${clean(suspectName(s))}: ${formatBytes(s.doubleCountedBytes)} seen a second time on the wire (forwarded VPN traffic), counted once`, width, '    ', '  ').map(p.dim));
  }
  return lines;
}

function timeline(inv: Investigation, width: number, p: ReturnType<typeof palette>): string[] {
  const t = timelineSummary(inv);
  if (!t.buckets.length || t.max <= 0) return [`  no traffic between ${dateTime(inv.window.from)} and ${dateTime(inv.window.to)}`];
  const spark = sparkline(t.buckets.map((b) => b.total), width - 4);
  const start = axisTime(inv.window.from, inv.window), end = axisTime(inv.window.to, inv.window);
  const axis = spark.length >= start.length + end.length + 2 ? start + ' '.repeat(spark.length - start.length - end.length) + end : `${start} … ${end}`;
  const lines = [`  ${p.cyan(spark)}`, `  ${p.dim(axis)}`];
  if (t.peak) {
    const who = t.peak.top ? ` (mostly ${clean(t.peak.top)})` : '';
    lines.push(...wrap(`peak ${formatBytes(t.peak.total)} at ${axisTime(t.peak.t, inv.window)}–${axisTime(t.peak.end, inv.window)}${who}; ${formatBytes(t.total)} in all`, width, '  ', '  '));
  }
  return lines;
}

/** `/var/log/mail.log:10412` stays; a long path keeps its file name and line: `…/logs/mail.log:39`. */
function shortWhere(where: string): string {
  if (where.length <= 32) return where;
  const slash = where.lastIndexOf('/');
  return slash > 0 ? `…${where.slice(slash)}` : truncate(where, 32);
}
