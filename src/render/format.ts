/**
 * Formatting shared by the investigation renderers (terminal, Markdown, HTML). Pure: no clock, no
 * zone (times are shown in UTC, as the result object holds them), no I/O.
 */
import type { Confidence, FindingKind, FleetPerson, FlowSourceName, Investigation, ServiceGroup, Suspect, TimelineBucket } from '../correlate/types.js';
import stringWidth from 'string-width';
import { escapeControls, formatBytes } from '../output.js';

export { formatBytes };

import { SERVICE_LABEL } from '../correlate/types.js';
export { SERVICE_LABEL };

export const FLOW_SOURCE_LABEL: Record<FlowSourceName, string> = {
  pcap: 'a packet capture (pcap)',
  capture: 'a live capture',
  conntrack: 'conntrack accounting',
  'openvpn-status': 'OpenVPN status counters',
  wireguard: 'WireGuard peer counters (wg show dump)',
  'log-counters': 'the logs: their own byte counters (Dovecot in=/out=, OpenVPN and WireGuard status) and estimates from them',
  none: 'no flow data',
};

/** `flows from a packet capture (pcap)`, or `no flow data`. */
export function flowSourcePhrase(src: FlowSourceName): string {
  return src === 'none' ? 'no flow data' : `flows from ${FLOW_SOURCE_LABEL[src] ?? src}`;
}

export const CONFIDENCE_TEXT: Record<Confidence, string> = {
  exact: 'a login or VPN session on that IP (and port) at that time',
  'shared-ip': 'split between several accounts logged in on the same IP at once',
  'ip-only': 'the IP only, without a session at that time',
  'log-counters': 'the logs\' own byte counters, not the wire',
  estimated: 'estimated from log evidence (message sizes, query logs, firewall LEN=), not measured',
};

export const FINDING_TITLE: Record<FindingKind, string> = {
  'imap-resync': 'Mailbox re-download loop',
  'webmail-refetch': 'Webmail re-download loop',
  'spam-relay': 'Spam relayed through an account',
  'vpn-heavy': 'Heavy VPN use',
  'dns-amplification': 'DNS amplification',
  scan: 'Port scan',
  bruteforce: 'Password guessing',
  unexplained: 'Unexplained traffic',
  'normal-use': 'Normal use',
};

/**
 * When a block is the better answer than a throttle, by what the top suspect is doing. The
 * advice is plain text with `code` spans; `esc` escapes the addresses from the data for the
 * caller's format.
 */
export function blockAdvice(kind: FindingKind | null, ips: string[], esc: (s: string) => string = (s) => s): string[] {
  const list = ips.length ? ips.slice(0, 5).map(esc).join(', ') + (ips.length > 5 ? ` and ${ips.length - 5} more` : '') : 'the source addresses';
  const common = 'Block instead of throttling when the traffic is not a customer\'s own use: a scan, password guessing, or an account that sends spam.';
  switch (kind) {
    case 'spam-relay':
      return ['The account is most likely compromised: disable it or reset its password first, then flush its mail from the queue (`postsuper -h` to hold it for review).', `Block ${list} at the firewall only if the submissions continue after the password change.`];
    case 'bruteforce':
    case 'scan':
      return [`No legitimate user is behind this traffic: block ${list} at the firewall rather than throttle it.`];
    case 'dns-amplification':
      return ['The resolver answers spoofed queries: restrict recursion to your own networks and enable response rate limiting (BIND `rate-limit`, unbound `ip-ratelimit`) rather than blocking the victims\' addresses.'];
    case 'imap-resync':
      return ['This is a customer\'s mail client in a loop: throttle while they fix or re-create the account in the client; a block would only make it retry harder.', common];
    case 'webmail-refetch':
      return ['This is a customer\'s browser tab or webmail plugin re-fetching the mailbox: throttle while they close it or clear the webmail\'s cache; a block would lock them out of their mail.', common];
    case 'vpn-heavy':
      return ['A VPN user is entitled to some traffic: throttle, and talk to them.', common];
    default:
      return [common];
  }
}

