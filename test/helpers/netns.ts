/**
 * Two network namespaces joined by a veth pair, with documentation addresses, for tests that
 * capture real traffic. Names are unique per run; `destroy()` removes everything and kills
 * what was started inside, and is safe to call twice (call it from afterAll).
 *
 *   ns a: veth a, 192.0.2.1/24, 2001:db8:1::1/64   ←→   ns b: veth b, 192.0.2.2/24, 2001:db8:1::2/64
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { hasCommand, missingCommands } from './tools.js';

export interface NetnsPair {
  nsA: string;
  nsB: string;
  vethA: string;
  vethB: string;
  ipA: string;
  ipB: string;
  ip6A: string;
  ip6B: string;
  /** Run a command inside a namespace to completion; throws on a non-zero exit. */
  run(ns: string, cmd: string[], timeoutMs?: number): string;
  /** Start a long-running command inside a namespace; it is killed by destroy() if still alive. */
  start(ns: string, cmd: string[]): ChildProcess;
  destroy(): void;
}

/**
 * Why namespace tests cannot run here, or null when they can: they need root, `ip netns`,
 * and the listed commands.
 */
export function netnsUnavailable(commands: string[] = []): string | null {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'network namespaces need root';
  if (!hasCommand('ip')) return '`ip` (iproute2) is not installed';
  if (spawnSync('ip', ['netns', 'list'], { stdio: 'ignore' }).status !== 0) return '`ip netns` is not available';
  return missingCommands(commands);
}

export function createNetnsPair(): NetnsPair {
  const id = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`.slice(-9);
  const nsA = `bytetrail-${id}-a`;
  const nsB = `bytetrail-${id}-b`;
  const vethA = `bt${id}a`;
  const vethB = `bt${id}b`;
  const children: ChildProcess[] = [];
  let destroyed = false;
  const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

  const destroy = () => {
    if (destroyed) return;
    destroyed = true;
    for (const c of children) {
      if (c.exitCode === null && c.signalCode === null && c.pid !== undefined) {
        try { process.kill(c.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    for (const ns of [nsA, nsB]) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
  };

  try {
    ip('netns', 'add', nsA);
    ip('netns', 'add', nsB);
    ip('link', 'add', vethA, 'netns', nsA, 'type', 'veth', 'peer', 'name', vethB, 'netns', nsB);
    ip('-n', nsA, 'addr', 'add', '192.0.2.1/24', 'dev', vethA);
    ip('-n', nsB, 'addr', 'add', '192.0.2.2/24', 'dev', vethB);
    ip('-n', nsA, 'addr', 'add', '2001:db8:1::1/64', 'dev', vethA, 'nodad');
    ip('-n', nsB, 'addr', 'add', '2001:db8:1::2/64', 'dev', vethB, 'nodad');
    for (const [ns, dev] of [[nsA, vethA], [nsB, vethB]]) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  } catch (e) {
    destroy();
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`cannot set up network namespaces: ${err.stderr?.toString().trim() || err.message}`);
  }

  return {
    nsA, nsB, vethA, vethB,
    ipA: '192.0.2.1', ipB: '192.0.2.2', ip6A: '2001:db8:1::1', ip6B: '2001:db8:1::2',
    run(ns, cmd, timeoutMs = WAIT_MS) {
      return execFileSync('ip', ['netns', 'exec', ns, ...cmd], { timeout: timeoutMs, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    },
    start(ns, cmd) {
      // `ip netns exec` execs the command in place, so the child's pid is the command's.
      const c = spawn('ip', ['netns', 'exec', ns, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(c);
      return c;
    },
    destroy,
  };
}

/**
 * Bounds for waiting on a condition: generous, because a loaded 2-core CI machine can take tens
 * of seconds to start a process; a wait ends as soon as its condition holds, so they cost nothing.
 */
export const WAIT_MS = 90_000;

/** Resolve once `text` appears on the child's stderr or stdout (e.g. tcpdump's "listening on"). */
export function waitForOutput(c: ChildProcess, text: string, timeoutMs = WAIT_MS): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for "${text}"; got: ${seen.slice(-500)}`)), timeoutMs);
    const on = (d: Buffer) => {
      seen += d.toString();
      if (seen.includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    c.stderr?.on('data', on);
    c.stdout?.on('data', on);
    c.once('exit', (code) => {
      clearTimeout(timer);
      if (!seen.includes(text)) reject(new Error(`exited (${code}) before "${text}": ${seen.slice(-500)}`));
    });
  });
}

/**
 * Resolve once the file holds `marker` (a capture written with -U holds a packet as soon as
 * tcpdump has read it). Send a packet carrying a unique marker after the traffic a test counts,
 * and wait for it here before stopping tcpdump: tcpdump drops what is still in its kernel ring
 * when it is signalled, and on a loaded host it can lag by seconds, so no fixed wait is enough.
 */
export async function untilFileHolds(path: string, marker: string, timeoutMs = WAIT_MS): Promise<void> {
  const want = Buffer.from(marker);
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(path) && readFileSync(path).includes(want)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${JSON.stringify(marker)} in ${path}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Send SIGINT (tcpdump then writes out its buffers and exits) and wait for the exit. */
export function stopGracefully(c: ChildProcess, timeoutMs = 30_000): Promise<number | null> {
  return new Promise((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) return resolve(c.exitCode);
    const timer = setTimeout(() => {
      if (c.pid !== undefined) try { process.kill(c.pid, 'SIGKILL'); } catch { /* gone */ }
    }, timeoutMs);
    c.once('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
    if (c.pid !== undefined) process.kill(c.pid, 'SIGINT');
  });
}
