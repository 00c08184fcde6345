/**
 * stdout carries results only; everything else (progress, warnings, debug) goes to stderr.
 */
export function warn(message: string): void {
  process.stderr.write(`bytetrail: warning: ${message}\n`);
}

export function info(message: string): void {
  process.stderr.write(`bytetrail: ${message}\n`);
}

export function debug(message: string): void {
  if (process.env.BYTETRAIL_DEBUG) process.stderr.write(`bytetrail: debug: ${message}\n`);
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