/**
 * Columns a string takes on a terminal: a CJK character or an emoji takes two, a combining
 * mark none. `.length` counts UTF-16 units, and tables with such names went out of line.
 */
export const displayWidth = (s: string): number => stringWidth(s);

export const pad = (s: string, n: number): string => s + ' '.repeat(Math.max(0, n - displayWidth(s)));
export const padStart = (s: string, n: number): string => ' '.repeat(Math.max(0, n - displayWidth(s))) + s;

const graphemes = new Intl.Segmenter('en', { granularity: 'grapheme' });

/** Cut to `n` terminal columns with an ellipsis, never inside a character or an emoji sequence. */
export function truncate(s: string, n: number): string {
  if (n <= 0) return '';
  if (displayWidth(s) <= n) return s;
  let out = '', w = 0;
  for (const { segment } of graphemes.segment(s)) {
    const sw = displayWidth(segment);
    if (w + sw > n - 1) break;
    out += segment;
    w += sw;
  }
  return out + '…';
}

/**
 * Text from the data (account names, log lines) made safe for a terminal or a one-line cell:
 * tabs and line breaks become spaces, and other control characters (which could move the cursor,
 * recolour the screen or reorder the text) become visible escapes (escapeControls).
 */
export function clean(s: string): string {
  return escapeControls(s.replace(/[\t\n\r]/g, ' '));
}

/** 0.81 → `81%`, 0.042 → `4.2%`, 0.0004 → `<0.1%`. */
export function percent(x: number): string {
  if (!Number.isFinite(x) || x <= 0) return '0%';
  const p = x * 100;
  if (p < 0.1) return '<0.1%';
  return p < 10 ? `${p.toFixed(1)}%` : `${Math.round(p)}%`;
}

export function ratio(x: number): string {
  return x >= 10 ? `${Math.round(x)}×` : `${x.toFixed(1)}×`;
}

/** 7_200_000 → `2h`, 5_400_000 → `1h 30m`, 172_800_000 → `2d`. */
export function duration(ms: number): string {
  const m = Math.round(ms / 60_000);
  if (m < 1) return `${Math.round(ms / 1000)}s`;
  const d = Math.floor(m / 1440), h = Math.floor((m % 1440) / 60), mm = m % 60;
  return [d ? `${d}d` : '', h ? `${h}h` : '', mm ? `${mm}m` : ''].filter(Boolean).join(' ');
}

/** Bucket size in words: 300 → `5-minute`, 3600 → `1-hour`. */
export function bucketLabel(seconds: number): string {
  if (seconds % 86_400 === 0) return `${seconds / 86_400}-day`;
  if (seconds % 3600 === 0) return `${seconds / 3600}-hour`;
  if (seconds % 60 === 0) return `${seconds / 60}-minute`;
  return `${seconds}-second`;
}

const ms = (iso: string): number => Date.parse(iso);

/** `2026-11-20 09:00` (UTC). */
export function dateTime(iso: string): string {
  const t = ms(iso);
  if (Number.isNaN(t)) return iso;
  return new Date(t).toISOString().slice(0, 16).replace('T', ' ');
}

/** `09:00` (UTC). */
export function clock(iso: string): string {
  const t = ms(iso);
  return Number.isNaN(t) ? iso : new Date(t).toISOString().slice(11, 16);
}

const sameDay = (a: string, b: string) => dateTime(a).slice(0, 10) === dateTime(b).slice(0, 10);

/** A window in words: `2026-11-20 09:00–11:00 UTC`, or both dates when it spans midnight. */
export function windowLabel(w: Investigation['window']): string {
  if (sameDay(w.from, w.to)) return `${dateTime(w.from)}–${clock(w.to)} UTC`;
  // A window that ends at the next midnight is still one day: 22:00–24:00.
  if (clock(w.to) === '00:00' && windowMs(w) <= 86_400_000 && clock(w.from) !== '00:00') return `${dateTime(w.from)}–24:00 UTC`;
  return `${dateTime(w.from)} – ${dateTime(w.to)} UTC`;
}

