/** Shared pieces of the ingest-safety tests: generated logs and exact counts from the database. */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { rng } from '../../src/bench/generate.js';

/** A Dovecot login line; every one is stored as exactly one event (no aggregation). */
export function loginLine(i: number, tag = 'a'): string {
  const s = String(i % 60).padStart(2, '0');
  const m = String(Math.floor(i / 60) % 60).padStart(2, '0');
  return `Nov 20 08:${m}:${s} mx1 dovecot: imap-login: Login: user=<${tag}${i}@example.com>, method=PLAIN, rip=192.0.2.150, lip=192.0.2.5, mpid=${i}, session=<${tag}s${i}>\n`;
}

export function writeLog(path: string, from: number, n: number, tag = 'a'): void {
  const lines: string[] = [];
  for (let i = from; i < from + n; i++) lines.push(loginLine(i, tag));
  writeFileSync(path, lines.join(''));
}

/** Random bytes from a fixed seed. */
export function writeBinary(path: string, bytes: number, seed: number): void {
  const next = rng(seed);
  const b = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i++) b[i] = Math.floor(next() * 256);
  writeFileSync(path, b);
}

export function eventCount(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT count(*) AS n FROM events').get() as { n: number }).n;
  } finally {
    d.close();
  }
}

/** Events stored more than once for one line of one content (the same session key twice). */
export function duplicateEvents(db: string): number {
  const d = new Database(db, { readonly: true });
  try {
    return (d.prepare('SELECT coalesce(sum(n - 1), 0) AS n FROM (SELECT count(*) AS n FROM events GROUP BY session HAVING n > 1)').get() as { n: number }).n;
  } finally {
    d.close();
  }
}
