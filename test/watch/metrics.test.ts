/**
 * `watch --metrics`: a replayed incident scraped over real HTTP while watch reads it, parsed
 * with a real Prometheus text parser and checked against what ingest stores and investigate
 * attributes; the account cap with 10,000 mailboxes; the Grafana dashboard's queries.
 */
import { parser as promql } from '@prometheus-io/lezer-promql';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, appendFileSync } from 'node:fs';
import { join } from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { investigate } from '../../src/correlate/investigate.js';
import { INCIDENTS, T0 } from '../../src/demo/incidents.js';
import { ScenarioWriter } from '../../src/demo/scenario.js';
import { openStore, type Store } from '../../src/store/index.js';
import { WatchStore } from '../../src/store/watch.js';
import { OTHER, parseListen, WatchMetrics } from '../../src/watch/metrics.js';
import { BIN, ROOT, spawnCli, tempDir } from '../helpers/cli.js';
import { SqliteReadStore } from '../../src/store/sqlite-read.js';

const FAST = ['--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '300', '--check-ms', '200'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const MIN = 60_000;

interface Family { name: string; help: string; type: string; metrics: Array<{ value?: string; labels?: Record<string, string> }> }
/** One scrape: every sample by `name{labels}`, and the families as the parser gives them. */
interface Scrape { families: Family[]; samples: Map<string, number> }

function parse(text: string): Scrape {
  const families = parsePrometheusTextFormat(text) as Family[];
  const samples = new Map<string, number>();
  for (const f of families) {
    for (const m of f.metrics) {
      if (m.value === undefined) continue;
      const labels = Object.entries(m.labels ?? {}).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',');
      samples.set(`${f.name}{${labels}}`, Number(m.value));
    }
  }
  return { families, samples };
}

function family(s: Scrape, name: string): Family['metrics'] {
  return s.families.find((f) => f.name === name)?.metrics ?? [];
}

/** Sum of a family's samples whose labels match. */
function sum(s: Scrape, name: string, match: Record<string, string> = {}): number {
  return family(s, name).filter((m) => Object.entries(match).every(([k, v]) => m.labels?.[k] === v)).reduce((a, m) => a + Number(m.value), 0);
}

async function get(url: string, accept?: string): Promise<{ status: number; type: string; text: string }> {
  const r = await fetch(url, { headers: accept ? { accept } : {} });
  return { status: r.status, type: r.headers.get('content-type') ?? '', text: await r.text() };
}

/** Close enough for sums of the same float parts added in another order. */
function near(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b)) + 1e-6;
}

describe('parseListen', () => {
  it('reads a port alone and :port as loopback, an explicit address as given', () => {
    expect(parseListen('9188')).toEqual({ host: '127.0.0.1', port: 9188 });
    expect(parseListen(':9188')).toEqual({ host: '127.0.0.1', port: 9188 });
    expect(parseListen('127.0.0.1:9188')).toEqual({ host: '127.0.0.1', port: 9188 });
    expect(parseListen('0.0.0.0:9100')).toEqual({ host: '0.0.0.0', port: 9100 });
    expect(parseListen('[::1]:9188')).toEqual({ host: '::1', port: 9188 });
    expect(parseListen('192.0.2.10:9188')).toEqual({ host: '192.0.2.10', port: 9188 });
    for (const bad of ['', 'localhost:', '9188x', '1.2.3.4:70000', '::1:9188']) expect(() => parseListen(bad), bad).toThrow(/--metrics/);
  });
});

