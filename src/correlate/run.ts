/**
 * The service behind `investigate` and `report`: optionally ingest new lines first, then
 * investigate a window. Commands stay thin; this is where the steps are put together.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, lstatSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INCIDENTS } from '../demo/incidents.js';
import { UserError } from '../errors.js';
import { flowHandlers } from '../flows/handlers.js';
import { ingestPaths, type IngestSummary } from '../ingest/index.js';
import { COUNTER_SOURCES } from '../sources/counters.js';
import { SOURCE_LOG_PATHS } from '../sources/index.js';
import { defaultDbPath, openStore, type Store } from '../store/index.js';
import { parseClickHouseUrl } from '../store/clickhouse/url.js';
import { openReadStore } from '../store/open.js';
import type { ReadStore } from '../store/read.js';
import { SqliteReadStore } from '../store/sqlite-read.js';
import { shellQuote } from '../throttle/command.js';
import { investigateFleet } from './fleet.js';
import { investigate, type InvestigateOptions } from './investigate.js';
import type { Investigation } from './types.js';
import { resolveWindow } from './window.js';

/**
 * Where a Debian/Ubuntu mail and VPN server keeps the logs bytetrail reads: the general syslog,
 * then each source's own paths as it declares them (src/sources/).
 */
export const STANDARD_LOGS: readonly string[] = [...new Set(['/var/log/syslog', ...SOURCE_LOG_PATHS])];

/**
 * What is there now, read at investigate time on the server (root only, but vnstat): the
 * connection table (the open connections' counters) and the counter sources' files where they
 * declare standard paths (OpenVPN's status files).
 */
export const LIVE_SOURCES = ['/proc/net/nf_conntrack', ...new Set(COUNTER_SOURCES.filter((c) => c.flows).flatMap((c) => c.standardPaths))];

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
  /** A fleet store's URL (--store): read instead of the database, with nothing ingested first. */
  store?: string;
  /** --server: only these servers' data. */
  servers?: string[];
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
  /** Told when the database cannot be written and the default ingest is left out. */
  onWarning?: (message: string) => void;
  /** Also read what is there now (LIVE_SOURCES, vnstat) when reading the standard locations. */
  live?: boolean;
}

/** `warnings`: what could not be read and what that costs, one line each (the live reading's too). */
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
  sweepOldDemos(Date.now());
  const dir = mkdtempSync(join(tmpdir(), 'bytetrail-demo-'));
  const inc = INCIDENTS.demo();
  const { files } = inc.writer.write(join(dir, 'logs'), { gzipCapture: true, vnstat: { from: inc.from, to: inc.to } });
  const store = openStore({ path: join(dir, 'demo.db') });
  const ingest = await ingestPaths(store, files, { tz, now: Date.now(), settleMs: 0, handlers: flowHandlers(), localIps: ['192.0.2.10'] });
  return { store, ingest, from: inc.from, to: inc.to, dir };
}

/**
 * Each demo leaves its database (about 0.5 MB) for the throttle it proposes; the demos of this
 * user older than a day are removed here, so that trying the demo often does not fill /tmp.
 */
function sweepOldDemos(now: number): void {
  const uid = process.getuid?.() ?? null;
  let names: string[];
  try { names = readdirSync(tmpdir()); } catch { return; }
  for (const name of names) {
    if (!name.startsWith('bytetrail-demo-')) continue;
    const path = join(tmpdir(), name);
    try {
      const st = lstatSync(path);
      if (st.isDirectory() && (uid === null || st.uid === uid) && now - st.mtimeMs > 86_400_000) rmSync(path, { recursive: true, force: true });
    } catch {
      // Another demo removing it at the same time, or not ours to look at: leave it.
    }
  }
}

function writable(path: string): boolean {
  try { accessSync(path, constants.W_OK); return true; } catch { return false; }
}

/**
 * A store read through `open` (given the --server names, or none for all): investigated as it
 * is when it answers for one server (or none), else as a fleet, each server on its own store
 * and never joined with another (fleet.ts).
 */
export async function investigateStore(open: (servers: string[] | undefined) => Promise<ReadStore>, servers: string[] | undefined, opts: InvestigateOptions): Promise<Investigation> {
  const reader = await open(servers);
  let names: string[];
  try {
    names = await reader.servers();
    if (names.length <= 1) return await investigate(reader, opts);
  } finally {
    await reader.close();
  }
  return investigateFleet((server) => open([server]), names, opts);
}

export async function runInvestigation(o: RunOptions): Promise<RunResult> {
  if (o.demo) {
    const d = await demoStore('UTC');
    try {
      const inv = await investigate(new SqliteReadStore(d.store, { servers: o.servers }), { from: d.from, to: d.to, vpnPorts: o.vpnPorts });
      // The database stays (in its private temporary folder) so that the proposed throttle runs as printed.
      if (inv.throttle) inv.throttle.command = inv.throttle.command.replace(/^bytetrail throttle /, `bytetrail throttle --db ${shellQuote(d.store.path)} `);
      return { investigation: inv, ingest: d.ingest, dbPath: d.store.path, warnings: [] };
    } finally {
      d.store.close();
      rmSync(join(d.dir, 'logs'), { recursive: true, force: true });
    }
  }
  // A bad window is refused before anything is read.
  const w = resolveWindow(o.since, o.until, o.now, '2h', o.tz);
  // A fleet store is filled by each server's ship, not by reading this machine's logs.
  if (o.store) {
    if (o.logs?.length) throw new UserError('--logs reads into this server\'s database, not into --store', { hint: 'drop --logs, or drop --store to investigate this server' });
    const store = o.store;
    const investigation = await investigateStore((servers) => openReadStore({ store, servers }), o.servers, { from: w.from, to: w.to, vpnPorts: o.vpnPorts, source: o.source });
    return { investigation, ingest: null, dbPath: parseClickHouseUrl(o.store).display, warnings: [] };
  }
  const warnings: string[] = [];
  let paths = !o.ingest ? [] : o.logs?.length ? [...o.logs] : STANDARD_LOGS.filter((p) => existsSync(p));
  if (o.ingest && !paths.length) warnings.push(noStandardLogs(w.from));
  const dbPath = o.db ?? defaultDbPath();
  const tmp = mkdtempSync(join(tmpdir(), 'bytetrail-live-'));
  try {
    // The present only with the standard locations: explicit --logs are a past incident's files.
    if (o.ingest && o.live && !o.logs?.length) {
      const live = liveSources(process.getuid?.() ?? null, existsSync);
      if (live.note) warnings.push(live.note);
      const vn = vnstatNow(tmp);
      paths.push(...live.paths, ...(vn ? [vn] : []));
    }
    if (paths.length && !o.logs?.length && existsSync(dbPath) && !writable(dbPath)) {
      o.onWarning?.(`cannot write to ${dbPath}: investigating what it holds without reading new log lines`);
      paths = [];
    }
    // With logs to read, the database is written (and created if need be); without, it is only
    // read: a mistyped --db then says that it does not exist, and a read-only one can be used.
    const store = openStore({ path: dbPath, readonly: paths.length === 0 });
    try {
      // A --server this database does not answer for is refused before anything is read.
      const reader = new SqliteReadStore(store, { servers: o.servers });
      let summary: IngestSummary | null = null;
      if (paths.length) summary = await ingestPaths(store, paths, { tz: o.tz, now: o.now, handlers: flowHandlers(), localIps: o.localIps });
      return { investigation: await investigate(reader, { from: w.from, to: w.to, vpnPorts: o.vpnPorts, source: o.source }), ingest: summary, dbPath: store.path, warnings };
    } finally {
      store.close();
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
