import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureOutput } from '@oclif/test';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Throttle from '../../src/commands/throttle.js';
import { baseEvent } from '../../src/events.js';
import { openStore } from '../../src/store/index.js';
import type { ThrottlePlan } from '../../src/throttle/plan.js';
import { resolveTarget, type AccountIpSource } from '../../src/throttle/resolve.js';

const ROOT = join(import.meta.dirname, '..', '..');
const HOSTILE = 'mallory$(touch /tmp/pwned)`id`;\n#';
let dir = '';
let db = '';

/** A fresh database with Dovecot logins: alice from two addresses, one of them behind NAT with bob. */
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'bytetrail-throttle-'));
  db = join(dir, 'bytetrail.db');
  const store = openStore({ path: db });
  const file = store.createFile({ path: '/var/log/mail.log', dev: 1, ino: 1, fpHash: 'x', fpLen: 1, kind: 'log', size: 100, mtime: 0 });
  const now = Date.now();
  const login = (account: string, rip: string, agoMs: number) => {
    const ev = baseEvent('dovecot', now - agoMs, 'mx1', 'dovecot', 'login');
    return { ev: { ...ev, account, rip, rport: 50000, lip: '192.0.2.1', lport: 993 }, line: 1, raw: 'raw' };
  };
  store.commitBatch({
    fileId: file.id, expectOffset: 0, newOffset: 100, newLines: 5, tailHash: null, aggs: [], stats: [], unparsed: [],
    events: [
      login('alice', '198.51.100.23', 3600e3),
      login('alice', '203.0.113.9', 7200e3),
      login('bob', '203.0.113.9', 7000e3),
      login('alice', '192.0.2.200', 5 * 86400e3),
      login(HOSTILE, '198.51.100.66', 60e3),
    ],
  });
  store.close();
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function run(args: string[]) {
  process.exitCode = undefined;
  const out = await captureOutput<ThrottlePlan>(() => Throttle.run(args, ROOT));
  const exitCode = process.exitCode;
  process.exitCode = undefined;
  return { ...out, exitCode };
}

