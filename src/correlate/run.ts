/**
 * The service behind `investigate` and `report`: optionally ingest new lines first, then
 * investigate a window. Commands stay thin; this is where the steps are put together.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INCIDENTS } from '../demo/incidents.js';
import { flowHandlers } from '../flows/handlers.js';
import { ingestPaths, type IngestSummary } from '../ingest/index.js';
import { openStore, type Store } from '../store/index.js';
import { investigate } from './investigate.js';
import type { Investigation } from './types.js';
import { resolveWindow } from './window.js';

/** Where a Debian/Ubuntu mail and VPN server keeps the logs bytetrail reads. */
export const STANDARD_LOGS = [
  '/var/log/mail.log', '/var/log/mail.log.1', '/var/log/syslog', '/var/log/kern.log', '/var/log/dovecot.log',
  '/var/log/openvpn', '/var/log/openvpn.log', '/var/log/named', '/var/log/bind', '/var/log/rspamd/rspamd.log', '/var/log/unbound.log',
];

export interface RunOptions {
  db?: string;
  since?: string;
  until?: string;
  tz: string;
  now: number;
  /** Paths to ingest first; defaults to the standard locations that exist. */
  logs?: string[];
  ingest: boolean;
  demo: boolean;
  localIps?: string[];
  vpnPorts?: number[];
  source?: string;
}

export interface RunResult { investigation: Investigation; ingest: IngestSummary | null; dbPath: string; warnings: string[] }

/**
 * On a journald-only machine none of STANDARD_LOGS exists. Not read here: the journal has no
 * file to remember an offset in, and reading a range twice would count it twice; piped from a
 * fixed start, ingest recognises the stream by its first lines and reads only what is new.
 */
export function noStandardLogs(from: number): string {
  return `none of the standard log locations exists here (looked for ${STANDARD_LOGS.join(', ')}), so nothing new was read. ` +
    `On a journald-only system feed the journal in (as root, or in group systemd-journal): journalctl -o json --since @${Math.floor(from / 1000)} | bytetrail ingest - ` +
    '(then investigate with --no-ingest); or name the logs with --logs, or install rsyslog to get /var/log/mail.log.';
}

/** The bundled demo: the scenario written to a temporary folder and ingested into a fresh database. */
async function demoStore(tz: string): Promise<{ store: Store; ingest: IngestSummary; from: number; to: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bytetrail-demo-'));
  const inc = INCIDENTS.demo();
  const { files } = inc.writer.write(join(dir, 'logs'), { gzipCapture: true });
  const store = openStore({ path: join(dir, 'demo.db') });
  const ingest = await ingestPaths(store, files, { tz, now: Date.now(), settleMs: 0, handlers: flowHandlers(), localIps: ['192.0.2.10'] });
  return { store, ingest, from: inc.from, to: inc.to, dir };
}

export async function runInvestigation(o: RunOptions): Promise<RunResult> {
  if (o.demo) {
    const d = await demoStore('UTC');
    try {
      const inv = investigate(d.store, { from: d.from, to: d.to, vpnPorts: o.vpnPorts });
      // The database stays (in its private temporary folder) so that the proposed throttle runs as printed.
      const db = /^[\w./-]+$/.test(d.store.path) ? d.store.path : `'${d.store.path.replace(/'/g, `'\\''`)}'`;
      if (inv.throttle) inv.throttle.command = inv.throttle.command.replace(/^bytetrail throttle /, `bytetrail throttle --db ${db} `);
      return { investigation: inv, ingest: d.ingest, dbPath: d.store.path, warnings: [] };
    } finally {
      d.store.close();
      rmSync(join(d.dir, 'logs'), { recursive: true, force: true });
    }
  }
  // A bad window is refused before anything is read.
  const w = resolveWindow(o.since, o.until, o.now, '2h', o.tz);
  const store = openStore({ path: o.db });
  try {
    let summary: IngestSummary | null = null;
    const warnings: string[] = [];
    if (o.ingest) {
      const paths = o.logs?.length ? o.logs : STANDARD_LOGS.filter((p) => existsSync(p));
      if (paths.length) summary = await ingestPaths(store, paths, { tz: o.tz, now: o.now, handlers: flowHandlers(), localIps: o.localIps });
      else warnings.push(noStandardLogs(w.from));
    }
    return { investigation: investigate(store, { from: w.from, to: w.to, vpnPorts: o.vpnPorts, source: o.source }), ingest: summary, dbPath: store.path, warnings };
  } finally {
    store.close();
  }
}
