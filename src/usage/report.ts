/**
 * `bytetrail usage`: bytes in and out per account (or service, or server) per hour, day or month,
 * from the hourly roll-ups (rollup.ts), the way `vnstat -d` / `-m` prints an interface; with each
 * row's share of the interface's total (vnstat) and how its bytes are known. One result object;
 * the renderers (src/render/usage.ts) turn it into a table or CSV.
 */
import { DateTime } from 'luxon';
import { UserError } from '../errors.js';
import { parseDuration, resolveWindow } from '../correlate/window.js';
import type { PeriodRow, UsageStore } from '../store/usage.js';

export const USAGE_BY = ['account', 'service', 'server'] as const;
export type UsageBy = (typeof USAGE_BY)[number];
export const USAGE_PERIODS = ['hour', 'day', 'month'] as const;
export type UsagePeriodKind = (typeof USAGE_PERIODS)[number];

export interface ConfidenceMix { exact: number; sharedIp: number; ipOnly: number; logCounters: number; estimated: number }

export interface UsageLine {
  /** The account, service group or server. */
  key: string;
  bytesIn: number;
  bytesOut: number;
  /** Of the period's share basis. */
  share: number;
  /** Bytes (in + out) by how they are known. */
  confidence: ConfidenceMix;
  /** Per service group within an account (largest first); empty for the other groupings. */
  services: Array<{ service: string; bytesIn: number; bytesOut: number }>;
}

export interface UsagePeriod {
  start: string;
  end: string;
  /** `2026-11-20`, `2026-11`, `2026-11-20 09:00` in the report's zone. */
  label: string;
  /** Hours of the period rolled up. */
  hours: number;
  /** What the shares are of: the busiest interface's rx + tx (vnstat), else the bytes the evidence accounts for. */
  shareBasis: { label: string; iface: string | null; bytes: number };
  interfaces: Array<{ iface: string; rx: number; tx: number; hours: number }>;
  rows: UsageLine[];
  /** The rows beyond --top, summed. */
  others: { count: number; bytesIn: number; bytesOut: number } | null;
  /** Traffic no account explains, by reason (with --account: not shown). */
  unattributed: Array<{ reason: string; bytesIn: number; bytesOut: number }>;
}

export interface Quota { bytes: number; per: UsagePeriodKind; text: string }

export interface UsageReport {
  window: { from: string; to: string };
  tz: string;
  by: UsageBy;
  period: UsagePeriodKind;
  account: string | null;
  /** With --over: only rows above the quota are listed. */
  over: Quota | null;
  /** The roll-ups read: how many hours, and the newest. `pending`: closed hours not rolled up (a database this user cannot write). */
  rolledUp: { hours: number; through: string | null; pending: number };
  periods: UsagePeriod[];
}

export interface UsageQuery {
  since?: string;
  until?: string;
  now: number;
  tz: string;
  by: UsageBy;
  period: UsagePeriodKind;
  top?: number;
  account?: string;
  over?: Quota;
  server: string;
  pending: number;
}

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** `50GB/month`, `2 GiB/day`, `500MB/hour`: a byte limit (decimal units, as vnstat and the bill) per period. */
export function parseQuota(raw: string, flag: string): Quota {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)\s*\/\s*(hour|day|month)\s*$/i.exec(raw);
  if (!m) throw new UserError(`--${flag} is not a quota: ${raw}`, { hint: 'give bytes per period: 50GB/month, 2GB/day, 500MB/hour (KB, MB, GB, TB are decimal; KiB, MiB, GiB binary)' });
  const bytes = Math.round(parseFloat(m[1]) * UNITS[m[2].toLowerCase()]);
  if (bytes <= 0) throw new UserError(`--${flag} must be above zero: ${raw}`);
  return { bytes, per: m[3].toLowerCase() as UsagePeriodKind, text: raw.trim().replace(/\s+/g, '') };
}

/**
 * The window: `--since` as elsewhere, plus calendar months and years (`3mo`, `1y`) counted back
 * in the zone; it starts at the beginning of its first period.
 */
export function usageWindow(since: string | undefined, until: string | undefined, now: number, period: UsagePeriodKind, tz: string): { from: number; to: number } {
  const def = period === 'hour' ? '24h' : period === 'day' ? '30d' : '12mo';
  const s = (since ?? def).trim().toLowerCase();
  const cal = /^(\d+)\s*(mo|y)$/.exec(s);
  let from: number, to: number;
  if (cal) {
    ({ to } = resolveWindow('1h', until, now, '1h', tz));
    const n = Number(cal[1]);
    from = DateTime.fromMillis(to, { zone: tz }).minus(cal[2] === 'mo' ? { months: n } : { years: n }).toMillis();
    if (n === 0) throw new UserError(`the window is empty: --since ${since}`);
  } else {
    if (parseDuration(s) === null && /^\d+\s*mo/.test(s)) throw new UserError(`--since ${since}: give months as 3mo alone`);
    ({ from, to } = resolveWindow(since ?? def, until, now, def, tz));
  }
  return { from: DateTime.fromMillis(from, { zone: tz }).startOf(period).toMillis(), to };
}

/** The periods [start, end) that cover [from, to), in the zone. */
export function periodsOf(from: number, to: number, period: UsagePeriodKind, tz: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let d = DateTime.fromMillis(from, { zone: tz }).startOf(period);
  while (d.toMillis() < to) {
    const next = d.plus({ [`${period}s`]: 1 });
    out.push([d.toMillis(), next.toMillis()]);
    d = next;
  }
  return out;
}

