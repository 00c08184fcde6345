/**
 * `watch` as a child process, following real files in a temporary directory while the test
 * writes, rotates, truncates, deletes and kills. Every case asserts exact event counts in the
 * database, read with its own read-only connection. Runs the built dist/ (npm test builds it).
 */
import Database from 'better-sqlite3';
import { type ChildProcess, spawn } from 'node:child_process';
import { appendFileSync, chmodSync, copyFileSync, existsSync, linkSync, mkdirSync, renameSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, spawnCli, tempDir } from '../helpers/cli.js';

const FAST = ['--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', '--drain-ms', '600', '--check-ms', '200'];

/** Line `i`: a Postfix connect, unique by its pid, stored as one event. */
function line(i: number): string {
  const s = i % 60, m = Math.floor(i / 60) % 60;
  return `Nov 21 10:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')} mx1 postfix/smtpd[${10000 + i}]: connect from unknown[192.0.2.${(i % 250) + 1}]\n`;
}
const lines = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => line(from + k)).join('');

interface Running { child: ChildProcess; stderr: () => string; exited: Promise<number | null> }

function startWatch(db: string, args: string[], opts: { uid?: number; gid?: number } = {}): Running {
  const child = spawn(process.execPath, [BIN, 'watch', '--db', db, ...FAST, ...args], {
    env: { ...process.env, BYTETRAIL_NO_PROGRESS: '1' }, stdio: ['ignore', 'pipe', 'pipe'], uid: opts.uid, gid: opts.gid,
  });
  let err = '';
  child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
  child.stdout!.resume();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, stderr: () => err, exited };
}

function counts(db: string): { events: number; distinct: number } {
  if (!existsSync(db)) return { events: 0, distinct: 0 };
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    // (Once migration 12 is in: lines stored by reference are told apart by their check, a hash of their text.)
    const hasEvents = d.prepare("SELECT 1 FROM pragma_table_info('events') WHERE name = 'raw_check'").get();
    if (!hasEvents) return { events: 0, distinct: 0 };
    return d.prepare('SELECT count(*) AS events, count(DISTINCT coalesce(raw, raw_check)) AS "distinct" FROM events').get() as { events: number; distinct: number };
  } finally {
    d.close();
  }
}