describe('watch --metrics on a replayed incident', () => {
  let dir: string;
  let cleanup: () => void;
  let child: ChildProcess | null = null;
  beforeEach(() => { ({ dir, cleanup } = tempDir('bytetrail-metrics-')); });
  afterEach(async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await exited;
    }
    cleanup();
  });

  it('counts what ingest stores and investigate attributes; counters never decrease', async () => {
    const logs = join(dir, 'logs'), db = join(dir, 'bt.db'), alertLog = join(dir, 'alerts.jsonl');
    INCIDENTS.imapResync().writer.write(logs);
    // One line no parser reads and one skipped on purpose, so both counts are seen.
    appendFileSync(join(logs, 'mail.log'), 'Nov 20 09:58:00 mx1 dovecot: imap-login: this line means nothing to bytetrail\nNov 20 09:58:01 mx1 postfix/smtpd[123]: warning: gibberish no parser knows\n');
    const written = readdirSync(logs).filter((f) => f.endsWith('.log')).reduce((n, f) => n + readFileSync(join(logs, f), 'utf8').split('\n').length - 1, 0);

    // What one ingest of the same files stores, and the last minute watch can account on the data clock.
    const ref = join(dir, 'ref.db');
    const ing = spawnCli(['ingest', '--db', ref, logs, '--json']);
    expect(ing.status).toBe(0);
    const expected = JSON.parse(ing.stdout) as { lines: number; events: Record<string, number>; unparsed: Record<string, number>; skipped: Record<string, number> };
    const refStore = openStore({ path: ref });
    const refWs = new WatchStore(refStore);
    const first = Math.floor(refWs.oldestRawTime()! / MIN) * MIN;
    const through = Math.floor(refWs.newestDataTime()! / MIN) * MIN;
    refStore.close();

    const w = spawn(process.execPath, [BIN, 'watch', '--db', db, ...FAST, logs, '--clock', 'data', '--alert-above', '1mbit', '--alert-log', alertLog, '--metrics', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    child = w;
    let stderr = '';
    w.stderr!.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
    w.stdout!.resume();
    const exited = new Promise<number | null>((r) => w.once('exit', (code) => r(code)));
    const t0 = Date.now();
    while (!/metrics on http:\/\/127\.0\.0\.1:\d+\/metrics/.test(stderr)) {
      if (Date.now() - t0 > 120_000 || w.exitCode !== null) throw new Error(`watch did not serve metrics: ${stderr}`);
      await sleep(50);
    }
    const url = /metrics on (http:\S+)/.exec(stderr)![1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);

    // Scrape while watch reads and accounts, until every minute is in and the incident resolved.
    const scrapes: Scrape[] = [];
    const resolved = () => existsSync(alertLog) && readFileSync(alertLog, 'utf8').includes('"type":"resolved"');
    for (;;) {
      const r = await get(url);
      expect(r.status).toBe(200);
      expect(r.type).toBe('text/plain; version=0.0.4; charset=utf-8');
      const s = parse(r.text);
      scrapes.push(s);
      if (s.samples.get('bytetrail_accounted_through_timestamp_seconds{}') === through / 1000 && resolved() && s.samples.get('bytetrail_lines_ingested_total{}') === written) break;
      if (Date.now() - t0 > 240_000) throw new Error(`metrics never reached the end of the data: ${stderr}`);
      await sleep(150);
    }
    const last = parse((await get(url)).text);
    scrapes.push(last);
    expect(scrapes.length).toBeGreaterThan(2);

    // Counters never decrease from one scrape to the next (a series may vanish: an account leaving the top).
    const counters = new Set(last.families.filter((f) => f.type === 'COUNTER').map((f) => f.name));
    expect(counters.size).toBeGreaterThan(10);
    for (let i = 1; i < scrapes.length; i++) {
      for (const [k, v] of scrapes[i - 1].samples) {
        const now = scrapes[i].samples.get(k);
        if (counters.has(k.slice(0, k.indexOf('{'))) && now !== undefined) expect(now, k).toBeGreaterThanOrEqual(v);
      }
    }

    // Every HELP and TYPE is there; the names follow the conventions.
    for (const f of last.families) {
      expect(f.name).toMatch(/^bytetrail_/);
      expect(f.help.length, f.name).toBeGreaterThan(10);
      if (f.type === 'COUNTER') expect(f.name).toMatch(/_total$/);
    }

    // Lines: all that were written; per source what ingest counts.
    expect(last.samples.get('bytetrail_lines_ingested_total{}')).toBe(written);
    expect(written).toBe(expected.lines);
    for (const [k, want] of [['bytetrail_events_total', expected.events], ['bytetrail_unparsed_lines_total', expected.unparsed], ['bytetrail_skipped_lines_total', expected.skipped]] as const) {
      const got = Object.fromEntries(family(last, k).map((m) => [m.labels!.source, Number(m.value)]));
      expect(got, k).toEqual(want);
    }
    expect(expected.unparsed).toEqual({ dovecot: 1 });
    expect(last.samples.get('bytetrail_flow_records_total{kind="pcap"}')).toBeGreaterThan(0);
    expect(last.samples.get('bytetrail_follow_lag_bytes{}')).toBe(0);
    expect(last.samples.get('bytetrail_followed_files{state="following"}')).toBe(3);

    // Alerts: each delivery counted per sink and type, as many as the alert log holds.
    const types = readFileSync(alertLog, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { type: string }).type);
    expect(types).toEqual(['alert', 'reminder', 'reminder', 'reminder', 'resolved']);
    for (const sink of ['stderr', 'database', 'alert-log']) {
      expect(sum(last, 'bytetrail_alerts_sent_total', { sink, type: 'reminder' }), sink).toBe(3);
      expect(sum(last, 'bytetrail_alerts_sent_total', { sink }), sink).toBe(5);
    }
    expect(sum(last, 'bytetrail_alert_failures_total')).toBe(0);

    // OpenMetrics when asked for, and the Prometheus text again afterwards.
    const om = await get(url, 'application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5');
    expect(om.type).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(om.text.endsWith('# EOF\n')).toBe(true);
    expect(om.text).toContain('# TYPE bytetrail_service_bytes counter');
    expect(om.text).toMatch(/^bytetrail_service_bytes_total\{service="imap",direction="out"\} \d/m);
    expect((await get(url)).text).toContain('# TYPE bytetrail_service_bytes_total counter');
    expect((await get(url.replace(/metrics$/, 'nothing'))).status).toBe(404);

    w.kill('SIGTERM');
    expect(await exited).toBe(0);

    // Traffic and attribution equal investigate's over the same minutes, and the wire's bytes.
    const store = openStore({ path: db });
    try {
      const inv = await investigate(new SqliteReadStore(store), { from: first, to: through });
      const byService = new Map<string, [number, number]>();
      for (const s of inv.suspects) {
        const v = byService.get(s.service) ?? [0, 0];
        byService.set(s.service, [v[0] + s.bytesIn, v[1] + s.bytesOut]);
      }
      expect([...byService.keys()]).toContain('imap');
      for (const [service, [bin, bout]] of byService) {
        expect(near(sum(last, 'bytetrail_service_bytes_total', { service, direction: 'in' }), bin), service).toBe(true);
        expect(near(sum(last, 'bytetrail_service_bytes_total', { service, direction: 'out' }), bout), service).toBe(true);
      }
      expect(family(last, 'bytetrail_service_bytes_total').length).toBe(byService.size * 2);
      const attributed = inv.suspects.filter((s) => s.account !== null).reduce((a, s) => a + s.bytesIn + s.bytesOut, 0);
      expect(near(sum(last, 'bytetrail_attributed_bytes_total'), attributed)).toBe(true);
      // An account that left the top took its series along: the accounts' sum can only be less.
      expect(sum(last, 'bytetrail_account_bytes_total')).toBeLessThanOrEqual(attributed + 1e-6);
      // The last hour's gauge: every account of the last 60 minutes, in its own series or in (other).
      const hour = (await investigate(new SqliteReadStore(store), { from: through - 60 * MIN, to: through })).suspects.filter((s) => s.account !== null);
      expect(near(sum(last, 'bytetrail_account_last_hour_bytes'), hour.reduce((a, s) => a + s.bytesIn + s.bytesOut, 0))).toBe(true);
      expect(family(last, 'bytetrail_account_last_hour_bytes').length).toBe(Math.min(10, new Set(hour.map((s) => s.account)).size) * 2 + 2);
      for (const u of inv.unattributed) expect(near(sum(last, 'bytetrail_unattributed_bytes_total', { reason: u.reason }), u.bytesIn + u.bytesOut), u.reason).toBe(true);
      const jan = inv.suspects.find((s) => s.account === 'jan@example.com')!;
      expect(near(sum(last, 'bytetrail_account_bytes_total', { account: 'jan@example.com', direction: 'out' }), jan.bytesOut)).toBe(true);
      expect(sum(last, 'bytetrail_findings_total', { kind: 'imap-resync' })).toBeGreaterThanOrEqual(1);
      const wire = store.flowTotals('pcap', first, through);
      expect(near(sum(last, 'bytetrail_interface_bytes_total', { direction: 'out', source: 'pcap' }), wire.bytesOut)).toBe(true);
      expect(near(sum(last, 'bytetrail_interface_bytes_total', { direction: 'in', source: 'pcap' }), wire.bytesIn)).toBe(true);
    } finally {
      store.close();
    }
  }, 300_000);
});

