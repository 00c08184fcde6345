/** Fixtures and golden files for the renderer tests: fixtures/render/. `UPDATE_GOLDEN=1` rewrites the goldens; read the diff. */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { Investigation } from '../../src/correlate/types.js';

export const RENDER_FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures', 'render');
export const SCHEMAS = join(import.meta.dirname, '..', '..', 'schemas');

/** A fresh copy each call, so that a test may change it. */
export function loadInvestigation(name: 'investigation' | 'empty' = 'investigation'): Investigation {
  return JSON.parse(readFileSync(join(RENDER_FIXTURES, `${name}.json`), 'utf8')) as Investigation;
}

export function loadSchema(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(SCHEMAS, `${name}.json`), 'utf8')) as Record<string, unknown>;
}

export function expectGolden(file: string, actual: string): void {
  const path = join(RENDER_FIXTURES, file);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, actual);
  if (!existsSync(path)) throw new Error(`no golden file ${path}: run UPDATE_GOLDEN=1 npx vitest run test/render and read it`);
  expect(actual).toBe(readFileSync(path, 'utf8'));
}

/** The fixture with hostile strings wherever the data reaches the page: account names, log lines, notes. */
export function hostileInvestigation(): Investigation {
  const inv = loadInvestigation();
  const evil = '<script>alert("acct")</script>@example.com';
  const line = 'Nov 20 09:02:11 mail dovecot: imap-login: Login: user=<</code></pre><script>alert(1)</script>>, rip=198.51.100.23 ``` | x | \x1b[2J\x1b]0;pwned\x07 <img src=x onerror=alert(2)>';
  inv.suspects[0].account = evil;
  inv.suspects[0].evidence.lines[0].text = line;
  inv.findings[3].subject = evil;
  inv.findings[3].summary = `${evil} downloads the mailbox again and again`;
  inv.findings[3].evidence.lines[0] = { ts: inv.findings[3].evidence.lines[0].ts, where: '/var/log/<b>mail</b>.log:1', text: line };
  inv.findings[3].evidence.facts.push('fact with <iframe src="https://example.com/"></iframe> and | pipes |');
  inv.timeline.buckets[7].top = evil;
  inv.notes.push('note <style>body{display:none}</style> & friends');
  inv.unattributed[0].reason = '<u>unknown</u>';
  inv.interfaceTotals![0].iface = 'eth0"><script>alert(3)</script>';
  inv.throttle!.target = evil;
  inv.throttle!.reason = `imap-resync: 9.41 GB sent to ${evil}`;
  inv.throttle!.command = `bytetrail throttle '${evil}' --rate 3mbit --direction out --ports 143,993`;
  inv.verdict = `${evil} (IMAP) caused 80% of outbound traffic`;
  return inv;
}
