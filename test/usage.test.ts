/**
 * `bytetrail usage` and the hourly roll-ups: the figures are investigate's own, hour by hour, for
 * the end-to-end incidents; a re-read file, a late log line or a late flow recomputes its hour and
 * never counts twice; roll-ups outlive pruning; quotas alert once per account and period.
 */
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { investigate } from '../src/correlate/investigate.js';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import type { EvidenceMode } from '../src/demo/scenario.js';
import { openStore } from '../src/store/index.js';
import { WatchStore } from '../src/store/watch.js';
import { renderUsageCsv } from '../src/render/usage.js';
import { catchUp, HOUR_MS } from '../src/usage/rollup.js';
import { parseQuota, type UsageReport } from '../src/usage/report.js';
import { runRetention } from '../src/watch/retention.js';
import { AlertSinks } from '../src/watch/sinks.js';
import { type QuotaAlert, UsageWatch } from '../src/watch/usage.js';
import { BIN, runCli, spawnCli, tempDir } from './helpers/cli.js';
import { loadSchema } from './render/helpers.js';
import { validate } from './render/json-schema.js';
import { SqliteReadStore } from '../src/store/sqlite-read.js';

const SCHEMA = loadSchema('usage');
const cleanups: Array<() => void> = [];
afterAll(() => { for (const c of cleanups) c(); });

interface Setup { db: string; dir: string; files: string[]; inc: Incident }

async function setup(inc: Incident, mode?: EvidenceMode): Promise<Setup> {
  const { dir, cleanup } = tempDir('bytetrail-usage-');
  cleanups.push(cleanup);
  const { files } = mode ? inc.writer.writeMode(join(dir, 'logs'), mode, inc.from, inc.to) : inc.writer.write(join(dir, 'logs'));
  const db = join(dir, 'bt.db');
  await ingest(db, files);
  return { db, dir, files, inc };
}

async function ingest(db: string, files: string[]): Promise<void> {
  const r = await runCli(['ingest', '--db', db, ...files]);
  expect(r.error?.message).toBeUndefined();
}

async function usage(db: string, args: string[]): Promise<UsageReport> {
  const r = await runCli<UsageReport>(['usage', '--db', db, '--json', ...args]);
  expect(r.error?.message).toBeUndefined();
  const report = JSON.parse(r.stdout) as UsageReport;
  expect(validate(SCHEMA, report)).toEqual([]);
  return report;
}

type Sums = Map<string, { bytesIn: number; bytesOut: number }>;

function add(m: Sums, key: string, bytesIn: number, bytesOut: number): void {
  const v = m.get(key) ?? { bytesIn: 0, bytesOut: 0 };
  v.bytesIn += bytesIn; v.bytesOut += bytesOut;
  m.set(key, v);
}

/** investigate over each hour of [from, to), summed per account (`a:`) and per unattributed reason (`u:`). */
async function investigateHours(db: string, from: number, to: number): Promise<Sums> {
  const store = openStore({ path: db, readonly: true });
  try {
    const m: Sums = new Map();
    for (let h = from; h < to; h += HOUR_MS) {
      const inv = await investigate(new SqliteReadStore(store), { from: h, to: h + HOUR_MS });
      for (const s of inv.suspects) add(m, s.account !== null ? `a:${s.account}` : `u:${s.finding === 'dns-amplification' ? 'dns' : s.finding}`, s.bytesIn, s.bytesOut);
      for (const u of inv.unattributed) add(m, `u:${u.reason}`, u.bytesIn, u.bytesOut);
    }
    return m;
  } finally {
    store.close();
  }
}

/** The report's rows of one period kind, summed over its periods the same way. */
function reportSums(r: UsageReport): Sums {
  const m: Sums = new Map();
  for (const p of r.periods) {
    for (const l of p.rows) add(m, `a:${l.key}`, l.bytesIn, l.bytesOut);
    for (const u of p.unattributed) add(m, `u:${u.reason}`, u.bytesIn, u.bytesOut);
  }
  return m;
}