export function windowMs(w: Investigation['window']): number {
  return Math.max(0, ms(w.to) - ms(w.from));
}

/** Time label on a timeline axis: the clock when the window is within a day, else date and clock. */
export function axisTime(iso: string, w: Investigation['window']): string {
  return windowMs(w) <= 86_400_000 ? clock(iso) : dateTime(iso).slice(5);
}

/** Who a suspect is, for a title or a table: the account, else what and from where. */
export function suspectName(s: Suspect): string {
  const on = s.server === undefined ? '' : ` on ${s.server}`;
  if (s.account !== null) return `${s.account}${on}`;
  return `${s.finding} from ${ipList(s.ips, 2)}${on}`;
}

/** An account on several servers, for the renderers: `jan: 1.2 GB on 2 servers (mx1 IMAP 800 MB, mx3 IMAP 400 MB)`. */
export function personLine(p: FleetPerson): string {
  const servers = new Set(p.rows.map((r) => r.server)).size;
  return `${p.account}: ${formatBytes(p.bytesIn + p.bytesOut)} (${percent(p.share)}) on ${servers} servers: ${p.rows.map((r) => `${r.server} ${SERVICE_LABEL[r.service] ?? r.service} ${formatBytes(r.bytesIn + r.bytesOut)}`).join(', ')}`;
}

/** True for a fleet investigation (several servers, merged): renderers then add a server column. */
export function isFleet(inv: Investigation): boolean {
  return inv.fleet !== undefined;
}

/** The first `n` IPs and `+N` for the rest: `198.51.100.23, 2001:db8::1 +3`. */
export function ipList(ips: string[], n = 2): string {
  if (!ips.length) return '–';
  return ips.slice(0, n).join(', ') + (ips.length > n ? ` +${ips.length - n}` : '');
}

export interface TimelineSummary {
  buckets: Array<TimelineBucket & { total: number }>;
  max: number;
  peak: (TimelineBucket & { total: number; end: string }) | null;
  total: number;
}

export function timelineSummary(inv: Investigation): TimelineSummary {
  const buckets = inv.timeline.buckets.map((b) => ({ ...b, total: b.bytesIn + b.bytesOut }));
  let peakAt = -1, max = 0, total = 0;
  buckets.forEach((b, i) => { total += b.total; if (b.total > max) { max = b.total; peakAt = i; } });
  const step = inv.timeline.bucketSeconds * 1000;
  const peak = peakAt >= 0 ? { ...buckets[peakAt], end: bucketEnd(buckets[peakAt].t, step, inv.window.to) } : null;
  return { buckets, max, peak, total };
}

export function bucketEnd(t: string, stepMs: number, windowTo: string): string {
  const end = Math.min(ms(t) + stepMs, ms(windowTo));
  return Number.isNaN(end) ? t : new Date(end).toISOString();
}

const BLOCKS = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

/**
 * A unicode sparkline of the values, squeezed to at most `width` cells (a cell takes the sum of
 * the values it covers). Zero is `·` so that silence reads differently from little traffic.
 */
export function sparkline(values: number[], width = values.length): string {
  const cells = resample(values, Math.max(1, Math.min(width, values.length)));
  const max = Math.max(0, ...cells);
  return cells.map((v) => (v <= 0 || max <= 0 ? '·' : BLOCKS[Math.min(7, Math.max(0, Math.ceil((v / max) * 8) - 1))])).join('');
}

function resample(values: number[], n: number): number[] {
  if (values.length <= n) return values.slice();
  const out = new Array<number>(n).fill(0);
  values.forEach((v, i) => { out[Math.floor((i * n) / values.length)] += v; });
  return out;
}

/** The baseline in one line: `3.2× the same hours on the previous 7 days (typically 3.63 GB)`. */
export function baselineLine(b: NonNullable<Investigation['baseline']>): string {
  const days = `the same hours on the previous ${b.days === 1 ? 'day' : `${b.days} days`}`;
  if (b.typicalBytes <= 0) return `${days} carried no traffic`;
  return `${ratio(b.ratio)} ${days} (typically ${formatBytes(b.typicalBytes)})`;
}