describe('watch --metrics: the account cap', () => {
  let dir: string;
  let cleanup: () => void;
  let store: Store;
  let metrics: WatchMetrics | null = null;
  beforeEach(() => { ({ dir, cleanup } = tempDir('bytetrail-metrics-cap-')); });
  afterEach(async () => {
    await metrics?.close();
    store?.close();
    cleanup();
  });

  it('10,000 accounts give exactly N+1 account series, and the sums stay whole', async () => {
    const N = 10, ACCOUNTS = 10_000;
    const w = new ScenarioWriter(5);
    const bytesOf = (i: number) => (i >= ACCOUNTS - N ? 1e9 + i : 1000 + i);
    // The top ten log out first, so they lead from the first minute on; the rest over 5 minutes.
    // Each session starts and ends within one minute: investigate splits a session's counters
    // over the windows it spans, rounding each part, and per-minute sums would drift by a byte.
    for (let i = 0; i < ACCOUNTS; i++) {
      const user = `user${i}@example.com`, ip = `198.51.100.${(i % 250) + 1}`;
      const t = i >= ACCOUNTS - N ? T0 + 1000 + (i % 100) * 100 : T0 + (1 + (i % 5)) * MIN + 1000 + Math.floor(i / 5);
      const s = w.imapLogin(t - 500, user, ip);
      w.imapLogout(t, user, s, 100, bytesOf(i));
    }
    // A later line moves the data clock past the last logout, so its minute closes.
    w.authFail(T0 + 10 * MIN, 'nobody@example.com', '203.0.113.9');
    const logs = join(dir, 'logs'), db = join(dir, 'bt.db');
    w.write(logs, { capture: false });
    expect(spawnCli(['ingest', '--db', db, logs]).status).toBe(0);

    store = openStore({ path: db });
    const ws = new WatchStore(store);
    metrics = new WatchMetrics(store, ws, { listen: { host: '127.0.0.1', port: 0 }, top: N, clock: 'data', settleMs: 0, processMetrics: false, notice: () => undefined });
    let minutes = 0;
    for (let n; (n = await metrics.tick(Date.now(), false)) > 0;) minutes += n;
    expect(minutes).toBe(10);
    const a = await metrics.listen();
    const s = parse((await get(`http://127.0.0.1:${a.port}/metrics`)).text);

    const top = new Set(Array.from({ length: N }, (_, k) => `user${ACCOUNTS - 1 - k}@example.com`));
    for (const name of ['bytetrail_account_bytes_total', 'bytetrail_account_last_hour_bytes']) {
      const series = family(s, name);
      expect(series.length, name).toBe((N + 1) * 2);
      expect(new Set(series.map((m) => m.labels!.account)), name).toEqual(new Set([...top, OTHER]));
    }
    const inv = await investigate(new SqliteReadStore(store), { from: T0, to: T0 + 10 * MIN });
    const attributedOut = inv.suspects.filter((x) => x.account !== null).reduce((t, x) => t + x.bytesOut, 0);
    expect(near(sum(s, 'bytetrail_account_bytes_total', { direction: 'out' }), attributedOut)).toBe(true);
    expect(near(sum(s, 'bytetrail_account_last_hour_bytes', { direction: 'out' }), attributedOut)).toBe(true);
    let rest = 0;
    for (let i = 0; i < ACCOUNTS - N; i++) rest += bytesOf(i);
    expect(sum(s, 'bytetrail_account_last_hour_bytes', { account: OTHER, direction: 'out' })).toBe(rest);
    expect(sum(s, 'bytetrail_account_bytes_total', { account: 'user9999@example.com', direction: 'out' })).toBe(bytesOf(9999));

    // Later, twenty other accounts outgrow the first top ten: the top changes, series come and
    // go, and no counter goes down from one scrape to the next.
    const w2 = new ScenarioWriter(6);
    for (let i = 0; i < 20; i++) {
      const user = `user${i}@example.com`;
      const sess = w2.imapLogin(T0 + 11 * MIN + 1000 + i * 100, user, '203.0.113.20');
      w2.imapLogout(T0 + 11 * MIN + 5000 + i * 100, user, sess, 100, 2e9 + i);
    }
    w2.authFail(T0 + 20 * MIN, 'nobody@example.com', '203.0.113.9');
    const more = join(dir, 'more');
    w2.write(more, { capture: false });
    appendFileSync(join(logs, 'mail.log'), readFileSync(join(more, 'mail.log')));
    expect(spawnCli(['ingest', '--db', db, logs]).status).toBe(0);
    for (let n; (n = await metrics.tick(Date.now(), false)) > 0;) minutes += n;
    expect(minutes).toBe(20);
    const s2 = parse((await get(`http://127.0.0.1:${a.port}/metrics`)).text);
    const top2 = new Set(Array.from({ length: N }, (_, k) => `user${19 - k}@example.com`));
    for (const name of ['bytetrail_account_bytes_total', 'bytetrail_account_last_hour_bytes']) {
      expect(new Set(family(s2, name).map((m) => m.labels!.account)), name).toEqual(new Set([...top2, OTHER]));
      expect(family(s2, name).length, name).toBe((N + 1) * 2);
    }
    for (const [k, v] of s.samples) {
      const now = s2.samples.get(k);
      if (k.includes('_total{') && now !== undefined) expect(now, k).toBeGreaterThanOrEqual(v);
    }
    // Accounts 0-9 sent 2e9 + i into (other) while outside the top; 10-19 entered the top with that minute.
    const otherBefore = sum(s, 'bytetrail_account_bytes_total', { account: OTHER, direction: 'out' });
    let movedToOther = 0;
    for (let i = 0; i < 10; i++) movedToOther += 2e9 + i;
    expect(sum(s2, 'bytetrail_account_bytes_total', { account: OTHER, direction: 'out' })).toBe(otherBefore + movedToOther);
  }, 300_000);
});

