/**
 * Investigate speed on a database holding 30 days of a busy server, built directly through the
 * store (the same commitBatch ingest uses, without text to parse): 2,000 accounts, IMAP
 * sessions and SASL submissions around the clock, DNS and firewall aggregates, and a flow
 * record per minute for each active connection.
 */
import { existsSync, rmSync, statSync } from 'node:fs';
import type { LogEvent } from '../events.js';
import { investigate } from '../correlate/investigate.js';
import type { FlowRecord } from '../flows/types.js';
import { openStore, type AggInput, type StoredEventInput } from '../store/index.js';
import { openSqliteReadStore } from '../store/sqlite-read.js';
import { rng } from './generate.js';

const MIN = 60_000, HOUR = 3_600_000, DAY = 86_400_000;
const SERVER = '192.0.2.10';

function ev(ts: number, source: LogEvent['source'], kind: string, o: Partial<LogEvent>): LogEvent {
  return { ts, source, host: 'mx1', program: source, kind, account: null, rip: null, rport: null, lip: null, lport: null, session: null, bytesIn: null, bytesOut: null, attrs: null, ...o };
}

export async function buildBusyDb(path: string, days = 30, end = Date.UTC(2026, 10, 20, 12, 0, 0)): Promise<{ events: number; flows: number; seconds: number; mb: number }> {
  for (const s of ['', '-wal', '-shm']) rmSync(path + s, { force: true });
  const store = openStore({ path });
  const r = rng(5);
  const t0 = Date.now();
  const file = store.createFile({ path: '(bench)', dev: null, ino: null, fpHash: 'bench', fpLen: 0, kind: 'log', size: null, mtime: null });
  let offset = 0, nEvents = 0, nFlows = 0;
  const start = end - days * DAY;
  const accounts = Array.from({ length: 2000 }, (_, i) => ({ user: `user${i}@example.com`, ip: `${i % 2 ? '198.51.100' : '203.0.113'}.${1 + (i % 250)}` }));
  for (let h = start; h < end; h += HOUR) {
    const events: StoredEventInput[] = [];
    const aggs: AggInput[] = [];
    const flows: FlowRecord[] = [];
    // ~800 IMAP sessions an hour, each with a connection active for 10-40 minutes.
    for (let i = 0; i < 800; i++) {
      const a = accounts[Math.floor(r() * accounts.length)];
      const ts = h + Math.floor(r() * HOUR);
      const pid = 10000 + i, sid = `s${h}-${i}`;
      const dur = (10 + Math.floor(r() * 30)) * MIN;
      const out = Math.floor(r() * 20e6);
      events.push({ ev: ev(ts, 'dovecot', 'login', { account: a.user, rip: a.ip, lip: SERVER, session: `${pid}<${sid}>`, attrs: { service: 'imap', pid, sid, method: 'PLAIN', tls: true } }), line: ++offset, raw: `login ${a.user}` });
      events.push({ ev: ev(ts + dur, 'dovecot', 'logout', { account: a.user, session: `${pid}<${sid}>`, bytesIn: 20_000, bytesOut: out, attrs: { service: 'imap', pid, sid } }), line: ++offset, raw: `logout ${a.user}` });
      const cport = 40000 + (i % 20000);
      const mins = Math.ceil(dur / MIN);
      for (let m = 0; m < mins; m++) {
        const minute = ts - (ts % MIN) + m * MIN;
        flows.push({ minute, iface: 'eth0', proto: 6, lip: SERVER, lport: 993, rip: a.ip, rport: cport, service: 'imaps', bytesIn: 400, bytesOut: Math.floor(out / mins), packetsIn: 10, packetsOut: 20 });
      }
    }
    // ~300 submissions an hour with their deliveries.
    for (let i = 0; i < 300; i++) {
      const a = accounts[Math.floor(r() * accounts.length)];
      const ts = h + Math.floor(r() * HOUR), q = `Q${h.toString(36)}${i}`;
      const relay = `203.0.113.${100 + (i % 50)}`;
      events.push({ ev: ev(ts, 'postfix', 'sasl-login', { account: a.user, rip: a.ip, session: q, attrs: { service: 'submission' } }), line: ++offset, raw: `sasl ${a.user}` });
      events.push({ ev: ev(ts + 500, 'postfix', 'queued', { session: q, attrs: { size: 50_000, nrcpt: 2 } }), line: ++offset, raw: 'qmgr' });
      events.push({ ev: ev(ts + 1500, 'postfix', 'delivery', { session: q, rip: relay, rport: 25, attrs: { status: 'sent', to: 'x@example.net' } }), line: ++offset, raw: 'smtp' });
      const minute = ts - (ts % MIN);
      flows.push({ minute, iface: 'eth0', proto: 6, lip: SERVER, lport: 587, rip: a.ip, rport: 30000 + i, service: 'submission', bytesIn: 52_000, bytesOut: 2_000, packetsIn: 40, packetsOut: 20 });
      flows.push({ minute, iface: 'eth0', proto: 6, lip: SERVER, lport: 40000 + i, rip: relay, rport: 25, service: 'smtp', bytesIn: 2_000, bytesOut: 52_000, packetsIn: 20, packetsOut: 40 });
    }
    // DNS and firewall aggregates per minute.
    for (let m = 0; m < 60; m++) {
      const minute = h + m * MIN;
      for (let k = 0; k < 8; k++) {
        aggs.push({ minute, source: 'bind', kind: 'query', rip: `198.51.100.${k + 1}`, lport: 53, detail: 'A', count: 20, bytes: 0, firstTs: minute, lastTs: minute + 59_000, lip: SERVER, sampleLine: offset, sampleRaw: 'query' });
        aggs.push({ minute, source: 'netfilter', kind: 'drop', rip: `203.0.113.${200 + k}`, lport: 22, detail: 'tcp:drop', count: 3, bytes: 180, firstTs: minute, lastTs: minute + 59_000, lip: SERVER, sampleLine: offset, sampleRaw: 'drop' });
      }
    }
    const ok = store.commitBatch({ fileId: file.id, expectOffset: offset - events.length, newOffset: offset, newLines: offset, tailHash: null, events, aggs, stats: [], unparsed: [], flows: { source: 'pcap', records: flows } });
    if (!ok) throw new Error('bench: batch refused');
    nEvents += events.length; nFlows += flows.length;
  }
  store.close();
  const mb = ['', '-wal'].reduce((a, s) => a + (existsSync(path + s) ? statSync(path + s).size : 0), 0) / 1e6;
  return { events: nEvents, flows: nFlows, seconds: (Date.now() - t0) / 1000, mb };
}

