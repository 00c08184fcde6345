/**
 * The service behind `investigate` and `report`: optionally ingest new lines first, then
 * investigate a window. Commands stay thin; this is where the steps are put together.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
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

/**
 * What is there now, read at investigate time on the server (root only, but vnstat): the
 * connection table (the open connections' counters) and OpenVPN's status files.
 */
export const LIVE_SOURCES = [
  '/proc/net/nf_conntrack',
  '/run/openvpn-server/status-server.log', '/run/openvpn/server.status', '/var/log/openvpn/openvpn-status.log', '/var/log/openvpn/status.log', '/etc/openvpn/openvpn-status.log',
];

/**
 * The live sources to read, and one line on what could not be read and what that costs. Pure
 * but for `exists`; vnstat's export is fetched by the caller.
 */
export function liveSources(uid: number | null, exists: (p: string) => boolean): { paths: string[]; note: string | null } {
  if (uid !== 0) {
    return { paths: [], note: 'not run as root: the conntrack table and OpenVPN\'s status files were not read, so connections still open count only once they log out (run it with sudo, or --no-live to skip this)' };
  }
  const paths = LIVE_SOURCES.filter(exists);
  const note = paths.includes(LIVE_SOURCES[0]) ? null : 'no /proc/net/nf_conntrack (nf_conntrack not loaded): connections still open count only once they log out';
  return { paths, note };
}

/** `vnstat --json` now, into a file ingest can read; null without vnstat. */
function vnstatNow(dir: string): string | null {
  const r = spawnSync('vnstat', ['--json'], { encoding: 'utf8', timeout: 10_000, maxBuffer: 64 << 20 });
  if (r.error || r.status !== 0 || !r.stdout) return null;
  const p = join(dir, 'vnstat.json');
  writeFileSync(p, r.stdout);
  return p;
}

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
  /** Also read what is there now (LIVE_SOURCES, vnstat) when reading the standard locations. */
  live?: boolean;
}

export interface RunResult {
  investigation: Investigation; ingest: IngestSummary | null; dbPath: string;
  /** What the live reading could not read, in one line. */
  liveNote: string | null;
}

/** The bundled demo: the scenario written to a temporary folder and ingested into a fresh database. */
async function demoStore(tz: string): Promise<{ store: Store; ingest: IngestSummary; from: number; to: number; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'bytetrail-demo-'));
  const inc = INCIDENTS.demo();
  const { files } = inc.writer.write(join(dir, 'logs'), { gzipCapture: true, vnstat: { from: inc.from, to: inc.to } });
  const store = openStore({ path: join(dir, 'demo.db') });
  const ingest = await ingestPaths(store, files, { tz, now: Date.now(), settleMs: 0, handlers: flowHandlers(), localIps: ['192.0.2.10'] });
  return { store, ingest, from: inc.from, to: inc.to, dir };
}

export async function runInvestigation(o: RunOptions): Promise<RunResult> {
  if (o.demo) {
    const d = await demoStore('UTC');
    try {
      const inv = investigate(d.store, { from: d.from, to: d.to, vpnPorts: o.vpnPorts });
      return { investigation: inv, ingest: d.ingest, dbPath: d.store.path, liveNote: null };
    } finally {
      // The demo's files and database were only there for this run.
      d.store.close();
      rmSync(d.dir, { recursive: true, force: true });
    }
  }
  const store = openStore({ path: o.db });
  try {
    let summary: IngestSummary | null = null;
    let liveNote: string | null = null;
    const tmp = mkdtempSync(join(tmpdir(), 'bytetrail-live-'));
    try {
      if (o.ingest) {
        const paths = o.logs?.length ? o.logs : STANDARD_LOGS.filter((p) => existsSync(p));
        // The present only with the standard locations: explicit --logs are a past incident's files.
        if (o.live && !o.logs?.length) {
          const live = liveSources(process.getuid?.() ?? null, existsSync);
          liveNote = live.note;
          const vn = vnstatNow(tmp);
          paths.push(...live.paths, ...(vn ? [vn] : []));
        }
        if (paths.length) summary = await ingestPaths(store, paths, { tz: o.tz, now: o.now, handlers: flowHandlers(), localIps: o.localIps });
      }
      const w = resolveWindow(o.since, o.until, o.now);
      return { investigation: investigate(store, { from: w.from, to: w.to, vpnPorts: o.vpnPorts, source: o.source }), ingest: summary, dbPath: store.path, liveNote };
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } finally {
    store.close();
  }
}
