/**
 * stdout carries results only; everything else (progress, warnings, debug) goes to stderr.
 */
export function warn(message: string): void {
  process.stderr.write(`bytetrail: warning: ${escapeControls(message)}\n`);
}

export function info(message: string): void {
  process.stderr.write(`bytetrail: ${escapeControls(message)}\n`);
}

export function debug(message: string): void {
  if (process.env.BYTETRAIL_DEBUG) process.stderr.write(`bytetrail: debug: ${escapeControls(message)}\n`);
}

/**
 * C0 and C1 controls and DEL (a log line's ESC sequences would move the cursor, recolour or
 * retitle the terminal; a newline would forge a line of our own), the line and paragraph
 * separators, and the bidi marks, embeddings, overrides and isolates that make a terminal show
 * text in another order than it is (U+202E "Trojan Source").
 */
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const SHORT: Record<string, string> = { '\t': '\\t', '\n': '\\n', '\r': '\\r' };

/**
 * Text from the data made safe for a terminal line or an environment variable: every control
 * character becomes a visible escape (`\x1b`, `\n`, `\u202e`), so that nothing in a log, an
 * account name or a capture's interface name can act on the terminal or forge a line. Used on
 * everything bytetrail prints or exports that came from its input.
 */
export function escapeControls(s: string): string {
  return s.replace(CONTROLS, (c) => {
    const n = c.charCodeAt(0);
    return SHORT[c] ?? (n < 0x100 ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u${n.toString(16).padStart(4, '0')}`);
  });
}

/** Human byte count: 1.4 GB, 512 KB (decimal units, as vnstat and the bill use). */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB', 'PB'];
  let v = n, u = 0;
  while (Math.abs(v) >= 1000 && u < units.length - 1) { v /= 1000; u++; }
  return u === 0 ? `${v} B` : `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ${units[u]}`;
}

/** Whether a progress bar may be drawn on stderr. */
export function progressAllowed(): boolean {
  return Boolean(process.stderr.isTTY) && !process.env.BYTETRAIL_NO_PROGRESS && !process.env.CI;
}

/**
 * Whether results on stdout may carry colour: a terminal that is not `TERM=dumb`, and no
 * NO_COLOR (no-color.org: set and not empty).
 */
export function colorAllowed(env: NodeJS.ProcessEnv = process.env, isTTY = Boolean(process.stdout.isTTY)): boolean {
  return isTTY && env.TERM !== 'dumb' && !env.NO_COLOR;
}