export async function benchInvestigate(dir: string): Promise<void> {
  const path = `${dir}/busy30d.db`;
  const end = Date.UTC(2026, 10, 20, 12, 0, 0);
  process.stderr.write('bench: building a 30-day database of a busy server\n');
  const b = await buildBusyDb(path, 30, end);
  console.log(`\n## Investigate on 30 days of a busy server: ${b.events.toLocaleString('en-US')} events, ${b.flows.toLocaleString('en-US')} flow records, ${b.mb.toFixed(0)} MB (built in ${b.seconds.toFixed(0)} s)`);
  const store = openSqliteReadStore(path);
  for (const [label, span] of [['--since 2h', 2 * HOUR], ['--since 24h', 24 * HOUR]] as const) {
    const runs: number[] = [];
    let suspects = 0;
    for (let i = 0; i < 3; i++) {
      const t = process.hrtime.bigint();
      const inv = await investigate(store, { from: end - span, to: end });
      runs.push(Number(process.hrtime.bigint() - t) / 1e9);
      suspects = inv.suspects.length;
    }
    runs.sort((x, y) => x - y);
    console.log(`investigate ${label.padEnd(12)} ${runs[1].toFixed(2)} s (median of 3; ${suspects} suspects)   aim: ${span === 2 * HOUR ? '< 2 s' : '< 10 s'}`);
  }
  console.log(`peak RSS ${Math.round(process.resourceUsage().maxRSS / 1024)} MB`);
  await store.close();
}