describe('watch --metrics on the wall clock', () => {
  it('counts a minute once, after it has settled, from the first minute that ends after the start', async () => {
    const { dir, cleanup } = tempDir('bytetrail-metrics-wall-');
    const store = openStore({ path: join(dir, 'bt.db') });
    const m = new WatchMetrics(store, new WatchStore(store), { listen: { host: '127.0.0.1', port: 0 }, top: 10, clock: 'wall', settleMs: 20_000, processMetrics: false, notice: () => undefined });
    try {
      const at = Date.UTC(2026, 10, 21, 14, 0);
      const flow = (minute: number, bytesOut: number) => ({ minute, iface: 'eth0', proto: 6, lip: '192.0.2.10', lport: 443, rip: '198.51.100.7', rport: 50000, service: 'https' as const, bytesIn: 1000, bytesOut, packetsIn: 10, packetsOut: 100 });
      // Before watch started: not counted. The minute 14:00-14:01, then a late one.
      store.addFlows('capture', [flow(at - MIN, 5e6), flow(at, 7e6)]);
      const out = async () => sum(parse(await m.scrape(undefined).then((r) => r.body)), 'bytetrail_interface_bytes_total', { interface: 'eth0', direction: 'out', source: 'capture' });
      expect(await m.tick(at + 30_000, false)).toBe(0);
      // 14:01:10: the minute ended, but has not settled for 20 s.
      expect(await m.tick(at + MIN + 10_000, false)).toBe(0);
      expect(await out()).toBe(0);
      expect(await m.tick(at + MIN + 20_000, false)).toBe(1);
      expect(await out()).toBe(7e6);
      // Judged again, or a row arriving late for a minute already counted: nothing twice.
      expect(await m.tick(at + MIN + 50_000, false)).toBe(0);
      store.addFlows('capture', [flow(at, 1e6)]);
      store.addFlows('capture', [flow(at + MIN, 2e6)]);
      expect(await m.tick(at + 2 * MIN + 20_000, false)).toBe(1);
      expect(await out()).toBe(9e6);
      const text = (await m.scrape(undefined)).body;
      expect(parse(text).samples.get('bytetrail_accounted_through_timestamp_seconds{}')).toBe((at + 2 * MIN) / 1000);
    } finally {
      await m.close();
      store.close();
      cleanup();
    }
  });
});