/** Totals in one line: `11.6 GB: 612 MB in, 11.0 GB out`. */
export function totalsLine(inv: Investigation): string {
  const t = inv.totals;
  return `${formatBytes(t.bytesIn + t.bytesOut)}: ${formatBytes(t.bytesIn)} in, ${formatBytes(t.bytesOut)} out`;
}

/**
 * How much of the traffic has an owner. Computed from the totals (the attributed figure also
 * holds bytes seen twice on the wire, so it is not used for the share).
 */
export function attributionLine(inv: Investigation): string {
  const t = inv.totals, all = t.bytesIn + t.bytesOut;
  if (all <= 0) return 'nothing to attribute';
  const owned = Math.max(0, all - t.unattributedBytes);
  // Against the interface when its total is known: "100%" only when it is true of the interface.
  const basis = inv.closure?.length && inv.shareBasis?.bytes ? inv.shareBasis : { label: 'the traffic seen', bytes: all };
  return `${formatBytes(owned)} attributed to accounts or named causes (${percent(Math.min(1, owned / basis.bytes))} of ${basis.label}), ${formatBytes(t.unattributedBytes)} not`;
}

/** `1 session`, `38 sessions`. */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? word : many}`;
}

export function remoteLabel(r: { ip: string; port: number | null }): string {
  if (r.port === null) return r.ip;
  return r.ip.includes(':') ? `[${r.ip}]:${r.port}` : `${r.ip}:${r.port}`;
}

/** Escape text for HTML element content and attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', '\'': '&#39;' })[c]!);
}

/** Word-wrap `text` to `width` columns; continuation lines start with `indent`. Words longer than a line are cut. */
export function wrap(text: string, width: number, indent = '', first = indent): string[] {
  const out: string[] = [];
  let line = first;
  let empty = true;
  const room = () => width - displayWidth(line) - (empty ? 0 : 1);
  for (const word of text.split(/ +/)) {
    if (!word) continue;
    if (displayWidth(word) <= room()) {
      line += (empty ? '' : ' ') + word;
      empty = false;
      continue;
    }
    if (!empty) { out.push(line); line = indent; }
    // A word wider than a line is cut by terminal columns, between characters.
    const max = width - displayWidth(indent);
    let piece = '', w = 0;
    for (const { segment } of graphemes.segment(word)) {
      const sw = displayWidth(segment);
      if (w + sw > max && w > 0 && max > 1) { out.push(indent + piece); piece = ''; w = 0; }
      piece += segment;
      w += sw;
    }
    line = indent + piece;
    empty = false;
  }
  if (!empty || !out.length) out.push(line);
  return out;
}

export interface TextColumn {
  title: string;
  align?: 'left' | 'right';
  /** May be cut (with …) when the table is wider than the screen; the widest such column goes first. */
  shrink?: boolean;
  /** Smallest width a shrinking column is cut to. */
  min?: number;
  /** Colour a padded cell; `row` is the index into `rows`. */
  paint?: (padded: string, row: number) => string;
}

/**
 * A plain text table with a header row, two spaces between columns, fitted into `width`
 * by cutting the shrinkable columns.
 */
export function textTable(cols: TextColumn[], rows: string[][], opts: { width: number; indent?: string; paintHeader?: (s: string) => string }): string[] {
  const indent = opts.indent ?? '';
  const widths = cols.map((c, i) => Math.max(displayWidth(c.title), ...rows.map((r) => displayWidth(r[i]))));
  const total = () => indent.length + widths.reduce((a, b) => a + b, 0) + 2 * (cols.length - 1);
  while (total() > opts.width) {
    let k = -1;
    cols.forEach((c, i) => { if (c.shrink && widths[i] > Math.max(c.min ?? 8, displayWidth(c.title)) && (k < 0 || widths[i] > widths[k])) k = i; });
    if (k < 0) break;
    widths[k]--;
  }
  const cell = (s: string, i: number) => {
    const t = truncate(s, widths[i]);
    return cols[i].align === 'right' ? padStart(t, widths[i]) : pad(t, widths[i]);
  };
  const header = indent + cols.map((c, i) => cell(c.title, i)).join('  ').trimEnd();
  const out = [opts.paintHeader ? opts.paintHeader(header) : header];
  rows.forEach((r, ri) => {
    const cells = r.map((s, i) => {
      const padded = i === r.length - 1 && cols[i].align !== 'right' ? truncate(s, widths[i]) : cell(s, i);
      return cols[i].paint ? cols[i].paint!(padded, ri) : padded;
    });
    out.push(indent + cells.join('  '));
  });
  return out;
}

/**
 * How much of each interface direction the investigation explains, and with which evidence, one
 * line each: `eth0 out 1.41 GB (vnstat): 89% measured on the wire, 10% the logs' counters, 1% unexplained`.
 * Only the parts that are there are named; the largest totals come first, so the main interface's
 * heavier direction leads.
 */
