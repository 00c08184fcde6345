/**
 * Counter snapshots through `ingest` into a real SQLite file: OpenVPN status files, conntrack
 * listings and vnstat exports. Exact deltas, where they land in time, leases, interface totals,
 * and the idempotence of reading a snapshot twice.
 */
import { copyFileSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flowHandlers } from '../../src/flows/handlers.js';
import { spreadOver } from '../../src/flows/snapshots.js';
import { ingestPaths, type IngestOptions, type IngestSummary } from '../../src/ingest/index.js';
import { openStore, type FlowRow, type Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
const T = (h: number, m: number, s = 0) => Date.UTC(2026, 10, 20, h, m, s);
const NOW = T(12, 0);
const DAY = { from: T(0, 0), to: T(23, 59) };

let dir: string;
let cleanup: () => void;
let store: Store;
beforeEach(() => {
  ({ dir, cleanup } = tempDir('bytetrail-snapshots-'));
  store = openStore({ path: join(dir, 'bt.db') });
});
afterEach(() => {
  store.close();
  cleanup();
});

function ingest(paths: string[], extra: Partial<IngestOptions> = {}): Promise<IngestSummary> {
  return ingestPaths(store, paths, { tz: 'UTC', now: NOW, handlers: flowHandlers(), settleMs: 0, ...extra });
}

/** A copy of a fixture (or new text) in the temp dir, with its mtime set: conntrack takes the listing's time from it. */
function place(name: string, content: { fixture: string } | { text: string }, mtime?: number): string {
  const p = join(dir, name);
  if ('fixture' in content) copyFileSync(join(FIXTURES, content.fixture), p);
  else writeFileSync(p, content.text);
  if (mtime !== undefined) utimesSync(p, mtime / 1000, mtime / 1000);
  return p;
}

interface Conn { bytesIn: number; bytesOut: number; packetsIn: number; packetsOut: number; rows: number; first: string; last: string }

/** Flow records of one source summed per connection: `proto rip:rport lip:lport`. */
function byConnection(source: string, from = DAY.from, to = DAY.to): Record<string, Conn> {
  const out: Record<string, Conn> = {};
  const hhmm = (t: number) => new Date(t).toISOString().slice(11, 16);
  for (const f of store.flowsInRange(source, from, to).sort((a, b) => a.minute - b.minute)) {
    const k = `${f.proto} ${f.rip}:${f.rport} ${f.lip}:${f.lport}`;
    const c = (out[k] ??= { bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0, rows: 0, first: hhmm(f.minute), last: '' });
    c.bytesIn += f.bytesIn; c.bytesOut += f.bytesOut; c.packetsIn += f.packetsIn; c.packetsOut += f.packetsOut;
    c.rows++;
    c.last = hhmm(f.minute);
  }
  return out;
}

const counters = (conns: Record<string, Conn>) => Object.fromEntries(Object.entries(conns).map(([k, c]) => [k, [c.bytesIn, c.bytesOut, c.packetsIn, c.packetsOut]]));
const sum = (rows: FlowRow[], rip: string) => rows.filter((r) => r.rip === rip).reduce((a, r) => [a[0] + r.bytesIn, a[1] + r.bytesOut], [0, 0]);

describe('spreadOver', () => {
  it('splits counters over the minutes of [since, ts) in proportion to time, with exact sums', () => {
    expect(spreadOver(T(9, 58, 30), T(10, 1), [1000, 7])).toEqual([
      { minute: T(9, 58), values: [200, 1] }, { minute: T(9, 59), values: [400, 3] }, { minute: T(10, 0), values: [400, 3] },
    ]);
    expect(spreadOver(T(10, 0), T(10, 0, 20), [5])).toEqual([{ minute: T(10, 0), values: [5] }]);
    // No span: the minute of the snapshot.
    expect(spreadOver(T(10, 5), T(10, 5), [9])).toEqual([{ minute: T(10, 5), values: [9] }]);
    // File times carry fractions of a millisecond.
    expect(spreadOver(T(10, 0) + 0.25, T(10, 1) + 30_000.75, [9]).reduce((a, r) => a + r.values[0], 0)).toBe(9);
  });

  it('uses coarser steps for long spans (3 days: 15 minutes), keeping the sum exact', () => {
    const rows = spreadOver(T(10, 0) - 3 * 86_400_000, T(10, 0), [2 ** 40 + 7]);
    expect(rows.length).toBe(288);
    expect(rows[1].minute - rows[0].minute).toBe(15 * 60_000);
    expect(rows.reduce((a, r) => a + r.values[0], 0)).toBe(2 ** 40 + 7);
  });
});

describe('OpenVPN status files', () => {
  it('v1: spreads each client back to Connected Since on the first snapshot, keeps leases, and reads a file once', async () => {
    const s = await ingest([join(FIXTURES, 'openvpn-status', 'v1.status')]);
    expect(s.errors).toEqual([]);
    const conns = byConnection('openvpn-status');
    expect(counters(conns)).toEqual({
      '17 203.0.113.5:51234 :1194': [1048576, 8388608, 0, 0],
      '17 203.0.113.7:40000 :1194': [52428800, 1073741824, 0, 0],
      '17 2001:db8::5:51235 :1194': [1200, 3400, 0, 0],
      '17 203.0.113.8:41000 :1194': [90194313216, 6442450944, 0, 0],
      '17 203.0.113.9:61000 :1194': [527, 0, 0, 0],
    });
    // Connected 08:00:00, status updated 09:20:02: minutes 08:00 to 09:20.
    expect(conns['17 203.0.113.5:51234 :1194']).toMatchObject({ rows: 81, first: '08:00', last: '09:20' });
    expect(conns['17 203.0.113.8:41000 :1194']).toMatchObject({ rows: 141, first: '07:00', last: '09:20' });
    // "The last 20 minutes" gets the share of the bytes that falls in it, not everything.
    const recent = store.flowsInRange('openvpn-status', T(9, 0), T(9, 21));
    expect(sum(recent, '203.0.113.5')).toEqual([262472, 2099773]);
    expect(sum(recent, '203.0.113.8')[0]).toBe(12903304510);
    expect(store.flowsInRange('openvpn-status', DAY.from, DAY.to).every((f) => f.service === 'openvpn' && f.iface === '' && f.lip === '')).toBe(true);

    const leases = store.leasesInRange(DAY.from, DAY.to).map((l) => [l.account, l.realIp, l.realPort, l.vip, l.firstTs, l.lastTs]);
    expect(leases.sort()).toEqual([
      ['client1', '203.0.113.5', 51234, '198.51.100.6', T(8, 0), T(9, 20, 2)],
      ['client1', '203.0.113.8', 41000, '198.51.100.18', T(7, 0), T(9, 20, 2)],
      ['client6', '2001:db8::5', 51235, '198.51.100.14', T(9, 10), T(9, 20, 2)],
      ['client6', '2001:db8::5', 51235, '2001:db8:0:123::1002', T(9, 10), T(9, 20, 2)],
      ['vpn client 02', '203.0.113.7', 40000, '198.51.100.10', T(9, 0), T(9, 20, 2)],
    ].sort());

    const before = store.counts();
    const again = await ingest([join(FIXTURES, 'openvpn-status', 'v1.status')]);
    expect(again.records).toEqual({});
    expect(store.counts()).toEqual(before);
    expect(store.leasesInRange(DAY.from, DAY.to)).toHaveLength(5);
  });

  it('a status file rewritten in place stays one stored file, and each rewrite adds its growth', async () => {
    const v1 = readFileSync(join(FIXTURES, 'openvpn-status', 'v1.status'), 'utf8');
    const at = (minute: number, received: number) => v1
      .replace('Updated,Fri Nov 20 09:20:02 2026', `Updated,Fri Nov 20 09:${minute}:02 2026`)
      .replace('client1,203.0.113.5:51234,1048576,', `client1,203.0.113.5:51234,${received},`);
    const path = place('openvpn-status.log', { text: at(20, 1048576) });
    await ingest([path]);
    const first = store.counts();
    for (const [minute, received] of [[21, 2097152], [22, 3145728]]) {
      writeFileSync(path, at(minute, received));
      expect((await ingest([path])).records).not.toEqual({});
    }
    expect(store.counts().files).toBe(first.files);
    // client1's bytes received by the server, 09:00 to 09:23: all of the last listing's counter.
    expect(sum(store.flowsInRange('openvpn-status', T(8, 0), T(9, 23)), '203.0.113.5')[0]).toBe(3145728);
  });

  it('a client\'s status file (OpenVPN STATISTICS) is one warning saying so, not a dozen unparsed lines', async () => {
    const p = place('client.status', { text: [
      'OpenVPN STATISTICS', 'Updated,2026-11-20 09:20:02', 'TUN/TAP read bytes,1048576', 'TUN/TAP write bytes,2097152',
      'TCP/UDP read bytes,2200000', 'TCP/UDP write bytes,1100000', 'Auth read bytes,2097152', 'pre-compress bytes,0',
      'post-compress bytes,0', 'pre-decompress bytes,0', 'post-decompress bytes,0', 'END', '',
    ].join('\n') }, T(9, 21));
    const r = await ingest([p]);
    expect(r.lines).toBe(0);
    expect(Object.values(r.unparsed).reduce((a, b) => a + b, 0)).toBe(0);
    expect(r.warnings).toEqual([`${p}: this is a client or point-to-point status file (OpenVPN STATISTICS): it lists no clients`]);
  });

  it('v2 and v3 (tab) files read the same way; the OpenVPN port comes from servicePorts', async () => {
    await ingest([join(FIXTURES, 'openvpn-status', 'v3.status')], { servicePorts: { openvpn: [1195] } });
    const conns = byConnection('openvpn-status');
    // laptop-7's row says 2^62 bytes, no count a server can mean: that row is the snapshot's one unparsed line.
    expect(Object.keys(conns).sort()).toEqual(['17 2001:db8::7:0 :1195', '17 203.0.113.11:50000 :1195']);
    expect(counters(conns)['17 203.0.113.11:50000 :1195']).toEqual([100, 200, 0, 0]);
    // 2.4's IPv6 clients have no port: real_port 0 stands for unknown.
    expect(store.leasesInRange(DAY.from, DAY.to).filter((l) => l.account === 'old24').map((l) => [l.realPort, l.vip]).sort())
      .toEqual([[0, '198.51.100.16'], [0, '2001:db8:0:123::2000']]);
  });

  /** A version 2 status file of one server: rows are [cn, real, vip, in, out, connected (UTC ms) or null]. */
  function status(at: number, rows: Array<[string, string, string, number, number, number | null]>, extra = ''): string {
    const t = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
    return [
      'TITLE,OpenVPN 2.6.8 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [MH/PKTINFO] [AEAD]',
      `TIME,${t(at)},${at / 1000}`,
      'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
      ...rows.map(([cn, real, vip, i, o, since]) => {
        const id = rows.findIndex((r) => r[0] === cn);
        return `CLIENT_LIST,${cn},${real},${vip},,${i},${o},${since === null ? '' : t(since)},${since === null ? '' : since / 1000},UNDEF,${id},${id},AES-256-GCM`;
      }),
      extra,
      'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
      ...rows.map(([cn, real, vip]) => `ROUTING_TABLE,${vip},${cn},${real},${t(at)},${at / 1000}`),
      'GLOBAL_STATS,Max bcast/mcast queue length,0',
      'END',
      '',
    ].filter((l, i, a) => l !== '' || i === a.length - 1).join('\n');
  }

  it('successive snapshots give deltas: a reconnect with a counter reset, a duplicate row, a client without Connected Since', async () => {
    const alice = 'alice', aliceReal = '203.0.113.20:40001', bobReal = '203.0.113.21:40002', carolReal = '203.0.113.22:40004';
    const s1 = place('s1.status', { text: status(T(10, 0), [
      [alice, aliceReal, '198.51.100.60', 6_000_000, 60_000_000, T(9, 30)],
      ['bob', bobReal, '198.51.100.61', 1000, 2000, T(9, 59)],
      ['carol', carolReal, '198.51.100.62', 5000, 5000, null],
    ]) });
    const r1 = await ingest([s1]);
    expect(r1.records).toEqual({ 'flow records and leases (openvpn-status)': 31 + 3 });
    // carol's counters cover an unknown time: the first snapshot takes them as the baseline.
    expect(r1.warnings.join('\n')).toMatch(/first status file: 1 client\(s\) without Connected Since \(10,000 bytes so far\) taken as the baseline, not counted/);
    expect(counters(byConnection('openvpn-status'))).toEqual({
      '17 203.0.113.20:40001 :1194': [6_000_000, 60_000_000, 0, 0],
      '17 203.0.113.21:40002 :1194': [1000, 2000, 0, 0],
    });
    const perMinute = store.flowsInRange('openvpn-status', T(9, 45), T(9, 46)).filter((f) => f.rip === '203.0.113.20');
    expect(perMinute.map((f) => [f.bytesIn, f.bytesOut])).toEqual([[200_000, 2_000_000]]);

    // Five minutes later: alice grew (and her row is written twice, word for word); bob reconnected
    // from the same address at 10:03 (counters back to small numbers); carol grew.
    const aliceRow: [string, string, string, number, number, number | null] = [alice, aliceReal, '198.51.100.60', 6_600_000, 66_000_000, T(9, 30)];
    const s2text = status(T(10, 5), [aliceRow, aliceRow, ['bob', bobReal, '198.51.100.61', 300, 600, T(10, 3)], ['carol', carolReal, '198.51.100.62', 5500, 5600, null]]);
    const r2 = await ingest([place('s2.status', { text: s2text })]);
    expect(r2.warnings.join('\n')).toMatch(/client row repeated word for word \(alice, 203\.0\.113\.20\); counted once/);
    const w2 = store.flowsInRange('openvpn-status', T(10, 0), T(10, 5));
    expect(sum(w2, '203.0.113.20')).toEqual([600_000, 6_000_000]);
    expect(sum(w2, '203.0.113.21')).toEqual([300, 600]);
    expect(sum(w2, '203.0.113.22')).toEqual([500, 600]);
    // bob's new session began at 10:03: its bytes are in 10:03 and 10:04 only.
    expect(w2.filter((f) => f.rip === '203.0.113.21').map((f) => [new Date(f.minute).toISOString().slice(11, 16), f.bytesIn])).toEqual([['10:03', 150], ['10:04', 150]]);

    // The same snapshot under another name adds nothing.
    const before = store.counts();
    expect((await ingest([place('s2-copy.status', { text: s2text })])).records).toEqual({});
    expect(store.counts()).toEqual(before);

    // Nothing new from alice; bob grew; carol left.
    await ingest([place('s3.status', { text: status(T(10, 10), [aliceRow, ['bob', bobReal, '198.51.100.61', 900, 1800, T(10, 3)]]) })]);
    expect(counters(byConnection('openvpn-status'))).toEqual({
      '17 203.0.113.20:40001 :1194': [6_600_000, 66_000_000, 0, 0],
      '17 203.0.113.21:40002 :1194': [1000 + 900, 2000 + 1800, 0, 0],
      '17 203.0.113.22:40004 :1194': [500, 600, 0, 0],
    });
    expect(store.leasesInRange(DAY.from, DAY.to).map((l) => [l.account, l.realPort, l.vip, l.firstTs, l.lastTs]).sort()).toEqual([
      ['alice', 40001, '198.51.100.60', T(9, 30), T(10, 10)],
      ['bob', 40002, '198.51.100.61', T(9, 59), T(10, 0)],
      ['bob', 40002, '198.51.100.61', T(10, 3), T(10, 10)],
      ['carol', 40004, '198.51.100.62', T(10, 0), T(10, 5)],
    ]);
  });
});

describe('conntrack listings', () => {
  /** The four fixture listings were taken at 09:00, 09:05, 09:10 and 09:15 UTC on a host in Europe/Berlin. */
  const TIMES = [T(9, 0), T(9, 5), T(9, 10), T(9, 15)];
  const BERLIN = { tz: 'Europe/Berlin' };
  const K = {
    imaps: '6 203.0.113.5:51234 192.0.2.10:993',
    smtpOut: '6 198.51.100.25:25 192.0.2.10:40000',
    forwarded: '6 198.51.100.130:40001 203.0.113.80:443',
    openvpn: '17 203.0.113.7:55000 192.0.2.10:1194',
    ping: '1 203.0.113.9:0 192.0.2.10:0',
    imaps6: '6 2001:db8::5:50100 2001:db8::10:993',
    rdp: '6 203.0.113.66:61000 192.0.2.10:3389',
  };

  it('turns successive listings into deltas: resets, a connection that vanishes and comes back, nothing twice', async () => {
    const snaps = TIMES.map((t, i) => place(`ct-${i + 1}.txt`, { fixture: `conntrack/snapshot-${i + 1}.txt` }, t));
    const r1 = await ingest([snaps[0]], BERLIN);
    expect(r1.warnings).toEqual([]);
    // The first listing: every entry has its start time, so all its bytes count, spread back to it.
    let conns = byConnection('conntrack');
    expect(counters(conns)).toEqual({
      [K.imaps]: [9800, 2_400_000, 120, 200],
      [K.smtpOut]: [2000, 52_000_000, 30, 40],
      [K.forwarded]: [80_000, 4_000_000, 1000, 3000],
      [K.openvpn]: [60_000, 900_000, 500, 800],
      [K.ping]: [84, 84, 1, 1],
      [K.imaps6]: [4000, 120_000, 50, 80],
      [K.rdp]: [44, 0, 1, 0],
    });
    expect(conns[K.openvpn]).toMatchObject({ rows: 30, first: '08:30', last: '08:59' });
    expect(conns[K.imaps]).toMatchObject({ rows: 2, first: '08:58', last: '08:59' });
    expect(store.flowsInRange('conntrack', DAY.from, DAY.to).find((f) => f.lport === 993 && f.rip === '203.0.113.5')?.service).toBe('imaps');
    expect(store.flowsInRange('conntrack', DAY.from, DAY.to).find((f) => f.lport === 40000)?.service).toBe('smtp');

    await ingest([snaps[1]], BERLIN);
    const w2 = byConnection('conntrack', T(9, 0), T(9, 5));
    expect(counters(w2)).toEqual({
      [K.imaps]: [11_200, 500_000, 180, 1800],
      [K.smtpOut]: [2000, 52_000_000, 30, 40],
      [K.forwarded]: [320_000, 16_000_000, 4000, 12_000],
      [K.openvpn]: [40_000, 800_000, 400, 700],
    });
    expect(w2[K.imaps].rows).toBe(5);

    // 09:10: the IMAP connection is a new one on the same 4-tuple (started 09:09:30 UTC), counted from zero; SMTP is missing.
    await ingest([snaps[2]], BERLIN);
    expect(counters(byConnection('conntrack', T(9, 9), T(9, 10)))[K.imaps]).toEqual([1200, 40_000, 10, 12]);
    // 09:15: SMTP is back with the same start: only its growth since 09:05 counts.
    await ingest([snaps[3]], BERLIN);
    conns = byConnection('conntrack');
    expect(counters(conns)).toEqual({
      [K.imaps]: [26_000, 3_500_000, 350, 2400],
      [K.smtpOut]: [4800, 130_000_000, 70, 100],
      [K.forwarded]: [440_000, 21_000_000, 5600, 16_000],
      [K.openvpn]: [110_000, 1_800_000, 1000, 1600],
      [K.ping]: [84, 84, 1, 1],
      [K.imaps6]: [4800, 150_000, 60, 95],
      [K.rdp]: [44, 0, 1, 0],
    });
    expect(conns[K.smtpOut]).toMatchObject({ rows: 16, first: '08:59', last: '09:14' });

    // Read again: nothing. An older listing not read before: refused, nothing added.
    const before = store.counts();
    expect((await ingest(snaps, BERLIN)).records).toEqual({});
    const older = await ingest([place('proc.txt', { fixture: 'conntrack/proc-nf_conntrack.txt' }, T(9, 1))], BERLIN);
    expect(older.records).toEqual({});
    expect(older.warnings.join('\n')).toMatch(/taken at 2026-11-20T09:01:00.000Z, before the last listing ingested \(2026-11-20T09:15:00.000Z\): its counters were not used/);
    expect(store.counts()).toEqual({ ...before, files: before.files + 1 });
  });

  it('a first listing without start times is a baseline; the next one counts the growth only', async () => {
    const r1 = await ingest([place('ids.txt', { fixture: 'conntrack/ids.txt' }, T(9, 0))]);
    expect(r1.records).toEqual({});
    const w = r1.warnings.join('\n');
    expect(w).toMatch(/2 line\(s\) are not conntrack entries/);
    expect(w).toMatch(/first listing: 5 connection\(s\) without a start time \(54,412,636 bytes so far\) taken as the baseline, not counted/);
    expect(store.counts().flows).toBe(0);
    const grown = 'ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.5 dst=192.0.2.10 sport=51234 dport=993 packets=150 bytes=12000 ' +
      'src=192.0.2.10 dst=203.0.113.5 sport=993 dport=51234 packets=260 bytes=3000000 [ASSURED] mark=0 use=1 id=3145728901\n';
    await ingest([place('ids-2.txt', { text: grown }, T(9, 5))]);
    const conns = byConnection('conntrack');
    expect(counters(conns)).toEqual({ [K.imaps]: [2200, 600_000, 30, 60] });
    expect(conns[K.imaps]).toMatchObject({ rows: 5, first: '09:00', last: '09:04' });
  });

  it('a listing of an empty table (only conntrack\'s trailer) is a listing: a connection first seen after it began after it', async () => {
    const imaps = 'ipv4     2 tcp      6 431999 ESTABLISHED src=203.0.113.5 dst=192.0.2.10 sport=51234 dport=993 packets=120 bytes=9800 ' +
      'src=192.0.2.10 dst=203.0.113.5 sport=993 dport=51234 packets=200 bytes=2400000 [ASSURED] mark=0 use=1\n';
    const smtp = 'ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=198.51.100.25 sport=40000 dport=25 packets=40 bytes=52000000 ' +
      'src=198.51.100.25 dst=192.0.2.10 sport=25 dport=40000 packets=30 bytes=2000 [ASSURED] mark=0 use=1\n';
    const empty = 'conntrack v1.4.7 (conntrack-tools): 0 flow entries have been shown.\n';
    // One entry is too few to tell the server's address from: it is given.
    const local = { localIps: ['192.0.2.10'] };
    await ingest([place('ct-0900.txt', { text: imaps }, T(9, 0))], local);
    const r = await ingest([place('ct-0905.txt', { text: empty }, T(9, 5))], local);
    expect(r.unparsed).toEqual({});
    expect(store.counts().events).toBe(0);
    await ingest([place('ct-0910.txt', { text: smtp }, T(9, 10))], local);
    // Not in the table at 09:05: its bytes belong to 09:05-09:10, not to the ten minutes since 09:00.
    const conns = byConnection('conntrack');
    expect(counters(conns)).toEqual({ [K.smtpOut]: [2000, 52_000_000, 30, 40] });
    expect(conns[K.smtpOut]).toMatchObject({ rows: 5, first: '09:05', last: '09:09' });
  });

  it('a listing too small to tell the server apart uses the address earlier listings showed', async () => {
    const imaps = (client: string, port: number) => `ipv4     2 tcp      6 431999 ESTABLISHED src=${client} dst=192.0.2.10 sport=${port} dport=993 packets=10 bytes=1000 ` +
      `src=192.0.2.10 dst=${client} sport=993 dport=${port} packets=20 bytes=200000 [ASSURED] mark=0 delta-time=60 use=1\n`;
    const busy = imaps('203.0.113.5', 51234) + imaps('203.0.113.6', 51235) + imaps('203.0.113.7', 51236);
    // Alone, this entry looks like a client talking to our port 25: the remote MTA would be taken for the server.
    const smtp = 'ipv4     2 tcp      6 431999 ESTABLISHED src=192.0.2.10 dst=198.51.100.25 sport=40000 dport=25 packets=40 bytes=52000000 ' +
      'src=198.51.100.25 dst=192.0.2.10 sport=25 dport=40000 packets=30 bytes=2000 [ASSURED] mark=0 delta-time=240 use=1\n';
    await ingest([place('ct-0900.txt', { text: busy }, T(9, 0))]);
    await ingest([place('ct-0905.txt', { text: smtp }, T(9, 5))]);
    const conns = byConnection('conntrack');
    expect(counters(conns)[K.smtpOut]).toEqual([2000, 52_000_000, 30, 40]);
    expect(Object.keys(conns).every((k) => k.endsWith(' 192.0.2.10:993') || k === K.smtpOut)).toBe(true);
  });

  it('says when accounting is off, and counts entries whose start delta-time gives', async () => {
    const r = await ingest([place('proc.txt', { fixture: 'conntrack/proc-nf_conntrack.txt' }, T(9, 0) + 0.5)]);
    const w = r.warnings.join('\n');
    expect(w).toMatch(/1 connection\(s\) without byte counters: accounting is off \(sysctl -w net\.netfilter\.nf_conntrack_acct=1\)/);
    expect(w).toMatch(/1 line\(s\) are not conntrack entries/);
    // Only the first entry has delta-time=120: counted over 08:58-08:59.
    expect(counters(byConnection('conntrack'))).toEqual({ [K.imaps]: [9800, 2_400_000, 120, 200] });
  });
});

describe('vnstat exports', () => {
  it('stores every series as interface totals, once; both 2.x layouts agree; a rate sample is refused', async () => {
    const berlin = { tz: 'Europe/Berlin' };
    const HOURS = [{ iface: 'eth0', rx: 524288000 + 4610588672, tx: 52428800 + 36700160 }, { iface: 'wg0', rx: 104857600, tx: 5368709120 }];
    const r = await ingest([join(FIXTURES, 'vnstat', 'v2-2.10.json')], berlin);
    expect(r.records).toEqual({ 'interface totals (vnstat)': 14 });
    expect(store.interfaceTotals('fiveminute', T(8, 0), T(8, 20))).toEqual([
      { iface: 'eth0', rx: 104857600 + 209715200 + 4294967296 + 1048576, tx: 5242880 + 10485760 + 20971520 + 524288 },
      { iface: 'wg0', rx: 52428800, tx: 3221225472 },
    ]);
    expect(store.interfaceTotals('hour', T(7, 0), T(9, 0))).toEqual(HOURS);
    const all = () => ['fiveminute', 'hour', 'day', 'month'].map((g) => store.interfaceTotals(g, 0, T(23, 0) + 400 * 86_400_000));
    const before = all();
    expect((await ingest([join(FIXTURES, 'vnstat', 'v2-2.10.json')], berlin)).records).toEqual({});
    // The same data without timestamps (vnstat 2.6), read in the host's zone: the same rows.
    await ingest([join(FIXTURES, 'vnstat', 'v2-2.6-no-timestamps.json')], berlin);
    expect(store.interfaceTotals('hour', T(7, 0), T(9, 0))).toEqual(HOURS);
    expect(all()).toEqual(before);
    for (let i = 0; i < 2; i++) {
      const tr = await ingest([join(FIXTURES, 'vnstat', 'v2-traffic-tr.json')], berlin);
      expect(tr.records).toEqual({});
      expect(tr.warnings.join('\n')).toMatch(/a vnstat --json rate sample \(-tr or --live\), not a database dump/);
    }
  });

  it('vnstat 1.x: KiB counters and the 24-hour ring', async () => {
    await ingest([join(FIXTURES, 'vnstat', 'v1-1.18.json')], { tz: 'Europe/Berlin' });
    // Slot 9 is 09:00 local, 08:00 UTC: 4502528 KiB received.
    expect(store.interfaceTotals('hour', T(8, 0), T(8, 1))).toEqual([{ iface: 'eth0', rx: 4502528 * 1024, tx: 35840 * 1024 }]);
  });
});

describe('all or nothing', () => {
  it('a snapshot whose write fails leaves no trace, and a stale engine state is refused', async () => {
    const file = store.createFile({ path: 'x', dev: null, ino: null, fpHash: 'h', fpLen: 1, kind: 'openvpn-status', size: null, mtime: null });
    const batch = {
      fileId: file.id, expectOffset: 0, newOffset: 10, newLines: 1, tailHash: null, events: [], aggs: [], stats: [], unparsed: [],
      leases: [{ account: 'a', realIp: '203.0.113.1', realPort: 1, vip: '198.51.100.1', firstTs: T(9, 0), lastTs: T(9, 1), source: 'openvpn-status' }],
      counterState: [{ key: 'k', value: 'new' }],
    };
    const snap = { kind: 'openvpn-status' as const, contentHash: 'c1', path: 'x', ts: T(9, 1) };
    // A flow with no service violates NOT NULL half-way through the transaction.
    const bad = { ...batch, flows: { source: 'openvpn-status', records: [{ minute: T(9, 0), iface: '', proto: 17, lip: '', lport: 1194, rip: '203.0.113.1', rport: 1, service: null as never, bytesIn: 1, bytesOut: 1, packetsIn: 0, packetsOut: 0 }] } };
    expect(() => store.commitSnapshot(bad, snap, { key: 'k', value: null })).toThrow(/cannot write/);
    expect(store.snapshotSeen('openvpn-status', 'c1')).toBe(false);
    expect(store.getState('k')).toBeNull();
    expect(store.leasesInRange(DAY.from, DAY.to)).toEqual([]);
    expect(store.fileById(file.id)?.offset).toBe(0);

    expect(store.commitSnapshot(batch, snap, { key: 'k', value: 'something else' })).toBe('raced');
    expect(store.getState('k')).toBeNull();
    expect(store.commitSnapshot(batch, snap, { key: 'k', value: null })).toBe('stored');
    expect(store.commitSnapshot({ ...batch, expectOffset: 10 }, snap, { key: 'k', value: 'new' })).toBe('seen');
    expect([store.getState('k'), store.leasesInRange(DAY.from, DAY.to).length, store.fileById(file.id)?.offset]).toEqual(['new', 1, 10]);
  });
});
