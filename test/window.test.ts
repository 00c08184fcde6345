/**
 * Windows as an admin types them: dates without a year, local times, bare numbers, and the
 * past window an investigation hands to the throttle it proposes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { parseInstant, resolveWindow } from '../src/correlate/window.js';
import type { Investigation } from '../src/correlate/types.js';
import { BytetrailError } from '../src/errors.js';
import { baseEvent } from '../src/events.js';
import { openStore } from '../src/store/index.js';
import type { ThrottlePlan } from '../src/throttle/plan.js';
import { runCli, spawnCli, tempDir } from './helpers/cli.js';

const T = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();
const NOW = T('2026-12-06T17:00:00Z');
const at = (s: string, tz = 'UTC', ref = NOW) => iso(parseInstant(s, 'since', tz, ref));

function failure(fn: () => unknown): BytetrailError {
  try {
    fn();
  } catch (err) {
    if (err instanceof BytetrailError) return err;
    throw err;
  }
  throw new Error('expected an error');
}

describe('dates without a year', () => {
  it('are the most recent such date, never 2001', () => {
    expect(at('Nov 20')).toBe('2026-11-20T00:00:00.000Z');
    expect(at('nov 20 09:14:02')).toBe('2026-11-20T09:14:02.000Z');
    expect(at('20 Nov')).toBe('2026-11-20T00:00:00.000Z');
    expect(at('November 20 09:00')).toBe('2026-11-20T09:00:00.000Z');
    // Still to come this year: last year's.
    expect(at('Dec 24')).toBe('2025-12-24T00:00:00.000Z');
    expect(at('Feb 29')).toBe('2024-02-29T00:00:00.000Z');
  });
  it('count back from --until, not from now', () => {
    expect(resolveWindow('Dec 24', 'Jan 2', T('2027-03-01T00:00:00Z'))).toEqual({ from: T('2026-12-24T00:00:00Z'), to: T('2027-01-02T00:00:00Z') });
  });
  it('a time alone is the most recent such time', () => {
    expect(at('09:00')).toBe('2026-12-06T09:00:00.000Z');
    expect(at('18:00')).toBe('2026-12-05T18:00:00.000Z');
  });
});

describe('local times', () => {
  it('are read in --tz, as the logs are; an explicit offset wins', () => {
    expect(at('2026-11-20 09:00', 'Europe/Berlin')).toBe('2026-11-20T08:00:00.000Z');
    expect(at('2026-11-20T09:00', 'America/New_York')).toBe('2026-11-20T14:00:00.000Z');
    expect(at('Nov 20 09:00', 'Europe/Berlin')).toBe('2026-11-20T08:00:00.000Z');
    expect(at('2026-11-20T09:00:00Z', 'Europe/Berlin')).toBe('2026-11-20T09:00:00.000Z');
    expect(at('2026-11-20T09:00+01:00', 'UTC')).toBe('2026-11-20T08:00:00.000Z');
  });
});

describe('bare numbers', () => {
  it.each(['1', '20', '2026'])('%s is a usage error with a hint, not a year', (n) => {
    const e = failure(() => resolveWindow(n, undefined, NOW));
    expect(e.exitCode).toBe(2);
    expect(e.message).toBe(`--since ${n} is a bare number: give a unit or a whole date`);
    expect(e.hint).toMatch(new RegExp(`^did you mean ${n}h\\?`));
  });
  it('and so is anything else that is not a date', () => {
    expect(failure(() => resolveWindow('yesterday', undefined, NOW)).message).toBe('--since is neither a duration nor a date: yesterday');
    expect(failure(() => resolveWindow('2026-13-40', undefined, NOW)).exitCode).toBe(2);
  });
});

describe('commands read windows in --tz', () => {
  const t = tempDir();
  const db = join(t.dir, 'bytetrail.db');
  beforeAll(() => {
    // alice logs in from one address on Nov 20 and from another on Dec 1: a past window finds the first only.
    const store = openStore({ path: db });
    const file = store.createFile({ path: '/var/log/mail.log', dev: 1, ino: 1, fpHash: 'x', fpLen: 1, kind: 'log', size: 100, mtime: 0 });
    const login = (rip: string, ts: string) => ({ ev: { ...baseEvent('dovecot', T(ts), 'mx1', 'dovecot', 'login'), account: 'alice', rip, rport: 50000, lip: '192.0.2.1', lport: 993 }, line: 1, raw: 'raw' });
    store.commitBatch({
      fileId: file.id, expectOffset: 0, newOffset: 100, newLines: 2, tailHash: null, aggs: [], stats: [], unparsed: [],
      events: [login('198.51.100.23', '2026-11-20T09:30:00Z'), login('203.0.113.9', '2026-12-01T09:30:00Z')],
    });
    store.close();
  });
  afterAll(() => t.cleanup());

  // As a child process: runCommand would split the arguments that hold a space.
  it('investigate --since "2026-11-20 09:00" --tz Europe/Berlin starts at 08:00 UTC', () => {
    const r = spawnCli(['investigate', '--db', db, '--no-ingest', '--json', '--tz', 'Europe/Berlin', '--since', '2026-11-20 09:00', '--until', '2026-11-20 11:00']);
    expect(r.stderr).toBe('');
    expect((JSON.parse(r.stdout) as Investigation).window).toEqual({ from: '2026-11-20T08:00:00.000Z', to: '2026-11-20T10:00:00.000Z' });
  });

  it('throttle --until resolves an account for a past incident', () => {
    const r = spawnCli(['throttle', 'alice', '--db', db, '--rate', '2mbit', '--iface', 'eth0', '--json', '--since', 'Nov 20', '--until', 'Nov 21']);
    expect(r.status).toBe(0);
    expect((JSON.parse(r.stdout) as ThrottlePlan).clients.map((c) => c.address)).toEqual(['198.51.100.23']);
  });

  it('a bad --since exits 2 with its hint', () => {
    const r = spawnCli(['investigate', '--db', db, '--no-ingest', '--since', '20']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('bytetrail: error: --since 20 is a bare number: give a unit or a whole date\n  hint: did you mean 20h?');
  });
});

describe('the throttle investigate proposes', () => {
  it('runs as printed for the demo, a past window', async () => {
    const inv = await runCli<Investigation>(['investigate', '--demo', '--json']);
    const cmd = inv.result!.throttle!.command;
    expect(cmd).toMatch(/ --since 2026-11-20T08:00:00Z --until 2026-11-20T10:00:00Z -- \S+$/);
    const args = cmd.split(' ');
    expect(args.slice(0, 2)).toEqual(['bytetrail', 'throttle']);
    // The route to the client is this machine's business; the point is that the account resolves.
    // Flags go before the `--` that ends them (the target after it may look like a flag).
    const end = args.indexOf('--');
    const r = await runCli<ThrottlePlan>([...args.slice(1, end), '--iface', 'eth0', '--json', ...args.slice(end)]);
    expect(r.error).toBeUndefined();
    expect(r.result?.target).toMatchObject({ kind: 'account', name: inv.result!.throttle!.target });
    expect(r.result?.clients.map((c) => c.address)).toEqual(inv.result!.throttle!.ips);
  });
});
