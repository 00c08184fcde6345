/**
 * `bytetrail usage` as a terminal table (one block per period, as `vnstat -d` prints days) and as
 * CSV for billing spreadsheets. Pure functions of the report.
 */
import type { ConfidenceMix, UsageLine, UsageReport } from '../usage/report.js';
import { clean, formatBytes, percent, textTable, wrap } from './format.js';

const MIX_LABEL: Record<keyof ConfidenceMix, string> = { exact: 'exact', sharedIp: 'shared-ip', ipOnly: 'ip-only', logCounters: 'log counters', estimated: 'estimated' };
const BY_TITLE = { account: 'account', service: 'service', server: 'server' } as const;

/** `exact 97%, estimated 3%`: how a row's bytes are known, the larger parts first. */
export function mixText(m: ConfidenceMix): string {
  const total = Object.values(m).reduce((a, v) => a + v, 0);
  if (total <= 0) return '';
  return (Object.keys(MIX_LABEL) as Array<keyof ConfidenceMix>).filter((k) => m[k] > 0).sort((a, b) => m[b] - m[a])
    .map((k) => `${MIX_LABEL[k]} ${percent(m[k] / total)}`).join(', ');
}

function servicesText(l: UsageLine): string {
  if (l.services.length <= 1) return l.services[0]?.service ?? '';
  const total = l.bytesIn + l.bytesOut || 1;
  return l.services.map((s) => `${s.service} ${percent((s.bytesIn + s.bytesOut) / total)}`).join(', ');
}

export function renderUsageText(r: UsageReport, width = 100): string {
  const out: string[] = [];
  const what = r.over ? `${BY_TITLE[r.by][0].toUpperCase()}${BY_TITLE[r.by].slice(1)}s over ${r.over.text}` : `Traffic per ${BY_TITLE[r.by]} and ${r.period}`;
  out.push(`${what}, ${r.window.from.slice(0, 16).replace('T', ' ')} – ${r.window.to.slice(0, 16).replace('T', ' ')} UTC (periods in ${r.tz})${r.account ? `, account ${clean(r.account)}` : ''}`);
  if (r.rolledUp.pending) out.push(...wrap(`${r.rolledUp.pending} closed hour(s) are not rolled up yet and this user cannot write the database: the figures leave them out (run bytetrail usage as the database's owner, or keep bytetrail watch running)`, width));
  const shown = r.periods.filter((p) => p.hours > 0 && (!r.over || p.rows.length));
  if (!shown.length) {
    out.push('');
    out.push(r.over ? `No ${BY_TITLE[r.by]} above ${r.over.text} in this window.` : r.rolledUp.hours ? 'No rolled-up traffic in this window.' : 'Nothing rolled up yet: the database holds no closed hour of traffic (bytetrail ingest, or bytetrail watch).');
    return out.join('\n');
  }
  const rows: string[][] = [];
  const cut: number[] = [];
  for (const p of shown) {
    if (rows.length) cut.push(rows.length);
    const label = `${p.label}${p.hours < expectedHours(r.period, p.start, p.end) ? ` (${p.hours}h)` : ''}`;
    let first = true;
    const add = (key: string, i: number, o: number, share: string, how: string, svc: string) => {
      const bytes = key === '(no traffic)' ? ['', '', ''] : [formatBytes(Math.round(i)), formatBytes(Math.round(o)), formatBytes(Math.round(i + o))];
      rows.push([first ? label : '', key, ...bytes, share, ...(r.by === 'account' ? [svc] : []), how]);
      first = false;
    };
    for (const l of p.rows) add(clean(l.key), l.bytesIn, l.bytesOut, percent(l.share), mixText(l.confidence), r.by === 'account' ? servicesText(l) : '');
    if (p.others) add(`… ${p.others.count} more`, p.others.bytesIn, p.others.bytesOut, percent(p.shareBasis.bytes ? (p.others.bytesIn + p.others.bytesOut) / p.shareBasis.bytes : 0), '', '');
    const un = p.unattributed.reduce((a, u) => ({ i: a.i + u.bytesIn, o: a.o + u.bytesOut }), { i: 0, o: 0 });
    const reasons = p.unattributed.slice(0, 3).map((u) => clean(u.reason)).join(', ') + (p.unattributed.length > 3 ? ', …' : '');
    if (un.i + un.o > 0) add(`(no account: ${reasons})`, un.i, un.o, percent(p.shareBasis.bytes ? (un.i + un.o) / p.shareBasis.bytes : 0), '', '');
    if (first) add('(no traffic)', 0, 0, '', '', '');
    const main = p.interfaces.find((x) => x.iface === p.shareBasis.iface);
    if (main) add(`${clean(main.iface)} (vnstat)`, main.rx, main.tx, '100%', main.hours < p.hours ? `${main.hours} of ${p.hours}h` : '', '');
  }
  const table = textTable(
    [{ title: r.period }, { title: BY_TITLE[r.by], shrink: true, min: 12 }, { title: 'in', align: 'right' }, { title: 'out', align: 'right' }, { title: 'total', align: 'right' },
      { title: 'share', align: 'right' }, ...(r.by === 'account' ? [{ title: 'services', shrink: true, min: 6 }] : []), { title: 'how known', shrink: true, min: 10 }],
    rows, { width },
  );
  out.push('');
  // A blank line between periods, as vnstat separates its blocks.
  table.forEach((line, i) => { if (cut.includes(i - 1)) out.push(''); out.push(line.trimEnd()); });
  const bases = [...new Set(shown.map((p) => p.shareBasis.label))];
  out.push('');
  out.push(...wrap(`Shares are of ${bases.join('; ')}. In and out are from the server's point of view (out = sent to the client); each account counts its VPN traffic once.`, width));
  return out.join('\n');
}

