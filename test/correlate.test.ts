/**
 * The investigation without a capture: the logs' own counters (Dovecot in=/out=) and the
 * OpenVPN status file are all there is, and the result says so.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { overlapping } from '../src/correlate/identities.js';
import { investigate } from '../src/correlate/investigate.js';
import { liveSources } from '../src/correlate/run.js';
import { resolveWindow, parseDuration } from '../src/correlate/window.js';
import { flowHandlers } from '../src/flows/handlers.js';
import { ingestPaths } from '../src/ingest/index.js';
import { openStore, type Store } from '../src/store/index.js';
import { SqliteReadStore } from '../src/store/sqlite-read.js';
import { tempDir } from './helpers/cli.js';

const T = (s: string) => Date.parse(s);

describe('investigate from log counters alone', () => {
  let dir: string, cleanup: () => void, store: Store;
  beforeEach(() => { ({ dir, cleanup } = tempDir()); store = openStore({ path: join(dir, 'bt.db') }); });
  afterEach(() => { store.close(); cleanup(); });

  it('uses Dovecot in=/out= and says the bytes come from the logs', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, [
      '2026-11-20T08:05:00+00:00 mx1 dovecot: imap-login: Login: user=<jan@example.com>, method=PLAIN, rip=198.51.100.23, lip=192.0.2.10, mpid=101, TLS, session=<aaaa>',
      '2026-11-20T08:35:00+00:00 mx1 dovecot: imap(jan@example.com)<101><aaaa>: Logged out in=1000 out=900000000 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
      '2026-11-20T08:06:00+00:00 mx1 dovecot: imap-login: Login: user=<eva@example.com>, method=PLAIN, rip=198.51.100.40, lip=192.0.2.10, mpid=102, TLS, session=<bbbb>',
      '2026-11-20T08:20:00+00:00 mx1 dovecot: imap(eva@example.com)<102><bbbb>: Logged out in=500 out=2000000 deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0',
    ].join('\n') + '\n');
    await ingestPaths(store, [f], { tz: 'UTC', now: T('2026-11-21T00:00:00Z'), settleMs: 0, handlers: flowHandlers() });
    const inv = await investigate(new SqliteReadStore(store), { from: T('2026-11-20T08:00:00Z'), to: T('2026-11-20T10:00:00Z') });
    expect(inv.flowSource).toBe('log-counters');
    expect(inv.suspects[0]).toMatchObject({ account: 'jan@example.com', service: 'imap', bytesIn: 1000, bytesOut: 900000000, confidence: 'log-counters', direction: 'out' });
    expect(inv.notes.join(' ')).toMatch(/logs' own counters/);
    expect(inv.totals.bytesOut).toBe(902000000);
  });

  it('names VPN clients from the OpenVPN status file when there is no OpenVPN log', async () => {
    const status = (time: string, epoch: number, sent: number) => [
      'TITLE,OpenVPN 2.6.8 x86_64-pc-linux-gnu',
      `TIME,${time},${epoch}`,
      'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
      `CLIENT_LIST,alice,203.0.113.77:51820,198.51.100.66,,2000000,${sent},2026-11-20 08:00:00,${T('2026-11-20T08:00:00Z') / 1000},UNDEF,3,0,AES-256-GCM`,
      'CLIENT_LIST,bob,198.51.100.88:41000,198.51.100.67,,1000,3000,2026-11-20 08:00:00,' + T('2026-11-20T08:00:00Z') / 1000 + ',UNDEF,4,1,AES-256-GCM',
      'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
      'GLOBAL_STATS,Max bcast/mcast queue length,0',
      'END',
    ].join('\n') + '\n';
    const a = join(dir, 'status-1.log'), b = join(dir, 'status-2.log');
    writeFileSync(a, status('2026-11-20 09:00:00', T('2026-11-20T09:00:00Z') / 1000, 500_000_000));
    writeFileSync(b, status('2026-11-20 10:00:00', T('2026-11-20T10:00:00Z') / 1000, 1_500_000_000));
    await ingestPaths(store, [a], { tz: 'UTC', now: T('2026-11-21T00:00:00Z'), settleMs: 0, handlers: flowHandlers() });
    await ingestPaths(store, [b], { tz: 'UTC', now: T('2026-11-21T00:00:00Z'), settleMs: 0, handlers: flowHandlers() });
    const inv = await investigate(new SqliteReadStore(store), { from: T('2026-11-20T08:00:00Z'), to: T('2026-11-20T10:00:00Z') });
    expect(inv.suspects[0]).toMatchObject({ account: 'alice', service: 'vpn', direction: 'out', confidence: 'log-counters', ips: ['203.0.113.77'] });
    // Sent counters: 1.5 GB by 10:00, spread from the connect at 08:00.
    expect(inv.suspects[0].bytesOut).toBe(1_500_000_000);
  });
});

describe('windows', () => {
  it('reads durations and dates', () => {
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('1d12h')).toBe(129_600_000);
    expect(parseDuration('90m')).toBe(5_400_000);
    expect(parseDuration('2 hours')).toBeNull();
    const now = T('2026-11-20T10:00:00Z');
    expect(resolveWindow('2h', undefined, now)).toEqual({ from: T('2026-11-20T08:00:00Z'), to: now });
    expect(resolveWindow('2026-11-20T09:00:00Z', '2026-11-20T09:30:00Z', now)).toEqual({ from: T('2026-11-20T09:00:00Z'), to: T('2026-11-20T09:30:00Z') });
    expect(() => resolveWindow('yesterday', undefined, now)).toThrow(/neither a duration/);
    expect(() => resolveWindow('2026-11-20T11:00:00Z', undefined, now)).toThrow(/empty/);
  });
});

describe('overlapping', () => {
  // A small deterministic generator: the same lists on every run.
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  const brute = (list: Array<{ start: number; end: number }>, from: number, to: number, margin: number) =>
    list.filter((s) => s.start - margin < to && s.end + margin > from);

  it('finds exactly the sessions a full scan finds, sorted or not, short and long', () => {
    for (let round = 0; round < 200; round++) {
      const list = Array.from({ length: rnd(40) }, () => {
        const start = rnd(100_000);
        // Mostly short sessions, now and then one open for most of the range.
        return { start, end: start + (rnd(10) === 0 ? rnd(90_000) : rnd(3_000)) };
      });
      if (round % 2 === 0) list.sort((a, b) => a.start - b.start);
      for (let q = 0; q < 20; q++) {
        const from = rnd(100_000), to = from + rnd(5_000), margin = [0, 60_000, 300][q % 3];
        expect(overlapping(list, from, to, margin)).toEqual(brute(list, from, to, margin));
      }
    }
    expect(overlapping(undefined, 0, 1)).toEqual([]);
  });

  it('sees sessions added to a list after it was first searched', () => {
    const list = [{ start: 0, end: 10 }];
    expect(overlapping(list, 100_000, 100_001, 0)).toEqual([]);
    list.push({ start: 1, end: 200_000 });
    expect(overlapping(list, 100_000, 100_001, 0)).toEqual([{ start: 1, end: 200_000 }]);
  });
});

describe('investigate reads what is there now (live)', () => {
  it('as root: the conntrack table and the OpenVPN status files that exist', () => {
    const have = new Set(['/proc/net/nf_conntrack', '/run/openvpn-server/status-server.log']);
    expect(liveSources(0, (p) => have.has(p))).toEqual({ paths: ['/proc/net/nf_conntrack', '/run/openvpn-server/status-server.log'], note: null });
    expect(liveSources(0, () => false).note).toMatch(/^no \/proc\/net\/nf_conntrack \(nf_conntrack not loaded\)/);
  });

  it('not as root: one line on what it could not read and what that costs', () => {
    const r = liveSources(1000, () => true);
    expect(r.paths).toEqual([]);
    expect(r.note).toBe('not run as root: the conntrack table and OpenVPN\'s status files were not read, so connections still open count only once they log out (run it with sudo, or --no-live to skip this)');
  });
});