describe('contrib/grafana dashboard', () => {
  it('is valid JSON whose every query names only metrics bytetrail exports', async () => {
    const { dir, cleanup } = tempDir('bytetrail-grafana-');
    const store = openStore({ path: join(dir, 'bt.db') });
    try {
      // The names a running watch exports (histograms add their _bucket, _sum and _count).
      const m = new WatchMetrics(store, new WatchStore(store), { listen: { host: '127.0.0.1', port: 0 }, top: 10, clock: 'wall', settleMs: 0, notice: () => undefined });
      const exported = new Set<string>();
      for (const f of await m.registry.getMetricsAsJSON()) {
        exported.add(f.name);
        if (f.type === 'histogram') for (const x of ['_bucket', '_sum', '_count']) exported.add(f.name + x);
      }
      expect(exported.has('bytetrail_service_bytes_total')).toBe(true);

      const dash = JSON.parse(readFileSync(join(ROOT, 'contrib', 'grafana', 'bytetrail.json'), 'utf8')) as {
        panels: Array<{ title: string; targets?: Array<{ expr: string }> }>; templating: { list: Array<{ definition?: string }> };
      };
      const exprs = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ where: p.title, expr: t.expr })));
      expect(exprs.length).toBeGreaterThan(10);
      const used = new Set<string>();
      for (const { where, expr } of exprs) {
        // Grafana's interval variables are not PromQL: a duration stands in for them.
        const q = expr.replace(/\$__(rate_interval|interval|range)/g, '5m');
        const names: string[] = [];
        let error = false;
        promql.parse(q).iterate({
          enter: (n) => {
            if (n.type.isError) error = true;
            if (n.name === 'VectorSelector') {
              const id = n.node.getChild('Identifier');
              if (id) names.push(q.slice(id.from, id.to)); else error = true;
            }
          },
        });
        expect(error, `${where}: ${expr}`).toBe(false);
        expect(names.length, `${where}: ${expr}`).toBeGreaterThan(0);
        for (const n of names) { expect(exported, `${where}: ${n}`).toContain(n); used.add(n); }
      }
      for (const v of dash.templating.list) {
        for (const n of /label_values\((\w+)/.exec(v.definition ?? '')?.slice(1) ?? []) expect(exported).toContain(n);
      }
      expect(used.size).toBeGreaterThan(10);
    } finally {
      store.close();
      cleanup();
    }
  });
});
