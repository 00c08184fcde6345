/**
 * `bytetrail status`: what `watch` follows, how far behind each file is, the last alert, and
 * how big the database is. Reads the database only; works while `watch` runs and after.
 */
import { statSync } from 'node:fs';
import { escapeControls, formatBytes } from '../output.js';
import { openReadStore, type ReadStoreOptions } from '../store/open.js';
import { SqliteReadStore } from '../store/sqlite-read.js';
import stringWidth from 'string-width';
import { redactStoreUrl } from '../store/clickhouse/url.js';
import type { ReadStore } from '../store/read.js';
import { WatchStore } from '../store/watch.js';
import type { Alert } from './alerts.js';
import type { QuotaAlert } from './usage.js';
import { formatDuration } from './units.js';

export interface FileStatus {
  path: string;
  kind: string | null;
  /** following | waiting | unreadable (from watch), or `read` for a file only `ingest` read. */
  state: string;
  message: string | null;
  /** Content bytes stored so far, and the file's size now (null when it cannot be looked at). */
  offset: number | null;
  size: number | null;
  lagBytes: number | null;
  lines: number | null;
  lastLineAt: string | null;
  secondsSinceLastLine: number | null;
}

export interface WatchStatus {
  db: { path: string; bytes: number; walBytes: number; totalBytes: number };
  watch: { running: boolean; pid: number | null; startedAt: string | null; heartbeatAt: string | null; stoppedAt: string | null; options: Record<string, unknown> | null } | null;
  files: FileStatus[];
  lastAlert: Alert | QuotaAlert | null;
  alerts: number;
  counts: { events: number; aggregated: number; flows: number; files: number };
  /** What could not be read as it was, by reason, over all runs (ingest and watch). */
  losses: Array<{ reason: string; paths: number; lines: number; bytes: number; lastAt: string }>;
}

/** A heartbeat older than this means the watch is gone (killed, or the machine stopped). */
const STALE_MS = 30_000;

