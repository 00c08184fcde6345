/**
 * How much traffic a window held, per interface and direction, and what is normal for it.
 *
 * The measure comes from the most complete wire source with data in the window (a capture,
 * `watch --capture`, conntrack), never two added together, as `investigate` chooses. Without
 * wire flows it falls back to the logs' own counters: Dovecot's in=/out= at logout (interface
 * `logs`) and OpenVPN status deltas. Those are coarse: a long session's bytes land in the
 * window where it logs out.
 *
 * The baseline of a signal is the median rate of the same hour of the week over the previous
 * four weeks; with fewer than two of those, the same hour of the day over the previous seven
 * days. Hours not pruned yet are read from the raw rows, older ones from the hourly roll-ups.
 */
import type { Store } from '../store/index.js';
import { chooseFlowSource, WIRE_SOURCES } from '../flows/query.js';
import { HOUR_MS, type IfaceBytes, type WatchStore } from '../store/watch.js';

export type Direction = 'in' | 'out';

export interface Signal {
  /** `source/iface/direction`, e.g. `pcap/eth0/out`. */
  key: string;
  source: string;
  iface: string;
  direction: Direction;
  bytes: number;
  bps: number;
}

export interface Baseline { bps: number; points: number; basis: 'hour-of-week' | 'hour-of-day' }

const DAY_MS = 24 * HOUR_MS;
export const ROLLED_KEY = 'retention:rolled-through';

function signalsOf(source: string, rows: IfaceBytes[], seconds: number): Signal[] {
  const out: Signal[] = [];
  for (const r of rows) {
    const iface = r.iface || (source === 'openvpn-status' ? 'vpn' : 'all');
    for (const [direction, bytes] of [['in', r.bytesIn], ['out', r.bytesOut]] as const) {
      out.push({ key: `${source}/${iface}/${direction}`, source, iface, direction, bytes, bps: (bytes * 8) / seconds });
    }
  }
  return out;
}

export class TrafficMeter {
  private cache = new Map<string, IfaceBytes[] | null>();
  private cacheHour = 0;

  constructor(private readonly store: Store, private readonly ws: WatchStore) {}

  /** Traffic in [from, to) per interface and direction, from the best source that has data. */
  measure(from: number, to: number): { source: string; signals: Signal[] } {
    const seconds = (to - from) / 1000;
    const { source } = chooseFlowSource(this.store.flowSources(from, to));
    if (source !== null && WIRE_SOURCES.includes(source)) {
      return { source, signals: signalsOf(source, this.ws.flowTraffic(source, from, to), seconds) };
    }
    return { source: 'log-counters', signals: this.counterSignals(from, to, seconds) };
  }

  private counterSignals(from: number, to: number, seconds: number): Signal[] {
    const c = this.ws.counterTraffic(from, to);
    return [
      ...(c.n > 0 ? signalsOf('log-counters', [c], seconds) : []),
      ...signalsOf('openvpn-status', this.ws.flowTraffic('openvpn-status', from, to), seconds).map((s) => ({ ...s, key: `log-counters/${s.iface}/${s.direction}`, source: 'log-counters' })),
    ];
  }

  /** Bytes of one hour for a source, per interface; null when that hour holds no data at all. */
  hour(source: string, hour: number): IfaceBytes[] | null {
    const k = `${source}|${hour}`;
    if (this.cache.has(k)) return this.cache.get(k)!;
    const rolled = Number(this.ws.state(ROLLED_KEY) ?? '0');
    let rows: IfaceBytes[];
    if (hour + HOUR_MS <= rolled) {
      rows = source === 'log-counters'
        ? [...this.ws.hourlyTraffic('log-counters', hour), ...this.ws.hourlyTraffic('openvpn-status', hour).map((r) => ({ ...r, iface: r.iface || 'vpn' }))]
        : this.ws.hourlyTraffic(source, hour);
    } else if (source === 'log-counters') {
      const c = this.ws.counterTraffic(hour, hour + HOUR_MS);
      rows = [...(c.n > 0 ? [c] : []), ...this.ws.flowTraffic('openvpn-status', hour, hour + HOUR_MS).map((r) => ({ ...r, iface: r.iface || 'vpn' }))];
    } else {
      rows = this.ws.flowTraffic(source, hour, hour + HOUR_MS);
    }
    const v = rows.length ? rows.map((r) => ({ ...r, iface: r.iface || (source === 'openvpn-status' ? 'vpn' : 'all') })) : null;
    if (this.cache.size > 2000) this.cache.clear();
    this.cache.set(k, v);
    return v;
  }

  /** What is normal for this signal in the hour the window ends in. */
  baseline(sig: Signal, windowEnd: number): Baseline | null {
    const h = Math.floor((windowEnd - 1) / HOUR_MS) * HOUR_MS;
    // Past hours rarely change; the current one does. Forget everything when the hour turns.
    if (h !== this.cacheHour) { this.cache.clear(); this.cacheHour = h; }
    const rateAt = (hour: number): number | null => {
      const rows = this.hour(sig.source, hour);
      if (!rows) return null;
      const r = rows.find((x) => x.iface === sig.iface);
      const bytes = r ? (sig.direction === 'in' ? r.bytesIn : r.bytesOut) : 0;
      return (bytes * 8) / 3600;
    };
    const collect = (step: number, n: number) => {
      const v: number[] = [];
      for (let i = 1; i <= n; i++) { const r = rateAt(h - i * step); if (r !== null) v.push(r); }
      return v;
    };
    let basis: Baseline['basis'] = 'hour-of-week';
    let points = collect(7 * DAY_MS, 4);
    if (points.length < 2) { basis = 'hour-of-day'; points = collect(DAY_MS, 7); }
    if (points.length < 2) return null;
    points.sort((a, b) => a - b);
    const mid = Math.floor(points.length / 2);
    const bps = points.length % 2 ? points[mid] : (points[mid - 1] + points[mid]) / 2;
    return { bps, points: points.length, basis };
  }
}