/** What watch last saw of a followed path (size and time of its last read), from its state in the database. */
function watchView(db: string, path: string): { size: number | null; lastReadAt: number | null } | null {
  if (!existsSync(db)) return null;
  const d = new Database(db, { readonly: true, fileMustExist: true });
  try {
    return (d.prepare('SELECT size, last_read_at AS lastReadAt FROM watch_paths WHERE path = ?').get(path) as { size: number | null; lastReadAt: number | null } | undefined) ?? null;
  } catch {
    return null;
  } finally {
    d.close();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Generous by default: a loaded host can take tens of seconds to start watch; the wait ends as soon as `ok` holds. */
async function waitFor(what: string, ok: () => boolean, timeoutMs = 90_000): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** Wait until the database holds exactly `n` events, then a little longer to see that no more come. */
async function expectEvents(db: string, n: number, w: Running | null = null): Promise<void> {
  await waitFor(`${n} events (have ${counts(db).events})${w ? `\n${w.stderr()}` : ''}`, () => counts(db).events >= n);
  await sleep(400);
  expect(counts(db)).toEqual({ events: n, distinct: n });
}

async function stop(w: Running): Promise<number | null> {
  w.child.kill('SIGTERM');
  return w.exited;
}

describe('watch: following files', () => {
  let dir: string;
  let cleanup: () => void;
  let db: string;
  let running: Running[] = [];
  const watch = (args: string[], opts?: { uid?: number; gid?: number }) => { const w = startWatch(db, args, opts); running.push(w); return w; };
  beforeEach(() => {
    ({ dir, cleanup } = tempDir('bytetrail-watch-'));
    db = join(dir, 'bt.db');
    running = [];
  });
  afterEach(async () => {
    for (const w of running) if (w.child.exitCode === null && w.child.signalCode === null) { w.child.kill('SIGKILL'); await w.exited; }
    cleanup();
  });

  it('reads appends, only complete lines, and stops cleanly on SIGTERM; an ingest beside it adds nothing twice', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, lines(0, 50));
    const w = watch([f]);
    await expectEvents(db, 50, w);
    appendFileSync(f, lines(50, 80));
    // An ingest of the same file at the same time: offsets are shared, nothing is stored twice.
    const ing = spawnCli(['ingest', '--db', db, f]);
    expect(ing.status).toBe(0);
    await expectEvents(db, 80, w);
    // A line without its newline yet is left alone until it is complete. Wait until watch has
    // read the file with the half line in it (its own view, written every 2 s), not a fixed time
    // that a loaded host may spend before watch even looks.
    const half = line(80);
    const appendedAt = Date.now();
    appendFileSync(f, half.slice(0, 30));
    await waitFor('watch to read the half line', () => {
      const seen = watchView(db, f);
      return seen !== null && seen.size === statSync(f).size && seen.lastReadAt !== null && seen.lastReadAt >= appendedAt;
    });
    expect(counts(db).events).toBe(80);
    appendFileSync(f, half.slice(30) + lines(81, 100));
    await expectEvents(db, 100, w);

    // watch writes its view of its paths every 2 s: wait for the one that has seen line 100.
    const status = () => {
      const st = spawnCli(['status', '--db', db, '--json']);
      expect(st.status).toBe(0);
      return JSON.parse(st.stdout);
    };
    await waitFor('the status row of line 100', () => status().files[0]?.lines === 100);
    const s = status();
    expect(s.watch.running).toBe(true);
    expect(s.files).toHaveLength(1);
    expect(s.files[0]).toMatchObject({ path: f, state: 'following', kind: 'log', lagBytes: 0, lines: 100 });
    expect(s.db.totalBytes).toBeGreaterThan(0);

    expect(await stop(w)).toBe(0);
    expect(w.stderr()).toMatch(/stopping: finishing the current batch/);
    const after = JSON.parse(spawnCli(['status', '--db', db, '--json']).stdout);
    expect(after.watch.running).toBe(false);
    expect(after.watch.stoppedAt).not.toBeNull();
    expect(counts(db).events).toBe(100);
  });

  it('rename rotation: the lines before it, late writes to the renamed file and the new file are each read once', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, lines(0, 100));
    const w = watch([f]);
    await expectEvents(db, 100, w);
    // Written just before the rotation, not read yet.
    appendFileSync(f, lines(100, 120));
    // The rename, with the new file in place at the same instant: renaming and then creating
    // leaves a moment without the file, in which a loaded host may let watch look (and rightly
    // say it waits for it). A link and an atomic rename never leave the name empty.
    writeFileSync(f + '.new', lines(130, 170));
    linkSync(f, f + '.1');
    renameSync(f + '.new', f);
    // The daemon still writes to the old file until it reopens its log.
    appendFileSync(f + '.1', lines(120, 130));
    await expectEvents(db, 170, w);
    appendFileSync(f, lines(170, 180));
    await expectEvents(db, 180, w);
    expect(w.stderr()).not.toMatch(/waiting for/);
  });

  it('copytruncate rotation: the unread tail comes from the copy, the truncated file is read as new', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, lines(0, 100));
    const w = watch([f]);
    await expectEvents(db, 100, w);
    // logrotate copytruncate: copy, then truncate in place; the tail written before the copy was not read yet.
    appendFileSync(f, lines(100, 125));
    copyFileSync(f, f + '.1');
    truncateSync(f, 0);
    appendFileSync(f, lines(125, 140));
    await expectEvents(db, 140, w);
    // Again, this time with the file growing past its old size before watch looks.
    await sleep(300);
    appendFileSync(f, lines(140, 150));
    copyFileSync(f, f + '.1');
    truncateSync(f, 0);
    appendFileSync(f, lines(150, 300));
    await expectEvents(db, 300, w);
  });

  it('kill -9 and restart (with a rotation while it was down) resumes exactly where it stopped', async () => {
    const f = join(dir, 'mail.log');
    writeFileSync(f, '');
    const w1 = watch([f]);
    let n = 0;
    // Appends in small bursts while watch reads; kill it in the middle of them.
    for (let k = 0; k < 20; k++) { appendFileSync(f, lines(n, n + 50)); n += 50; await sleep(25); }
    await waitFor('some lines read', () => counts(db).events > 0);
    w1.child.kill('SIGKILL');
    await w1.exited;
    const atKill = counts(db).events;
    expect(atKill).toBeLessThanOrEqual(n);
    // While it is down: more lines, a rename rotation, and a new file.
    appendFileSync(f, lines(n, n + 100)); n += 100;
    renameSync(f, f + '.1');
    writeFileSync(f, lines(n, n + 100)); n += 100;
    const w2 = watch([f]);
    for (let k = 0; k < 10; k++) { appendFileSync(f, lines(n, n + 30)); n += 30; await sleep(20); }
    await expectEvents(db, n, w2);
    w2.child.kill('SIGKILL');
    await w2.exited;
    const w3 = watch([f]);
    appendFileSync(f, lines(n, n + 10)); n += 10;
    await expectEvents(db, n, w3);
  });

  it('a file deleted and created again: the old file is read to its end, the new one from its start', async () => {
    const f = join(dir, 'app.log');
    writeFileSync(f, lines(0, 60));
    const w = watch([f]);
    await expectEvents(db, 60, w);
    appendFileSync(f, lines(60, 80));
    unlinkSync(f);
    await sleep(150);
    writeFileSync(f, lines(80, 120));
    await expectEvents(db, 120, w);
    appendFileSync(f, lines(120, 125));
    await expectEvents(db, 125, w);
  });

  it('an OpenVPN status file rewritten in place is read as a snapshot each time and stored as counter deltas', async () => {
    const f = join(dir, 'openvpn-status.log');
    const t = (hms: string) => Date.parse(`2026-11-20T${hms}Z`);
    const stamp = (ms: number) => `${new Date(ms).toISOString().slice(0, 19).replace('T', ' ')},${ms / 1000}`;
    // OpenVPN's status-version 2: rewritten from the start every few seconds.
    const status = (time: string, clients: Array<[cn: string, real: string, vip: string, rx: number, tx: number, since: string]>) => [
      'TITLE,OpenVPN 2.6.8 x86_64-pc-linux-gnu [SSL (OpenSSL)] [LZO] [LZ4] [EPOLL] [PKCS11] [MH/PKTINFO] [AEAD] [DCO]',
      `TIME,${stamp(t(time))}`,
      'HEADER,CLIENT_LIST,Common Name,Real Address,Virtual Address,Virtual IPv6 Address,Bytes Received,Bytes Sent,Connected Since,Connected Since (time_t),Username,Client ID,Peer ID,Data Channel Cipher',
      ...clients.map(([cn, real, vip, rx, tx, since], i) => `CLIENT_LIST,${cn},${real},${vip},,${rx},${tx},${stamp(t(since))},UNDEF,${i},${i},AES-256-GCM`),
      'HEADER,ROUTING_TABLE,Virtual Address,Common Name,Real Address,Last Ref,Last Ref (time_t)',
      ...clients.map(([cn, real, vip]) => `ROUTING_TABLE,${vip},${cn},${real},${stamp(t(time) - 1000)}`),
      'GLOBAL_STATS,Max bcast/mcast queue length,0',
      'END',
      '',
    ].join('\n');
    const snapshots = (): number => {
      if (!existsSync(db)) return 0;
      const d = new Database(db, { readonly: true });
      try { return (d.prepare("SELECT count(*) AS n FROM snapshots WHERE kind = 'openvpn-status'").get() as { n: number }).n; } catch { return 0; } finally { d.close(); }
    };
    writeFileSync(f, status('09:20:00', [['alice', '203.0.113.5:51234', '198.51.100.6', 1000, 5000, '09:00:00'], ['bob', '198.51.100.77:40000', '198.51.100.7', 200, 300, '09:10:00']]));
    const w = watch([f]);
    await waitFor('the first snapshot', () => snapshots() === 1);
    writeFileSync(f, status('09:21:00', [['alice', '203.0.113.5:51234', '198.51.100.6', 1500, 9000, '09:00:00'], ['bob', '198.51.100.77:40000', '198.51.100.7', 250, 400, '09:10:00']]));
    await waitFor('the second snapshot', () => snapshots() === 2);
    // Bob has gone, Carol has come.
    writeFileSync(f, status('09:22:00', [['alice', '203.0.113.5:51234', '198.51.100.6', 1600, 20000, '09:00:00'], ['carol', '203.0.113.9:50000', '198.51.100.8', 10, 20, '09:21:30']]));
    await waitFor('the third snapshot', () => snapshots() === 3);
    await sleep(500);
    expect(snapshots()).toBe(3);
    const d = new Database(db, { readonly: true });
    try {
      // Each session counted from its connection, each byte once: the sums are the last counters.
      expect(d.prepare("SELECT rip, rport, lport, sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut FROM flows WHERE source = 'openvpn-status' GROUP BY rip, rport ORDER BY rip").all()).toEqual([
        { rip: '198.51.100.77', rport: 40000, lport: 1194, bytesIn: 250, bytesOut: 400 },
        { rip: '203.0.113.5', rport: 51234, lport: 1194, bytesIn: 1600, bytesOut: 20000 },
        { rip: '203.0.113.9', rport: 50000, lport: 1194, bytesIn: 10, bytesOut: 20 },
      ]);
      expect(d.prepare("SELECT min(minute) AS first, max(minute) AS last FROM flows WHERE source = 'openvpn-status'").get()).toEqual({ first: t('09:00:00'), last: t('09:21:00') });
      expect(d.prepare('SELECT account, real_ip AS realIp, vip, first_ts AS firstTs, last_ts AS lastTs FROM vpn_leases ORDER BY account').all()).toEqual([
        { account: 'alice', realIp: '203.0.113.5', vip: '198.51.100.6', firstTs: t('09:00:00'), lastTs: t('09:22:00') },
        { account: 'bob', realIp: '198.51.100.77', vip: '198.51.100.7', firstTs: t('09:10:00'), lastTs: t('09:21:00') },
        { account: 'carol', realIp: '203.0.113.9', vip: '198.51.100.8', firstTs: t('09:21:30'), lastTs: t('09:22:00') },
      ]);
    } finally {
      d.close();
    }
    // `status` shows the followed name (from watch's state, written every 2 s) with its kind.
    const status_ = () => JSON.parse(spawnCli(['status', '--db', db, '--json']).stdout) as { files: Array<{ path: string; kind: string | null; state: string }> };
    await waitFor('the status row', () => status_().files[0]?.kind === 'openvpn-status');
    expect(status_().files).toMatchObject([{ path: f, kind: 'openvpn-status', state: 'following' }]);
    expect(w.stderr()).not.toMatch(/not read by this build/);
  });

  it('a missing and an unreadable file are reported once, waited for, and read when they can be', async () => {
    const missing = join(dir, 'later.log');
    const secret = join(dir, 'secret.log');
    writeFileSync(secret, lines(0, 7));
    chmodSync(secret, 0o000);
    chmodSync(dir, 0o777);
    // As root every file is readable: run watch as nobody to see the permission error.
    const asRoot = process.getuid?.() === 0;
    const w = watch([missing, secret], asRoot ? { uid: 65534, gid: 65534 } : {});
    await waitFor('the first reports', () => /later\.log/.test(w.stderr()) && /secret\.log/.test(w.stderr()));
    await sleep(1500); // several sweeps and polls
    writeFileSync(missing, lines(7, 12));
    await expectEvents(db, 5, w);
    chmodSync(secret, 0o644);
    await expectEvents(db, 12, w);
    const err = w.stderr();
    expect(err.match(/waiting for .*later\.log/g)).toHaveLength(1);
    expect(err.match(/cannot read .*secret\.log: permission denied/g)).toHaveLength(1);
    expect(err.match(/now following .*later\.log/g)).toHaveLength(1);
    expect(err.match(/now following .*secret\.log/g)).toHaveLength(1);
  });

  it('follows a directory: files that appear in it are followed, rotated ones read once', async () => {
    const logs = join(dir, 'logs');
    mkdirSync(logs);
    writeFileSync(join(logs, 'a.log'), lines(0, 10));
    writeFileSync(join(logs, 'a.log.1'), lines(10, 15));
    const w = watch([logs]);
    await expectEvents(db, 15, w);
    writeFileSync(join(logs, 'b.log'), lines(15, 40));
    await expectEvents(db, 40, w);
    appendFileSync(join(logs, 'a.log'), lines(40, 45));
    renameSync(join(logs, 'a.log'), join(logs, 'a.log.1'));
    writeFileSync(join(logs, 'a.log'), lines(45, 50));
    await expectEvents(db, 50, w);
  });
});