function periodLabel(start: number, period: UsagePeriodKind, tz: string): string {
  const d = DateTime.fromMillis(start, { zone: tz });
  return d.toFormat(period === 'month' ? 'yyyy-MM' : period === 'day' ? 'yyyy-MM-dd' : 'yyyy-MM-dd HH:mm');
}

const mixOf = (r: PeriodRow): ConfidenceMix => ({ exact: r.exact, sharedIp: r.sharedIp, ipOnly: r.ipOnly, logCounters: r.logCounters, estimated: r.estimated });

function addMix(a: ConfidenceMix, b: ConfidenceMix): void {
  a.exact += b.exact; a.sharedIp += b.sharedIp; a.ipOnly += b.ipOnly; a.logCounters += b.logCounters; a.estimated += b.estimated;
}

/** Build the report from the roll-ups. */
export function usageReport(us: UsageStore, q: UsageQuery): UsageReport {
  if (q.over && q.period !== q.over.per) throw new UserError(`--over ${q.over.text} is per ${q.over.per}, --period is ${q.period}`, { hint: `leave out --period, or give --period ${q.over.per}` });
  const { from, to } = usageWindow(q.since, q.until, q.now, q.period, q.tz);
  const spans = periodsOf(from, to, q.period, q.tz);
  // Only the window's hours count: the last period stops at --until (now, or the date given).
  const clipped = spans.map(([a, b]): [number, number] => [a, Math.min(b, to)]);
  const rows = us.periodRows(clipped, q.account);
  const ifaces = us.periodIfaces(clipped);
  const hours = new Map(us.periodHours(clipped).map((h) => [h.period, h]));
  const extent = us.rolledExtent();
  const periods: UsagePeriod[] = [];
  for (const [start, end] of spans) {
    const mine = rows.filter((r) => r.period === start);
    const its = ifaces.filter((i) => i.period === start).map(({ iface, rx, tx, hours: h }) => ({ iface, rx, tx, hours: h }));
    const main = [...its].sort((a, b) => (b.rx + b.tx) - (a.rx + a.tx))[0] ?? null;
    const ph = hours.get(start);
    const shareBasis = main
      ? { label: `${main.iface}'s traffic in + out, per vnstat`, iface: main.iface, bytes: main.rx + main.tx }
      : { label: 'the traffic the evidence accounts for (in + out)', iface: null, bytes: (ph?.bytesIn ?? 0) + (ph?.bytesOut ?? 0) };
    const lines = new Map<string, UsageLine>();
    const unattributed = new Map<string, { reason: string; bytesIn: number; bytesOut: number }>();
    for (const r of mine) {
      if (r.account === '') {
        const u = unattributed.get(r.reason) ?? { reason: r.reason, bytesIn: 0, bytesOut: 0 };
        u.bytesIn += r.bytesIn; u.bytesOut += r.bytesOut;
        unattributed.set(r.reason, u);
        continue;
      }
      const key = q.by === 'account' ? r.account : q.by === 'service' ? r.service : q.server;
      const l = lines.get(key) ?? { key, bytesIn: 0, bytesOut: 0, share: 0, confidence: { exact: 0, sharedIp: 0, ipOnly: 0, logCounters: 0, estimated: 0 }, services: [] };
      l.bytesIn += r.bytesIn; l.bytesOut += r.bytesOut;
      addMix(l.confidence, mixOf(r));
      if (q.by === 'account') l.services.push({ service: r.service, bytesIn: r.bytesIn, bytesOut: r.bytesOut });
      lines.set(key, l);
    }
    let list = [...lines.values()].sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut) || a.key.localeCompare(b.key));
    for (const l of list) {
      l.share = shareBasis.bytes > 0 ? (l.bytesIn + l.bytesOut) / shareBasis.bytes : 0;
      l.services.sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut) || a.service.localeCompare(b.service));
    }
    if (q.over) list = list.filter((l) => l.bytesIn + l.bytesOut > q.over!.bytes);
    let others: UsagePeriod['others'] = null;
    if (q.top !== undefined && list.length > q.top) {
      const rest = list.slice(q.top);
      others = { count: rest.length, bytesIn: rest.reduce((a, l) => a + l.bytesIn, 0), bytesOut: rest.reduce((a, l) => a + l.bytesOut, 0) };
      list = list.slice(0, q.top);
    }
    periods.push({
      start: new Date(start).toISOString(), end: new Date(end).toISOString(), label: periodLabel(start, q.period, q.tz), hours: ph?.hours ?? 0,
      shareBasis, interfaces: its, rows: list, others,
      unattributed: q.account !== undefined || q.over ? [] : [...unattributed.values()].sort((a, b) => (b.bytesIn + b.bytesOut) - (a.bytesIn + a.bytesOut)),
    });
  }
  return {
    window: { from: new Date(from).toISOString(), to: new Date(to).toISOString() }, tz: q.tz, by: q.by, period: q.period,
    account: q.account ?? null, over: q.over ?? null,
    rolledUp: { hours: extent.n, through: extent.last === null ? null : new Date(extent.last + 3_600_000).toISOString(), pending: q.pending },
    periods,
  };
}
