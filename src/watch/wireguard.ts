/**
 * WireGuard logs nothing about its peers: its counters are the only evidence, so `watch` takes
 * a `wg show all dump` every interval itself when it runs as root and `wg` exists. Each dump
 * replaces one file beside the database (written aside, then renamed into place, so that no
 * reader ever sees half a dump); watch follows that file like an OpenVPN status file, and the
 * file's time is the snapshot's time (a dump carries none).
 */
import { execFile, spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Why watch takes no WireGuard dumps here, or null when it does. */
export function wgDumpsUnavailable(uid: number | null, hasWg: () => boolean = () => spawnSync('wg', ['--help'], { stdio: 'ignore' }).error === undefined): string | null {
  if (uid !== 0) return 'not root: `wg show all dump` needs root';
  if (!hasWg()) return '`wg` (wireguard-tools) is not installed';
  return null;
}

export interface WgDumper {
  /** The file the dumps replace. */
  path: string;
  /** Take one dump now (the first, before watch starts following). */
  once(): Promise<boolean>;
  stop(): void;
}

/** Dump into `dir`/wg-all.dump now and every `intervalMs`; `notice` hears each kind of failure once. */
export function startWgDumps(dir: string, intervalMs: number, notice: (m: string) => void): WgDumper {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, 'wg-all.dump');
  const said = new Set<string>();
  let running = false;
  const once = () => new Promise<boolean>((resolve) => {
    if (running) return resolve(false);
    running = true;
    execFile('wg', ['show', 'all', 'dump'], { timeout: 10_000, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      running = false;
      if (err) {
        const m = `wg show all dump failed: ${(String(stderr).trim().split('\n')[0] || err.message).slice(0, 200)}`;
        if (!said.has(m)) { said.add(m); notice(m); }
        return resolve(false);
      }
      const tmp = `${path}.tmp`;
      writeFileSync(tmp, stdout, { mode: 0o600 });
      renameSync(tmp, path);
      resolve(true);
    });
  });
  const timer = setInterval(() => { void once(); }, intervalMs);
  return { path, once, stop: () => clearInterval(timer) };
}
