import { progressAllowed } from './output.js';

/** A one-line progress bar on stderr, drawn only on a terminal and for large inputs. */
export function progressBar(label: string, minTotal = 50 * 1024 * 1024): { update: (done: number, total: number) => void; end: () => void } {
  if (!progressAllowed()) return { update: () => undefined, end: () => undefined };
  let last = 0;
  let drawn = false;
  const t0 = Date.now();
  return {
    update(done, total) {
      if (total < minTotal) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const frac = Math.min(1, done / total);
      const width = 30;
      const fill = Math.round(frac * width);
      const rate = done / Math.max(1, (now - t0) / 1000) / 1e6;
      process.stderr.write(`\r${label} [${'#'.repeat(fill)}${'.'.repeat(width - fill)}] ${(frac * 100).toFixed(0)}% ${rate.toFixed(1)} MB/s `);
      drawn = true;
    },
    end() { if (drawn) process.stderr.write('\r\x1b[K'); },
  };
}