describe('bytetrail throttle', () => {
  it('prints the apply script for an address, and nothing else on stdout', async () => {
    const r = await run(['198.51.100.23', '--rate', '2mbit', '--iface', 'eth0']);
    expect(r.error).toBeUndefined();
    expect(r.stdout.startsWith('#!/bin/sh\n# bytetrail throttle plan ')).toBe(true);
    expect(r.stdout).toContain('oifname "eth0" ip daddr 198.51.100.23 meta priority set');
    expect(r.stderr).toMatch(/plan [0-9a-f]{8}: 198\.51\.100\.23 at 2mbit on eth0 \(out, nft\)/);
  });

  it('resolves an account through the store and says which addresses are shared', async () => {
    const r = await run(['alice', '--rate', '2mbit', '--iface', 'eth0', '--db', db, '--json']);
    expect(r.error).toBeUndefined();
    const plan = JSON.parse(r.stdout) as ThrottlePlan;
    expect(plan.target).toEqual({ kind: 'account', name: 'alice', label: 'alice' });
    // The 5-day-old login is outside the default 24h window.
    expect(plan.clients.map((c) => [c.address, c.sharedWith])).toEqual([['198.51.100.23', []], ['203.0.113.9', ['bob']]]);
    expect(r.stderr).toContain('warning: 203.0.113.9 is shared with 1 other account(s) (NAT?): bob; throttling it slows them too');
    expect(Object.keys(plan.commands)).toEqual(['apply', 'undo', 'verify']);
    expect(plan).toEqual(r.result);

    const week = await run(['alice', '--rate', '2mbit', '--iface', 'eth0', '--db', db, '--json', '--since', '7d']);
    expect((JSON.parse(week.stdout) as ThrottlePlan).clients.map((c) => c.address)).toEqual(['192.0.2.200', '198.51.100.23', '203.0.113.9']);
  });

  it('keeps a hostile account name out of the script', async () => {
    const r = await run([HOSTILE, '--rate', '1mbit', '--iface', 'eth0', '--db', db, '--undo']);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toContain('# target:    account mallory%24%28touch%20%2Ftmp%2Fpwned%29%60id%60%3B%0A%23');
    expect(r.stdout).not.toContain('touch /tmp');
    expect(r.stdout).not.toContain('`id`');
  });

  it('writes the script to --out, executable, and keeps stdout empty', async () => {
    const out = join(dir, 'undo.sh');
    const r = await run(['192.0.2.10', '--rate', '2mbit', '--iface', 'eth0', '--undo', '--out', out]);
    expect(r.error).toBeUndefined();
    expect(r.stdout).toBe('');
    expect(readFileSync(out, 'utf8')).toMatch(/^#!\/bin\/sh\n# bytetrail throttle plan [0-9a-f]{8}: undo\n/);
    expect(statSync(out).mode & 0o777).toBe(0o755);
  });

  it.each([
    [['192.0.2.10', '--rate', '2', '--iface', 'eth0'], /--rate "2" has no unit\n  hint: tc would read a bare number as bytes per second/],
    [['192.0.2.10', '--rate', '2mbit', '--ceil', '1mbit', '--iface', 'eth0'], /ceil 1000000bit is below rate 2000000bit/],
    [['192.0.2.10', '--rate', '2mbit', '--iface', 'eth0;reboot'], /bad --iface name "eth0;reboot": only letters, digits/],
    [['192.0.2.10', '--rate', '2mbit', '--iface', 'eth0', '--ports', 'imap,70000'], /bad port "70000"/],
    [['192.0.2.5/24', '--rate', '2mbit', '--iface', 'eth0'], /host bits set under \/24\n  hint: for the network write 192\.0\.2\.0\/24/],
    [['192.0.2.300', '--rate', '2mbit', '--iface', 'eth0'], /not an IP address: "192\.0\.2\.300"/],
    [['nobody', '--rate', '2mbit', '--iface', 'eth0', '--db', '<db>'], /no addresses for account nobody between .*\n  hint: check the spelling/],
    [['alice', '--rate', '2mbit', '--iface', 'eth0', '--db', '/nonexistent/bytetrail.db'], /no database at \/nonexistent\/bytetrail\.db/],
  ])('refuses %j with a clear message', async (args, re) => {
    const r = await run(args.map((a) => (a === '<db>' ? db : a)));
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(re);
    expect(r.exitCode).toBeGreaterThan(0);
  });

  it.skipIf(process.getuid?.() === 0)('refuses --apply when not root, before printing or changing anything', async () => {
    const r = await run(['192.0.2.10', '--rate', '2mbit', '--iface', 'eth0', '--apply']);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('--apply needs root');
  });
});

describe('resolveTarget', () => {
  const fake = (rows: ReturnType<AccountIpSource['accountIps']>): { calls: unknown[][]; source: () => AccountIpSource } => {
    const calls: unknown[][] = [];
    return { calls, source: () => ({ accountIps: (...a: unknown[]) => { calls.push(a); return rows; } }) };
  };
  const window = { fromMs: 1000, toMs: 2000 };

  it('uses an address directly, without the store', async () => {
    const f = fake([]);
    expect(await resolveTarget('2001:DB8::1', window, f.source)).toEqual({ target: { kind: 'address', address: '2001:db8::1' }, window: null });
    expect(f.calls).toEqual([]);
  });

  it('asks the store for an account in the window', async () => {
    const f = fake([{ ip: '192.0.2.9', firstSeen: 1100, lastSeen: 1200, otherAccounts: [] }]);
    const r = await resolveTarget('alice@example.com', window, f.source);
    expect(f.calls).toEqual([['alice@example.com', 1000, 2000]]);
    expect(r.target).toEqual({ kind: 'account', name: 'alice@example.com' });
    expect(r.addresses).toHaveLength(1);
  });
});
