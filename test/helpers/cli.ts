import { runCommand } from '@oclif/test';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'run.js');

/** Run a command in-process through oclif (uses the built dist/). */
export async function runCli<T>(args: string[]) {
  return runCommand<T>(args, { root: ROOT });
}

/** Run the CLI as a child process, for exit codes, stdin and signals. */
export function spawnCli(args: string[], opts: { input?: string | Buffer; env?: NodeJS.ProcessEnv; uid?: number; gid?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [BIN, ...args], {
    input: opts.input, encoding: 'utf8', env: { ...process.env, ...opts.env }, uid: opts.uid, gid: opts.gid, maxBuffer: 64 << 20,
  });
}

export function spawnCliAsync(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawn(process.execPath, [BIN, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'bytetrail-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