function sizeOf(p: string): number {
  try { return statSync(p).size; } catch { return 0; }
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** One server of a fleet store: what it has shipped, and how old its newest event is (a sender that stopped shows here). */
export interface ServerStatus {
  server: string;
  counts: { events: number; aggregated: number; flows: number; files: number };
  firstEventAt: string | null;
  lastEventAt: string | null;
  secondsSinceLastEvent: number | null;
}

/** `status --store URL`: the fleet's servers instead of one database's files (what watch follows is each host's own). */
export interface FleetStatus {
  store: string;
  servers: ServerStatus[];
  counts: { events: number; aggregated: number; flows: number; files: number };
  losses: WatchStatus['losses'];
}

export async function watchStatus(o: ReadStoreOptions, now: number): Promise<WatchStatus | FleetStatus> {
  const reader = await openReadStore(o);
  try {
    if (!(reader instanceof SqliteReadStore)) return await fleetStatus(reader, o, now);
    const store = reader.store;
    const bytes = sizeOf(store.path), walBytes = sizeOf(store.path + '-wal');
    const db = { path: store.path, bytes, walBytes, totalBytes: bytes + walBytes };
    const counts = await reader.counts();
    const losses = (await reader.lossTotals()).map((l) => ({ ...l, lastAt: new Date(l.lastAt).toISOString() }));
    if (!WatchStore.available(store)) {
      return { db, watch: null, files: [], lastAlert: null, alerts: 0, counts, losses };
    }
    const ws = new WatchStore(store);
    const num = (k: string) => { const v = ws.state(k); return v === null ? null : Number(v); };
    const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
    const pid = num('watch:pid'), hb = num('watch:heartbeat'), started = num('watch:started-at'), stopped = num('watch:stopped-at');
    const opts = ws.state('watch:options');
    const watch = started === null ? null : {
      running: pid !== null && hb !== null && now - hb < STALE_MS && alive(pid),
      pid, startedAt: iso(started), heartbeatAt: iso(hb), stoppedAt: iso(stopped),
      options: opts ? (JSON.parse(opts) as Record<string, unknown>) : null,
    };
    const rows = ws.paths();
    const files: FileStatus[] = rows.length
      ? rows.map((r) => {
        const size = currentSize(r.path, r.size);
        return {
          path: r.path, kind: r.kind, state: r.state, message: r.message, offset: r.offset, size,
          lagBytes: size !== null && r.offset !== null ? Math.max(0, size - r.offset) : null, lines: r.lines,
          lastLineAt: iso(r.lastLineAt), secondsSinceLastLine: r.lastLineAt === null ? null : Math.round((now - r.lastLineAt) / 1000),
        };
      })
      // Never watched: what ingest read, most recent first.
      : ws.recentFiles(50).map((f) => {
        const size = currentSize(f.path, f.size);
        return {
          path: f.path, kind: f.kind, state: 'read', message: null, offset: f.offset, size,
          lagBytes: size !== null ? Math.max(0, size - f.offset) : null, lines: f.lines,
          lastLineAt: iso(f.lastRead), secondsSinceLastLine: Math.round((now - f.lastRead) / 1000),
        };
      });
    const last = ws.lastAlert();
    return { db, watch, files, lastAlert: last ? (JSON.parse(last.json) as Alert | QuotaAlert) : null, alerts: ws.alertCount(), counts, losses };
  } finally {
    await reader.close();
  }
}

async function fleetStatus(all: ReadStore, o: ReadStoreOptions, now: number): Promise<FleetStatus> {
  const iso = (t: number | null) => (t === null ? null : new Date(t).toISOString());
  const servers: ServerStatus[] = [];
  // One filtered store per server: the read interface answers for the servers it was opened on.
  for (const server of await all.servers()) {
    const one = await openReadStore({ ...o, servers: [server] });
    try {
      const [counts, extent] = [await one.counts(), await one.dataExtent()];
      servers.push({
        server, counts, firstEventAt: iso(extent.first), lastEventAt: iso(extent.last),
        secondsSinceLastEvent: extent.last === null ? null : Math.round((now - extent.last) / 1000),
      });
    } finally {
      await one.close();
    }
  }
  const losses = (await all.lossTotals()).map((l) => ({ ...l, lastAt: new Date(l.lastAt).toISOString() }));
  return { store: redactStoreUrl(o.store ?? ''), servers, counts: await all.counts(), losses };
}

/** The human view of a fleet store (stdout). */
function renderFleet(s: FleetStatus, now: number): string {
  const out = [`store: ${escapeControls(s.store)}; ${s.servers.length} ${s.servers.length === 1 ? 'server' : 'servers'}; ${s.counts.events.toLocaleString('en-US')} events, ${s.counts.aggregated.toLocaleString('en-US')} aggregated lines, ${s.counts.flows.toLocaleString('en-US')} flow records`, ''];
  if (s.servers.length) {
    const head = ['server', 'events', 'aggregated', 'flows', 'files', 'newest event'];
    const rows = s.servers.map((r) => [
      escapeControls(r.server), r.counts.events.toLocaleString('en-US'), r.counts.aggregated.toLocaleString('en-US'),
      r.counts.flows.toLocaleString('en-US'), r.counts.files.toLocaleString('en-US'),
      r.lastEventAt === null ? '-' : `${r.lastEventAt} (${formatDuration(now - Date.parse(r.lastEventAt))} ago)`,
    ]);
    const widths = head.map((h, i) => Math.max(stringWidth(h), ...rows.map((r) => stringWidth(r[i]))));
    const pad = (c: string, i: number) => (i === 0 || i === 5 ? c + ' '.repeat(widths[i] - stringWidth(c)) : ' '.repeat(widths[i] - stringWidth(c)) + c);
    for (const r of [head, ...rows]) out.push(r.map(pad).join('  ').trimEnd());
  } else out.push('no server has shipped anything yet');
  for (const l of s.losses) {
    const what = [l.lines ? `${l.lines.toLocaleString('en-US')} lines` : '', l.bytes ? formatBytes(l.bytes) : ''].filter(Boolean).join(', ');
    out.push(`not read as written: ${l.reason}: ${what} in ${l.paths} ${l.paths === 1 ? 'file' : 'files'} (last ${l.lastAt})`);
  }
  return out.join('\n');
}

export function isFleetStatus(s: WatchStatus | FleetStatus): s is FleetStatus {
  return 'servers' in s;
}

/** The size of the file at this path now; a compressed file's stored offset counts decompressed bytes, so none then. */
function currentSize(path: string, fallback: number | null): number | null {
  if (/\.(gz|xz|bz2|zst)$/.test(path)) return null;
  try { return statSync(path).size; } catch { return fallback; }
}

/** The human view (stdout). */
export function renderStatus(s: WatchStatus | FleetStatus, now: number): string {
  if (isFleetStatus(s)) return renderFleet(s, now);
  const out: string[] = [];
  const w = s.watch;
  if (!w) out.push('watch: has never run on this database');
  else if (w.running) out.push(`watch: running (pid ${w.pid}) since ${w.startedAt}; last heartbeat ${formatDuration(now - Date.parse(w.heartbeatAt!))} ago`);
  else out.push(`watch: not running${w.stoppedAt ? ` (stopped ${w.stoppedAt})` : w.heartbeatAt ? ` (last heartbeat ${w.heartbeatAt}; killed?)` : ''}`);
  out.push(`database: ${escapeControls(s.db.path)}, ${formatBytes(s.db.totalBytes)} (${formatBytes(s.db.bytes)} + ${formatBytes(s.db.walBytes)} WAL); ${s.counts.events.toLocaleString('en-US')} events, ${s.counts.aggregated.toLocaleString('en-US')} aggregated lines, ${s.counts.flows.toLocaleString('en-US')} flow records`);
  out.push('');
  if (s.files.length) {
    const head = ['file', 'state', 'offset', 'size', 'lag', 'last line'];
    const rows = s.files.map((f) => [
      escapeControls(f.path) + (f.kind && f.kind !== 'log' ? ` (${f.kind})` : ''), f.state,
      f.offset === null ? '-' : formatBytes(f.offset), f.size === null ? '-' : formatBytes(f.size),
      f.lagBytes === null ? '-' : formatBytes(f.lagBytes),
      f.secondsSinceLastLine === null ? '-' : `${formatDuration(f.secondsSinceLastLine * 1000)} ago`,
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (r: string[]) => r.map((c, i) => (i === 0 || i === 1 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
    out.push(line(head));
    for (const r of rows) out.push(line(r));
    for (const f of s.files) if (f.message) out.push(escapeControls(`  ${f.path}: ${f.message}`));
  } else out.push('no files read yet');
  for (const l of s.losses) {
    const what = [l.lines ? `${l.lines.toLocaleString('en-US')} lines` : '', l.bytes ? formatBytes(l.bytes) : ''].filter(Boolean).join(', ');
    out.push(`not read as written: ${l.reason}: ${what} in ${l.paths} ${l.paths === 1 ? 'file' : 'files'} (last ${l.lastAt})`);
  }
  out.push('');
  // The alert's summary names accounts and interfaces from the data.
  if (s.lastAlert) out.push(escapeControls(`last alert (${s.alerts} in all): ${s.lastAlert.emittedAt} ${s.lastAlert.summary}`));
  else out.push('no alerts');
  return out.join('\n');
}