const iso = (t: number) => new Date(t).toISOString();
const sorted = (m: Sums) => [...m.entries()].sort((a, b) => a[0].localeCompare(b[0]));

describe('usage figures are investigate\'s, hour by hour', () => {
  const cases: Array<[string, () => Incident, EvidenceMode | undefined]> = [
    ['imap-resync, capture', () => INCIDENTS.imapResync(), undefined],
    ['vpn-heavy, capture', () => INCIDENTS.vpnHeavy(), undefined],
    ['spam-relay, capture', () => INCIDENTS.spamRelay(), undefined],
    ['shared-ip, staggered', () => INCIDENTS.sharedIp(16, 'staggered'), undefined],
    ['scan and brute force', () => INCIDENTS.scanAndBruteforce(), undefined],
    ['imap-resync, logs only with vnstat', () => INCIDENTS.imapResync(), 'logs'],
    ['vpn-heavy, one conntrack listing with vnstat', () => INCIDENTS.vpnHeavy(), 'listing'],
  ];
  it.each(cases)('%s', async (_, make, mode) => {
    const s = await setup(make(), mode);
    const { from, to } = s.inc;
    expect((to - from) % HOUR_MS).toBe(0);
    const hourly = await usage(s.db, ['--period', 'hour', '--since', iso(from), '--until', iso(to)]);
    const daily = await usage(s.db, ['--period', 'day', '--since', iso(from), '--until', iso(to)]);
    const expected = await investigateHours(s.db, from, to);
    expect(expected.size).toBeGreaterThan(0);
    expect(sorted(reportSums(hourly))).toEqual(sorted(expected));
    // The day stops at --until.
    expect(sorted(reportSums(daily))).toEqual(sorted(expected));
    expect(hourly.periods.map((p) => p.hours)).toEqual(Array.from({ length: (to - from) / HOUR_MS }, () => 1));
    // The culprit leads, and the confidence mix adds up to its bytes.
    const top = daily.periods[0].rows[0];
    if (s.inc.expect.account) expect(top.key).toBe(s.inc.expect.account);
    for (const l of daily.periods[0].rows) expect(Object.values(l.confidence).reduce((a, v) => a + v, 0)).toBe(l.bytesIn + l.bytesOut);
    if (mode) {
      // With vnstat the shares are of the interface's traffic.
      expect(daily.periods[0].shareBasis.iface).toBe('eth0');
      const eth0 = daily.periods[0].interfaces.find((i) => i.iface === 'eth0')!;
      expect(top.share).toBeCloseTo((top.bytesIn + top.bytesOut) / (eth0.rx + eth0.tx), 9);
    }
  }, 300_000);
});

