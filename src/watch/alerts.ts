/**
 * Alerts: judge a sliding window, minute by minute, against a static threshold and a multiple
 * of the baseline; when it is abnormal, run the correlation over that window and emit one
 * alert naming the top suspect. An incident alerts once, reminds every `repeatMs` while it
 * lasts, and sends a follow-up when a whole window is back under the threshold.
 *
 * Windows end on whole minutes (flows are stored per minute). On the wall clock a window is
 * judged `settleMs` after it ends, so late lines are in; on the data clock (`--clock data`,
 * for replaying old logs) windows follow the newest stored timestamp and are judged only when
 * the follower is idle.
 */
import { investigate } from '../correlate/investigate.js';
import type { Investigation, Suspect } from '../correlate/types.js';
import type { Store } from '../store/index.js';
import { SqliteReadStore } from '../store/sqlite-read.js';
import type { WatchStore } from '../store/watch.js';
import type { AlertSinks } from './sinks.js';
import { type Baseline, type Signal, TrafficMeter } from './traffic.js';
import { formatBps, formatDuration } from './units.js';

export interface AlertOptions {
  windowMs: number;
  /** Static threshold in bits per second, or null. */
  alertAboveBps: number | null;
  /** Alert when a signal exceeds this multiple of its baseline (0: baseline off). */
  multiple: number;
  /** Baseline alerts need at least this rate too (quiet nights triple easily). */
  minBps: number;
  repeatMs: number;
  clock: 'wall' | 'data';
  settleMs: number;
  host: string;
  vpnPorts?: number[];
}

export interface AlertThreshold { kind: 'static' | 'baseline'; bps: number; baselineBps: number | null; multiple: number | null; basis: Baseline['basis'] | null }

/** The JSON of one alert (`--alert-log`, `--exec` stdin, the `alerts` table). */
export interface Alert {
  schema: 'bytetrail.alert/1';
  type: 'alert' | 'reminder' | 'resolved';
  incident: string;
  /** End of the window judged (data time). */
  at: string;
  emittedAt: string;
  host: string;
  window: { from: string; to: string; seconds: number };
  /** The signal over its threshold (for `resolved`: the busiest signal now, and its threshold). */
  trigger: { key: string; source: string; iface: string; direction: 'in' | 'out'; bytes: number; bps: number; threshold: AlertThreshold | null } | null;
  suspect: Pick<Suspect, 'account' | 'service' | 'ips' | 'finding' | 'confidence' | 'bytesIn' | 'bytesOut' | 'share' | 'direction'> | null;
  finding: { kind: string; summary: string } | null;
  verdict: string | null;
  throttle: string | null;
  incidentSummary: { openedAt: string; durationSeconds: number; peakBps: number; alerts: number };
  /** The line written to stderr. */
  summary: string;
}

interface Incident { id: string; openedAt: number; lastAlertAt: number; peakBps: number; alerts: number; suspect: Alert['suspect']; finding: Alert['finding'] }

const STEP = 60_000;
const EVAL_KEY = 'alerts:evaluated-to';
const INCIDENT_KEY = 'alerts:incident';

export class AlertEngine {
  private readonly meter: TrafficMeter;
  private incident: Incident | null;
  private evaluatedTo: number | null;
  private readonly reader: SqliteReadStore;

  constructor(private readonly store: Store, private readonly ws: WatchStore, private readonly sinks: AlertSinks, private readonly o: AlertOptions) {
    this.meter = new TrafficMeter(store, ws);
    this.reader = new SqliteReadStore(store);
    // A restart keeps the open incident, so it is not alerted again.
    const saved = ws.state(INCIDENT_KEY);
    this.incident = saved ? (JSON.parse(saved) as Incident) : null;
    const ev = ws.state(EVAL_KEY);
    this.evaluatedTo = ev !== null && ws.state('alerts:clock') === o.clock ? Number(ev) : null;
  }

  get enabled(): boolean {
    return this.o.alertAboveBps !== null || this.o.multiple > 0;
  }

  /** Judge every window that is due. Returns the number of windows judged. */
  async tick(now: number, followerBusy: boolean): Promise<number> {
    if (!this.enabled) return 0;
    let due: number;
    if (this.o.clock === 'wall') {
      due = Math.floor((now - this.o.settleMs) / STEP) * STEP;
      // The wall clock judges only the latest window: a restart does not alert on the past.
      if (this.evaluatedTo === null || this.evaluatedTo < due - STEP) this.evaluatedTo = due - STEP;
    } else {
      if (followerBusy) return 0;
      const newest = this.ws.newestDataTime();
      if (newest === null) return 0;
      due = Math.floor(newest / STEP) * STEP;
      if (this.evaluatedTo === null) {
        const oldest = this.ws.oldestRawTime() ?? newest;
        this.evaluatedTo = Math.ceil((oldest + this.o.windowMs) / STEP) * STEP - STEP;
      }
    }
    let n = 0;
    for (let to = this.evaluatedTo + STEP; to <= due; to += STEP) {
      await this.evaluate(to, now);
      this.evaluatedTo = to;
      n++;
    }
    if (n) {
      this.ws.putStates([[EVAL_KEY, String(this.evaluatedTo)], ['alerts:clock', this.o.clock]]);
      if (this.incident) this.ws.putState(INCIDENT_KEY, JSON.stringify(this.incident)); else this.ws.deleteState(INCIDENT_KEY);
    }
    return n;
  }