function expectedHours(period: UsageReport['period'], start: string, end: string): number {
  return period === 'hour' ? 1 : Math.round((Date.parse(end) - Date.parse(start)) / 3_600_000);
}

/** RFC 4180: quoted when it holds a comma, quote or line break; a leading = + - @ is defused for spreadsheets. */
function csvCell(v: string | number): string {
  let s = typeof v === 'number' ? String(v) : clean(v);
  if (typeof v === 'string' && /^[=+\-@]/.test(s)) s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/**
 * One line per period and row (an account, service or server: what a bill is made of), then the
 * rows beyond --top as `(others)` and the unattributed traffic as `(no account: REASON)`. Bytes
 * are whole numbers, in + out from the server's side; `share` is a fraction of `share_basis`.
 */
export function renderUsageCsv(r: UsageReport): string {
  const head = ['period_start', 'period_end', r.by, 'bytes_in', 'bytes_out', 'bytes_total', 'share', 'share_basis', 'exact', 'shared_ip', 'ip_only', 'log_counters', 'estimated'];
  const lines = [head.join(',')];
  const round = (x: number) => Math.round(x);
  for (const p of r.periods) {
    const basis = p.shareBasis.iface ? `${p.shareBasis.iface} (vnstat)` : 'evidence';
    const share = (b: number) => (p.shareBasis.bytes > 0 ? (b / p.shareBasis.bytes).toFixed(6) : '0');
    const line = (key: string, i: number, o: number, mix: ConfidenceMix | null) => lines.push([
      p.start, p.end, key, round(i), round(o), round(i + o), share(i + o), basis,
      ...(mix ? [mix.exact, mix.sharedIp, mix.ipOnly, mix.logCounters, mix.estimated].map(round) : ['', '', '', '', '']),
    ].map(csvCell).join(','));
    for (const l of p.rows) line(l.key, l.bytesIn, l.bytesOut, l.confidence);
    if (p.others) line('(others)', p.others.bytesIn, p.others.bytesOut, null);
    for (const u of p.unattributed) line(`(no account: ${u.reason})`, u.bytesIn, u.bytesOut, null);
  }
  return lines.join('\n') + '\n';
}