describe('roll-ups are replaced, never added to', () => {
  it('a re-read changes nothing; a late log line and a late flow recompute their hours only', async () => {
    const s = await setup(INCIDENTS.imapResync());
    const { from, to } = s.inc;
    const now = to + 2 * HOUR_MS;
    const pass = async () => {
      const store = openStore({ path: s.db });
      try { return await catchUp(store, { now }); } finally { store.close(); }
    };
    expect((await pass()).computed).toBe(2);
    expect((await pass()).computed).toBe(0);
    const args = ['--period', 'hour', '--since', iso(from), '--until', iso(to)];
    const before = await usage(s.db, args);

    // The same files again: ingest reads nothing new, and no hour is computed again.
    await ingest(s.db, s.files);
    expect((await pass()).computed).toBe(0);
    expect(await usage(s.db, args)).toEqual(before);

    // A session logged late into the 08:00 hour: only the hours its lines can change are recomputed.
    const mail = s.files.find((f) => f.endsWith('mail.log'))!;
    appendFileSync(mail, [
      '2026-11-20T08:30:00.000000+00:00 mx1 dovecot: imap-login: Login: user=<late@example.com>, method=PLAIN, rip=203.0.113.77, lip=192.0.2.10, mpid=29999, TLS, session=<LateLateLate0001>',
      '2026-11-20T08:40:00.000000+00:00 mx1 dovecot: imap(late@example.com)<29999><LateLateLate0001>: Logged out in=1000 out=5000000 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
      '',
    ].join('\n'));
    await ingest(s.db, s.files);
    const late = await pass();
    expect(late.firstHour).toBe(from);
    const after = await usage(s.db, args);
    const lateRow = after.periods[0].rows.find((r) => r.key === 'late@example.com');
    expect(lateRow).toMatchObject({ bytesIn: 1000, bytesOut: 5_000_000, confidence: { logCounters: 5_001_000 } });
    expect(after.periods[1].rows.find((r) => r.key === 'late@example.com')).toBeUndefined();
    // Everything else as before, and as investigate says now: nothing counted twice.
    expect(sorted(reportSums(after))).toEqual(sorted(await investigateHours(s.db, from, to)));
    // (Its share moves: the evidence's total, which the shares are of without vnstat, grew.)
    const jan = (r: UsageReport) => r.periods.map((p) => ({ ...p.rows.find((x) => x.key === 'jan@example.com'), share: 0 }));
    expect(jan(after)).toEqual(jan(before));
    expect((await pass()).computed).toBe(0);

    // A flow stored late into 09:00 (a capture's last minute, a conntrack delta): that hour alone.
    const store = openStore({ path: s.db });
    try {
      store.addFlows('pcap', [{
        minute: from + HOUR_MS + 30 * 60_000, iface: 'eth0', proto: 6, lip: '192.0.2.10', lport: 443, rip: '203.0.113.200', rport: 51000, service: 'https',
        bytesIn: 2000, bytesOut: 3_000_000, packetsIn: 10, packetsOut: 2100,
      }]);
    } finally {
      store.close();
    }
    const flow = await pass();
    expect(flow).toEqual({ computed: 1, firstHour: from + HOUR_MS, lastHour: from + HOUR_MS });
    const third = await usage(s.db, args);
    expect(sorted(reportSums(third))).toEqual(sorted(await investigateHours(s.db, from, to)));
    expect(third.periods[0]).toEqual(after.periods[0]);
  }, 300_000);
});

describe('retention', () => {
  it('rolls every hour up before raw rows go, and keeps the roll-ups after', async () => {
    const s = await setup(INCIDENTS.vpnHeavy());
    const { from, to } = s.inc;
    const args = ['--period', 'day', '--since', iso(from), '--until', iso(to)];
    const store = openStore({ path: s.db });
    let report: UsageReport;
    try {
      const ws = new WatchStore(store);
      const uw = new UsageWatch(store, { quota: null, tz: 'UTC', host: 'mx1', emit: () => undefined, notice: () => undefined });
      // Nothing rolled up before: the retention pass rolls up first, then prunes.
      const r = await runRetention(ws, { keepMs: 30 * 24 * HOUR_MS, now: to + 31 * 24 * HOUR_MS, usage: { rollUpBefore: (c) => uw.rollUpBefore(c), prune: (b) => uw.prune(b) } });
      expect(r.eventsDeleted).toBeGreaterThan(0);
      expect(r.minuteRowsDeleted).toBeGreaterThan(0);
      expect(store.counts()).toMatchObject({ events: 0, flows: 0 });
    } finally {
      store.close();
    }
    report = await usage(s.db, args);
    expect(report.rolledUp.hours).toBeGreaterThanOrEqual(2);
    expect(report.periods[0].rows[0]).toMatchObject({ key: 'alice' });
    // A late file for a pruned hour does not reopen it: the roll-up stands.
    const again = openStore({ path: s.db });
    try {
      again.addFlows('pcap', [{ minute: from, iface: 'eth0', proto: 6, lip: '192.0.2.10', lport: 443, rip: '203.0.113.201', rport: 51001, service: 'https', bytesIn: 1, bytesOut: 1, packetsIn: 1, packetsOut: 1 }]);
      expect((await catchUp(again, { now: to + 40 * 24 * HOUR_MS })).computed).toBe(0);
    } finally {
      again.close();
    }
    expect(await usage(s.db, args)).toEqual(report);
  }, 300_000);
});