  private thresholdFor(sig: Signal, to: number): AlertThreshold[] {
    const out: AlertThreshold[] = [];
    if (this.o.alertAboveBps !== null) out.push({ kind: 'static', bps: this.o.alertAboveBps, baselineBps: null, multiple: null, basis: null });
    if (this.o.multiple > 0) {
      const b = this.meter.baseline(sig, to);
      if (b) out.push({ kind: 'baseline', bps: Math.max(this.o.minBps, b.bps * this.o.multiple), baselineBps: b.bps, multiple: this.o.multiple, basis: b.basis });
    }
    return out;
  }

  private async evaluate(to: number, now: number): Promise<void> {
    const from = to - this.o.windowMs;
    const m = this.meter.measure(from, to);
    let over: { sig: Signal; th: AlertThreshold; ratio: number } | null = null;
    let busiest: { sig: Signal; th: AlertThreshold | null } | null = null;
    for (const sig of m.signals) {
      const ths = this.thresholdFor(sig, to);
      if (!busiest || sig.bps > busiest.sig.bps) busiest = { sig, th: ths[0] ?? null };
      for (const th of ths) {
        const ratio = sig.bps / th.bps;
        if (sig.bps > th.bps && (!over || ratio > over.ratio)) over = { sig, th, ratio };
      }
    }
    if (over) {
      if (!this.incident) {
        const id = `${new Date(to).toISOString().slice(0, 16).replace(/[-:]/g, '')}Z-${over.sig.direction}-${over.sig.iface}`;
        this.incident = { id, openedAt: to, lastAlertAt: to, peakBps: over.sig.bps, alerts: 0, suspect: null, finding: null };
        await this.emit('alert', from, to, now, over);
      } else {
        this.incident.peakBps = Math.max(this.incident.peakBps, over.sig.bps);
        if (to - this.incident.lastAlertAt >= this.o.repeatMs) { this.incident.lastAlertAt = to; await this.emit('reminder', from, to, now, over); }
      }
    } else if (this.incident) {
      await this.emit('resolved', from, to, now, busiest);
      this.incident = null;
    }
  }

  private async emit(type: Alert['type'], from: number, to: number, now: number, sig: { sig: Signal; th: AlertThreshold | null } | null): Promise<void> {
    const inc = this.incident!;
    inc.alerts++;
    let inv: Investigation | null = null;
    let note: string | null = null;
    if (type !== 'resolved') {
      try {
        inv = await investigate(this.reader, { from, to, vpnPorts: this.o.vpnPorts });
      } catch (err) {
        note = `the correlation failed: ${(err as Error).message}`;
      }
      const top = inv?.suspects[0] ?? null;
      inc.suspect = top ? {
        account: top.account, service: top.service, ips: top.ips.slice(0, 5), finding: top.finding, confidence: top.confidence,
        bytesIn: top.bytesIn, bytesOut: top.bytesOut, share: Math.round(top.share * 1000) / 1000, direction: top.direction,
      } : null;
      const f = top ? inv!.findings.find((x) => x.kind === top.finding && (top.account === null || x.subject === top.account)) : null;
      inc.finding = f ? { kind: f.kind, summary: f.summary } : null;
    }
    const s = inc.suspect;
    const trig = sig ? { key: sig.sig.key, source: sig.sig.source, iface: sig.sig.iface, direction: sig.sig.direction, bytes: Math.round(sig.sig.bytes), bps: Math.round(sig.sig.bps), threshold: sig.th } : null;
    const who = s ? `${s.account ?? s.ips.slice(0, 2).join(', ')} (${s.service}${s.account && s.ips.length ? `, ${s.ips.slice(0, 2).join(', ')}` : ''})` : 'no suspect';
    const what = inc.finding ? `${inc.finding.kind}: ${inc.finding.summary}` : inv?.verdict ?? note ?? '';
    const level = trig ? `${trig.direction} ${trig.iface} ${formatBps(trig.bps)} over ${formatDuration(this.o.windowMs)}` : '';
    const limit = trig?.threshold ? ` > ${formatBps(trig.threshold.bps)} (${trig.threshold.kind === 'static' ? 'static threshold' : `${trig.threshold.multiple}× baseline ${formatBps(trig.threshold.baselineBps ?? 0)}`})` : '';
    const summary = type === 'resolved'
      ? `RESOLVED ${inc.id}: traffic back under the threshold after ${formatDuration(to - inc.openedAt)} (peak ${formatBps(inc.peakBps)}; last suspect ${who})`
      : `${type === 'alert' ? 'ALERT' : 'STILL'} ${inc.id}: ${level}${limit}: ${who}${what ? ` — ${what}` : ''}`;
    const alert: Alert = {
      schema: 'bytetrail.alert/1', type, incident: inc.id, at: new Date(to).toISOString(), emittedAt: new Date(now).toISOString(), host: this.o.host,
      window: { from: new Date(from).toISOString(), to: new Date(to).toISOString(), seconds: (to - from) / 1000 },
      trigger: trig, suspect: s, finding: inc.finding, verdict: inv?.verdict ?? note, throttle: inv?.throttle?.command ?? null,
      incidentSummary: { openedAt: new Date(inc.openedAt).toISOString(), durationSeconds: (to - inc.openedAt) / 1000, peakBps: Math.round(inc.peakBps), alerts: inc.alerts },
      summary,
    };
    this.sinks.emit(alert);
  }
}
