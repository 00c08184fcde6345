/**
 * What a test needs from the machine, checked for real: a command is there when `command -v`
 * finds it on PATH (so a test run with a PATH that lacks a tool skips what needs it), and the
 * optional module cap is there when it loads. Each returns null when all is there, else the
 * reason to print in the skipped test's name.
 */
import { spawnSync } from 'node:child_process';

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', 'command -v "$1"', 'sh', name], { stdio: 'ignore' }).status === 0;
}

/** Null when every command is on PATH, else which are not. */
export function missingCommands(names: string[]): string | null {
  const missing = names.filter((n) => !hasCommand(n));
  return missing.length ? `not installed: ${missing.join(', ')}` : null;
}

/** Null when the optional module cap loads (libpcap-dev was there when it was built). */
export async function capUnavailable(): Promise<string | null> {
  try {
    // A name in a variable: cap is optional and ships no types.
    const name = 'cap';
    await import(name);
    return null;
  } catch (err) {
    return `the optional module cap cannot be loaded (${(err as Error).message.split('\n')[0]})`;
  }
}

/** The first reason that is not null: `why(a, b)` skips for a, else for b. */
export function why(...reasons: Array<string | null>): string | null {
  return reasons.find((r) => r !== null) ?? null;
}

/** " (skipped: reason)" for a test's name, or nothing when it runs. */
export function skipNote(reason: string | null): string {
  return reason === null ? '' : ` (skipped: ${reason})`;
}