describe('quotas', () => {
  it('usage --over lists only the accounts above it, per its period', async () => {
    const s = await setup(INCIDENTS.imapResync());
    const r = await usage(s.db, ['--over', '1GB/day', '--since', iso(s.inc.from), '--until', iso(s.inc.to)]);
    expect(r.period).toBe('day');
    expect(r.over).toEqual({ bytes: 1e9, per: 'day', text: '1GB/day' });
    expect(r.periods[0].rows.map((x) => x.key)).toEqual(['jan@example.com']);
    expect(r.periods[0].unattributed).toEqual([]);
    const bad = spawnCli(['usage', '--db', s.db, '--over', '50GB']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/^bytetrail: error: --over is not a quota: 50GB\n  hint: give bytes per period: 50GB\/month/);
    expect(() => parseQuota('2 GiB/day', 'over')).not.toThrow();
    expect(parseQuota('2 GiB/day', 'over').bytes).toBe(2 * 1024 ** 3);
  }, 300_000);

  it('watch alerts once per account and period, through the sinks, also across a restart', async () => {
    const s = await setup(INCIDENTS.imapResync());
    const log = join(s.dir, 'alerts.jsonl');
    const lines: string[] = [];
    const run = async () => {
      const store = openStore({ path: s.db });
      try {
        const sinks = new AlertSinks(new WatchStore(store), { alertLog: log, execTimeoutMs: 1000, notice: () => undefined, write: (l) => lines.push(l) });
        const uw = new UsageWatch(store, { quota: parseQuota('500MB/day', 'quota'), tz: 'UTC', host: 'mx1', emit: (a) => sinks.emit(a), notice: () => undefined });
        // Twice: the second pass finds the alert already sent.
        await uw.tick(s.inc.to + 10 * 60_000);
        await uw.tick(s.inc.to + 20 * 60_000);
        await sinks.drain();
      } finally {
        store.close();
      }
    };
    await run();
    await run();
    const alerts = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as QuotaAlert);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({
      schema: 'bytetrail.quota/1', type: 'quota', incident: 'quota-2026-11-20-jan@example.com', account: 'jan@example.com',
      period: { kind: 'day', label: '2026-11-20', from: '2026-11-20T00:00:00.000Z', to: '2026-11-21T00:00:00.000Z' }, quota: { bytes: 500e6, text: '500MB/day' },
    });
    expect(alerts[0].usage.bytes).toBeGreaterThan(500e6);
    expect(lines).toEqual([`bytetrail: ${alerts[0].summary}\n`]);
    expect(alerts[0].summary).toMatch(/^QUOTA jan@example\.com: 1\.\d+ GB in \+ out in 2026-11-20 \(quota 500MB\/day\), counted through 2026-11-20 10:00 UTC$/);
  }, 300_000);
});