export function closureLines(inv: Investigation): string[] {
  if (!inv.closure?.length) return [];
  const out: string[] = [];
  const entries = [...inv.closure].sort((a, b) => b.total - a.total);
  for (const c of entries) {
    if (c.total <= 0) continue;
    const share = (v: number) => percent(v / c.total);
    const labelled = c.labelled.reduce((a, l) => a + l.bytes, 0);
    const parts: string[] = [];
    if (c.measured) parts.push(`${share(c.measured)} measured on the wire`);
    if (c.logCounters) parts.push(`${share(c.logCounters)} by the logs' own counters`);
    if (c.estimated) parts.push(`${share(c.estimated)} estimated`);
    if (labelled) parts.push(`${share(labelled)} known kind, no account (${c.labelled.slice(0, 3).map((l) => l.reason).join(', ')})`);
    parts.push(`${share(c.unexplained)} unexplained`);
    const excess = c.excess ? `; the evidence claims ${formatBytes(c.excess)} more than the interface moved (estimates are upper bounds)` : '';
    out.push(`${c.server === undefined ? '' : `${c.server} `}${c.iface} ${c.direction} ${formatBytes(c.total)} (${c.basis === 'vnstat-5min' ? 'vnstat' : 'vnstat, whole hours'}): ${parts.join(', ')}${excess}`);
  }
  return out;
}

/** `share: of eth0's traffic (in + out, vnstat), 14.6 GB`. */
export function shareBasisLine(inv: Investigation): string {
  return `shares are of ${inv.shareBasis.label}: ${formatBytes(inv.shareBasis.bytes)}`;
}

/** Fields of a log line that say who and how much: kept when the line is shortened. */
const KEY_FIELDS = /\b(?:user|rip|in|out|bytes|sasl_username|relay|size|status|SRC|LEN|DPT)=\S+/g;

/**
 * A log line cut to `n` characters without losing what matters: when it does not fit, its head is
 * kept up to the room left after its key fields (user=, rip=, out=, sasl_username=, relay=, ...),
 * which follow after `…`.
 */
export function shortenLine(s: string, n: number): string {
  if (displayWidth(s) <= n) return s;
  const keys = [...s.matchAll(KEY_FIELDS)].map((m) => ({ text: m[0], at: m.index! }));
  if (!keys.length) return truncate(s, n);
  // The head up to the first key field (at most half the room), then as many key fields as fit.
  const head = truncate(s.slice(0, keys[0].at).trimEnd(), Math.floor(n / 2));
  const tail: string[] = [];
  let room = n - displayWidth(head) - 3;
  for (const k of keys) {
    if (displayWidth(k.text) + 1 > room) break;
    tail.push(k.text);
    room -= displayWidth(k.text) + 1;
  }
  if (!tail.length) return truncate(s, n);
  return `${head}${head.endsWith('…') ? ' ' : ' … '}${tail.join(' ')}`;
}
