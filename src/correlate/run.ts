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
import { SOURCE_LOG_PATHS } from '../sources/index.js';
import { openStore, type Store } from '../store/index.js';
import { investigate } from './investigate.js';
import type { Investigation } from './types.js';
import { resolveWindow } from './window.js';

/**
 * Where a Debian/Ubuntu mail and VPN server keeps the logs bytetrail reads: the general syslog,
 * then each source's own paths as it declares them (src/sources/).
 */
export const STANDARD_LOGS: readonly string[] = [...new Set(['/var/log/syslog', ...SOURCE_LOG_PATHS])];

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

export interface RunResult { investigation: Investigation; ingest: IngestSummary | null; dbPath: string }

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
      return { investigation: inv, ingest: d.ingest, dbPath: d.store.path };
    } finally {
      // The demo's files and database were only there for this run.
      d.store.close();
      rmSync(d.dir, { recursive: true, force: true });
    }
  }
  const store = openStore({ path: o.db });
  try {
    let summary: IngestSummary | null = null;
    if (o.ingest) {
      const paths = o.logs?.length ? o.logs : STANDARD_LOGS.filter((p) => existsSync(p));
      if (paths.length) summary = await ingestPaths(store, paths, { tz: o.tz, now: o.now, handlers: flowHandlers(), localIps: o.localIps });
    }
    const w = resolveWindow(o.since, o.until, o.now);
    return { investigation: investigate(store, { from: w.from, to: w.to, vpnPorts: o.vpnPorts, source: o.source }), ingest: summary, dbPath: store.path };
  } finally {
    store.close();
  }
}
