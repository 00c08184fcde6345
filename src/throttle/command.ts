/**
 * The `bytetrail throttle` command line that investigate proposes, for an admin to paste into a
 * shell as printed. Its target comes from the data: an account may be named `--apply`, or hold
 * quotes, `$(…)`, spaces or control characters. It is shell-quoted, and it comes after `--`,
 * so that the parser never takes it for a flag.
 */
import { escapeControls } from '../output.js';

export interface ThrottleCommandOptions {
  target: string;
  rate: string;
  direction: string;
  ports: ReadonlyArray<string | number>;
  /** The window (UTC ms) in which the target's addresses are looked up. */
  since?: number;
  until?: number;
}

const at = (t: number) => new Date(t).toISOString().replace('.000Z', 'Z');

export function throttleCommandLine(o: ThrottleCommandOptions): string {
  return ['bytetrail', 'throttle', '--rate', shellQuote(o.rate), '--direction', shellQuote(o.direction),
    ...(o.ports.length ? ['--ports', shellQuote(o.ports.join(','))] : []),
    ...(o.since !== undefined ? ['--since', at(o.since)] : []), ...(o.until !== undefined ? ['--until', at(o.until)] : []),
    '--', shellQuote(o.target)].join(' ');
}

/**
 * One shell word: bare when it holds only characters no shell treats specially, else in single
 * quotes; a word with control characters as `$'…'` (bash, zsh, ksh) with them written as
 * `\x1b`, `\n` or `\u202e`, so that the printed line shows them and the shell still gets them.
 */
export function shellQuote(s: string): string {
  if (/^[A-Za-z0-9@%_+=:,./-]+$/.test(s)) return s;
  const visible = escapeControls(s);
  if (visible === s) return `'${s.replace(/'/g, `'\\''`)}'`;
  return `$'${escapeControls(s.replace(/\\/g, '\\\\').replace(/'/g, "\\'"))}'`;
}