describe('watch --quota, as a service runs it', () => {
  const quotaLines = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8').split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as QuotaAlert) : []);
  const watch = (db: string, logs: string, alertLog: string) => {
    const child = spawn(process.execPath, [BIN, 'watch', '--db', db, logs, '--clock', 'data', '--quota', '100MB/day', '--alert-log', alertLog,
      '--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '300', '--check-ms', '200', '--usage-ms', '200', '--baseline-multiple', '0'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
    return { child, stderr: () => err, exited: new Promise<number | null>((r) => child.once('exit', (code) => r(code))) };
  };
  const waitFor = async (what: string, ok: () => boolean) => {
    const t0 = Date.now();
    while (!ok()) {
      if (Date.now() - t0 > 240_000) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  it('rolls hours up as the replayed data closes them and alerts once; a restart does not alert again', async () => {
    const { dir, cleanup } = tempDir('bytetrail-usage-watch-');
    cleanups.push(cleanup);
    const logs = join(dir, 'logs');
    INCIDENTS.imapResync().writer.write(logs);
    const db = join(dir, 'bt.db'), alertLog = join(dir, 'alerts.jsonl');
    const w = watch(db, logs, alertLog);
    await waitFor('the quota alert', () => quotaLines(alertLog).length > 0);
    w.child.kill('SIGTERM');
    expect(await w.exited).toBe(0);
    expect(quotaLines(alertLog).map((a) => [a.type, a.account, a.period.label])).toEqual([['quota', 'jan@example.com', '2026-11-20']]);
    expect(w.stderr()).toMatch(/bytetrail: QUOTA jan@example\.com: .* in \+ out in 2026-11-20 \(quota 100MB\/day\)/);

    const w2 = watch(db, logs, alertLog);
    await waitFor('the restarted watch', () => /watching/.test(w2.stderr()));
    await new Promise((r) => setTimeout(r, 3000));
    w2.child.kill('SIGTERM');
    expect(await w2.exited).toBe(0);
    expect(quotaLines(alertLog)).toHaveLength(1);
    const r = await usage(db, ['--period', 'hour', '--since', '2026-11-20T08:00Z', '--until', '2026-11-20T09:00Z']);
    expect(r.periods[0].rows[0].key).toBe('jan@example.com');
  }, 300_000);
});

describe('output shapes', () => {
  it('CSV: one line per period and row, then the rest and the unattributed traffic', async () => {
    const s = await setup(INCIDENTS.imapResync());
    const args = ['--period', 'hour', '--since', iso(s.inc.from), '--until', iso(s.inc.to)];
    const r = await runCli(['usage', '--db', s.db, '--csv', '--top', '2', ...args]);
    expect(r.error?.message).toBeUndefined();
    const rows = r.stdout.trimEnd().split('\n');
    expect(rows[0]).toBe('period_start,period_end,account,bytes_in,bytes_out,bytes_total,share,share_basis,exact,shared_ip,ip_only,log_counters,estimated');
    const report = await usage(s.db, [...args, '--top', '2']);
    expect(r.stdout).toBe(renderUsageCsv(report));
    const first = rows[1].split(',');
    expect(first.slice(0, 3)).toEqual(['2026-11-20T08:00:00.000Z', '2026-11-20T09:00:00.000Z', 'jan@example.com']);
    expect(Number(first[5])).toBe(Number(first[3]) + Number(first[4]));
    expect(rows.filter((l) => l.includes(',(others),'))).toHaveLength(2);
    expect(rows.some((l) => l.includes(',(no account: web),'))).toBe(true);
    const text = await runCli(['usage', '--db', s.db, ...args]);
    expect(text.stdout).toMatch(/^Traffic per account and hour, 2026-11-20 08:00 – 2026-11-20 10:00 UTC \(periods in UTC\)\n/);
    expect(text.stdout).toMatch(/\n2026-11-20 08:00 +jan@example\.com .* exact 100%\n/);
  }, 300_000);

  it('--by service and --by server sum the accounts; --account keeps one', async () => {
    const s = await setup(INCIDENTS.spamRelay());
    const args = ['--since', iso(s.inc.from), '--until', iso(s.inc.to)];
    const byAccount = await usage(s.db, args);
    const byService = await usage(s.db, [...args, '--by', 'service']);
    const byServer = await usage(s.db, [...args, '--by', 'server']);
    const total = (r: UsageReport) => r.periods[0].rows.reduce((a, l) => a + l.bytesIn + l.bytesOut, 0);
    expect(total(byService)).toBe(total(byAccount));
    expect(byServer.periods[0].rows).toHaveLength(1);
    expect(total(byServer)).toBe(total(byAccount));
    expect(byService.periods[0].rows.map((l) => l.key)).toContain('smtp');
    const one = await usage(s.db, [...args, '--account', s.inc.expect.account!]);
    expect(one.periods[0].rows.map((l) => l.key)).toEqual([s.inc.expect.account]);
    expect(one.periods[0].rows[0]).toEqual(byAccount.periods[0].rows.find((l) => l.key === s.inc.expect.account));
  }, 300_000);
});
