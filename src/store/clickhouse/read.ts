/**
 * The fleet's ReadStore (issue 11): the central ClickHouse store answering the questions the
 * reading commands ask, method for method as the SQLite Store answers them for one server (same
 * fields, same types, same order), with each row carrying the `server` that recorded it and every
 * query limited to `opts.servers` (empty: the whole fleet).
 *
 * Rows are read merged: a batch sent twice after a crash must not count twice, and ClickHouse
 * merges ReplacingMergeTree copies only when it likes. Event listings drop the copies themselves
 * (an event never changes: a copy is the same row); other row listings read with FINAL; sums read
 * with FINAL too (a flow row's newest version replaces the older totals); min, max and distinct
 * values need no merge. Filters under FINAL touch only the sorting key or columns a row's newer
 * version never changes, except vpn_leases.last_ts, which only grows: a filter applied before the
 * merge keeps the newest version whenever it keeps an older one.
 *
 * Where the order among servers matters it is ts, then server, then the local id: ids are per
 * server. Interface totals come per server and interface (a fleet has many eth0s). Every value in
 * a statement goes through quoteString or sqlInt: account names come from logs.
 */
import type { AggRow, FlowRow, FlowTotals, LeaseRow, OpenConnInput, SessionKeys, StoredEvent, UnparsedRow } from '../index.js';
import type { AccountIp, FlowGroupBy, FlowSourceTotals, LossTotal, ReadStore } from '../read.js';
import type { LogEvent } from '../../events.js';
import { IDENTITY_KINDS } from '../../sources/types.js';
import { LONG_SESSION_SOURCES } from '../../sources/index.js';
import { Central } from './central.js';
import { ROLLUP_TABLES } from './migrations.js';
import { quoteString, sqlInt } from './sql.js';
import { parseClickHouseUrl } from './url.js';

/** A row as the fleet gives it: with the server that recorded it. */
export type OnServer<T> = T & { server: string };

type Raw = Record<string, string | number | null>;

/** ClickHouse sends 64-bit integers as JSON strings. */
const num = (v: string | number | null | undefined): number => Number(v);
const numOrNull = (v: string | number | null | undefined): number | null => (v === null || v === undefined ? null : Number(v));
const strOrNull = (v: string | number | null | undefined): string | null => (v === null || v === undefined ? null : String(v));

/** A time bound as SQL: an integer, with the open ends callers may pass clamped to what Int64 holds. */
function ms(n: number): string {
  if (n === Infinity) return sqlInt(2 ** 53 - 1);
  if (n === -Infinity) return sqlInt(-(2 ** 53 - 1));
  return sqlInt(Math.floor(n));
}

const list = (values: readonly string[]): string => values.map(quoteString).join(', ');

const EVENT_COLUMNS = 'server, id, ts, source, host, program, kind, account, rip, rport, lip, lport, session, bytes_in, bytes_out, file_id, line, attrs';

export async function openClickHouseReadStore(url: string, opts: { servers: string[]; password?: string }): Promise<ReadStore> {
  const target = parseClickHouseUrl(url);
  if (opts.password !== undefined) target.password = opts.password;
  const store = new ClickHouseReadStore(new Central(target), [...new Set(opts.servers)].sort());
  try {
    // Fails here, not in the middle of an investigation, when the store cannot be reached.
    await store.serverVersion();
  } catch (err) {
    await store.close();
    throw err;
  }
  return store;
}

export class ClickHouseReadStore implements ReadStore {
  readonly backend = 'clickhouse' as const;
  private readonly db: string;
  /** Paths of shipped files by server and local file id, loaded on first use (a small table). */
  private paths: Map<string, string> | null = null;

  constructor(private readonly central: Central, private readonly only: string[]) {
    this.db = central.db;
  }

  async serverVersion(): Promise<string> {
    return (await this.central.serverVersion()).text;
  }

  /** `AND server IN (…)` when limited to some servers. */
  private get onServers(): string {
    return this.only.length ? ` AND server IN (${list(this.only)})` : '';
  }

  private t(name: string): string {
    return `${this.db}.${name}`;
  }

  private rows<T = Raw>(sql: string): Promise<T[]> {
    return this.central.rows<T>(sql);
  }

  async servers(): Promise<string[]> {
    // From the small tables and the roll-ups: a server that shipped anything is in one of them.
    const from = ['files', ROLLUP_TABLES.events.name, ROLLUP_TABLES.traffic.name, 'iface_totals', 'vpn_leases']
      .map((t) => `SELECT DISTINCT server FROM ${this.t(t)} WHERE 1${this.onServers}`).join(' UNION ALL ');
    const rows = await this.rows<{ server: string }>(`SELECT DISTINCT server FROM (${from}) ORDER BY server`);
    return rows.map((r) => r.server);
  }

  async dataExtent(): Promise<{ first: number | null; last: number | null }> {
    const [r] = await this.rows(`SELECT count() AS n, min(ts) AS first, max(ts) AS last FROM ${this.t('events')} WHERE 1${this.onServers}`);
    return num(r.n) === 0 ? { first: null, last: null } : { first: num(r.first), last: num(r.last) };
  }

  async counts(): Promise<{ events: number; aggregated: number; flows: number; files: number }> {
    const w = `WHERE 1${this.onServers}`;
    const [r] = await this.rows(`SELECT (SELECT count() FROM ${this.t('events')} FINAL ${w}) AS events,
      (SELECT sum(count) FROM ${this.t('event_agg')} FINAL ${w}) AS aggregated,
      (SELECT count() FROM ${this.t('flows')} FINAL ${w}) AS flows,
      (SELECT count() FROM ${this.t('files')} FINAL ${w}) AS files`);
    return { events: num(r.events), aggregated: num(r.aggregated), flows: num(r.flows), files: num(r.files) };
  }

  // ---- events ----

  /** Events matching `where`, oldest first, with their file's path; `raw` only when asked (identities need none). */
  private async events(where: string, opts: { raw: boolean; order?: string; limit?: number } = { raw: true }): Promise<Array<OnServer<StoredEvent>>> {
    // Without FINAL: an event row never changes, so a copy left by a re-sent batch is the same
    // row, and the order (which always ends in server and id) puts it next to the original, where
    // it is dropped. FINAL would make ClickHouse merge every part of the range on one thread.
    const all = await this.rows(`SELECT ${EVENT_COLUMNS}, ${opts.raw ? 'raw' : 'NULL AS raw'} FROM ${this.t('events')}
      WHERE ${where}${this.onServers} ORDER BY ${opts.order ?? 'ts, server, id'}${opts.limit ? ` LIMIT ${sqlInt(opts.limit)}` : ''}`);
    if (all.length === 0) return [];
    const rows = all.filter((r, k) => k === 0 || r.id !== all[k - 1].id || r.server !== all[k - 1].server);
    const paths = await this.pathsOf(rows.map((r) => [String(r.server), numOrNull(r.file_id)]));
    return rows.map((r) => toEvent(r, paths));
  }

  async eventsInRange(fromMs: number, toMs: number, kinds?: string[]): Promise<StoredEvent[]> {
    if (kinds && kinds.length === 0) return [];
    const ofKinds = kinds ? ` AND kind IN (${list(kinds)})` : '';
    return this.events(`ts >= ${ms(fromMs)} AND ts < ${ms(toMs)}${ofKinds}`);
  }

  async identityEvents(fromMs: number, toMs: number): Promise<StoredEvent[]> {
    return this.events(`ts >= ${ms(fromMs)} AND ts < ${ms(toMs)} AND kind IN (${list(IDENTITY_KINDS)})`, { raw: false });
  }

  async longSessionEvents(fromMs: number, toMs: number): Promise<StoredEvent[]> {
    if (LONG_SESSION_SOURCES.length === 0) return [];
    return this.events(`ts >= ${ms(fromMs)} AND ts < ${ms(toMs)} AND kind IN (${list(IDENTITY_KINDS)}) AND source IN (${list(LONG_SESSION_SOURCES)})`, { raw: false });
  }

  async openLoginBefore(ip: string, before: number, since: number): Promise<StoredEvent | null> {
    const [ev] = await this.events(`rip = ${quoteString(ip)} AND ts < ${ms(before)} AND ts >= ${ms(since)} AND kind = 'login'`,
      { raw: true, order: 'ts DESC, server DESC, id DESC', limit: 1 });
    if (!ev) return null;
    if (ev.session && ev.account) {
      // Sessions are keyed per server: the logout that ends it was logged where the login was.
      const ended = await this.rows(`SELECT 1 AS x FROM ${this.t('events')} WHERE server = ${quoteString(ev.server)} AND account = ${quoteString(ev.account)}
        AND ts >= ${ms(ev.ts)} AND ts < ${ms(before)} AND session = ${quoteString(ev.session)} AND kind IN ('logout', 'disconnect') LIMIT 1`);
      if (ended.length) return null;
    }
    return ev;
  }

  async eventsForIp(ip: string, fromMs: number, toMs: number): Promise<StoredEvent[]> {
    return this.events(`rip = ${quoteString(ip)} AND ts >= ${ms(fromMs)} AND ts < ${ms(toMs)}`);
  }

  async eventsForSessions(source: string, keys: SessionKeys): Promise<StoredEvent[]> {
    if (!keys.sessions.length || !keys.accounts.length) return [];
    return this.events(`account IN (${list(keys.accounts)}) AND ts >= ${ms(keys.sinceMs)} AND source = ${quoteString(source)} AND session IN (${list(keys.sessions)})`);
  }

  async accountIps(account: string, fromMs: number, toMs: number): Promise<AccountIp[]> {
    const range = `ts >= ${ms(fromMs)} AND ts < ${ms(toMs)}`;
    const ips = await this.rows(`SELECT rip AS ip, min(ts) AS firstSeen, max(ts) AS lastSeen FROM ${this.t('events')}
      WHERE account = ${quoteString(account)} AND ${range} AND rip IS NOT NULL${this.onServers} GROUP BY rip ORDER BY firstSeen, ip`);
    if (ips.length === 0) return [];
    const others = await this.rows(`SELECT rip, account FROM ${this.t('events')}
      WHERE rip IN (${list(ips.map((r) => String(r.ip)))}) AND ${range} AND account IS NOT NULL AND account != ${quoteString(account)}${this.onServers}
      GROUP BY rip, account ORDER BY rip, account`);
    const byIp = new Map<string, string[]>();
    for (const o of others) {
      const k = String(o.rip);
      if (!byIp.has(k)) byIp.set(k, []);
      byIp.get(k)!.push(String(o.account));
    }
    return ips.map((r) => ({ ip: String(r.ip), firstSeen: num(r.firstSeen), lastSeen: num(r.lastSeen), otherAccounts: byIp.get(String(r.ip)) ?? [] }));
  }

  /** The central tables hold every line's text as shipped: nothing is read back. */
  async quote(): Promise<void> { /* nothing by reference */ }

  async aggregatesInRange(fromMs: number, toMs: number): Promise<AggRow[]> {
    const rows = await this.rows(`SELECT server, minute, source, kind, rip, lport, detail, count, bytes, first_ts, last_ts, lip, sample_file_id, sample_line, sample_raw
      FROM ${this.t('event_agg')} FINAL WHERE minute >= ${ms(fromMs)} AND minute < ${ms(toMs)}${this.onServers}
      ORDER BY minute, source, kind, rip, lport, detail, server`);
    if (rows.length === 0) return [];
    const paths = await this.pathsOf(rows.map((r) => [String(r.server), numOrNull(r.sample_file_id)]));
    return rows.map((r): OnServer<AggRow> => ({
      server: String(r.server), minute: num(r.minute), source: String(r.source), kind: String(r.kind), rip: String(r.rip), lport: num(r.lport),
      detail: String(r.detail), count: num(r.count), bytes: num(r.bytes), firstTs: num(r.first_ts), lastTs: num(r.last_ts), lip: strOrNull(r.lip),
      samplePath: pathOf(paths, String(r.server), numOrNull(r.sample_file_id)), sampleLine: numOrNull(r.sample_line), sampleRaw: strOrNull(r.sample_raw),
    }));
  }

  // ---- flows ----

  private flowWhere(source: string, fromMs: number, toMs: number): string {
    return `source = ${quoteString(source)} AND minute >= ${ms(fromMs)} AND minute < ${ms(toMs)}${this.onServers}`;
  }

  async flowSources(fromMs: number, toMs: number): Promise<FlowSourceTotals[]> {
    const rows = await this.rows(`SELECT source, sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut, min(minute) AS first, max(minute) AS last
      FROM ${this.t('flows')} FINAL WHERE minute >= ${ms(fromMs)} AND minute < ${ms(toMs)}${this.onServers} GROUP BY source ORDER BY source`);
    return rows.map((r) => ({ source: String(r.source), bytesIn: num(r.bytesIn), bytesOut: num(r.bytesOut), first: num(r.first), last: num(r.last) }));
  }

  private flowSelect(where: string): string {
    return `SELECT server, source, minute, iface, proto, lip, lport, rip, rport, service, bytes_in, bytes_out, packets_in, packets_out
      FROM ${this.t('flows')} FINAL WHERE ${where} ORDER BY minute, iface, proto, lip, lport, rip, rport, server`;
  }

  async flowsInRange(source: string, fromMs: number, toMs: number): Promise<FlowRow[]> {
    return (await this.rows(this.flowSelect(this.flowWhere(source, fromMs, toMs)))).map(toFlow);
  }

  async *iterateFlows(source: string, fromMs: number, toMs: number): AsyncIterable<FlowRow> {
    for await (const r of this.central.stream<Raw>(this.flowSelect(this.flowWhere(source, fromMs, toMs)))) yield toFlow(r);
  }

  async vpnFlowsInRange(source: string, fromMs: number, toMs: number, vpnPorts: number[], vips: string[]): Promise<FlowRow[]> {
    const terms = ["service IN ('openvpn', 'wireguard')"];
    if (vpnPorts.length) terms.push(`lport IN (${vpnPorts.map(sqlInt).join(', ')})`);
    if (vips.length) terms.push(`rip IN (${list(vips)})`, `lip IN (${list(vips)})`);
    return (await this.rows(this.flowSelect(`${this.flowWhere(source, fromMs, toMs)} AND (${terms.join(' OR ')})`))).map(toFlow);
  }

  async flowBytesBetween(source: string, fromMs: number, toMs: number): Promise<{ bytes: number; n: number }> {
    const [r] = await this.rows(`SELECT sum(bytes_in + bytes_out) AS bytes, count() AS n FROM ${this.t('flows')} FINAL WHERE ${this.flowWhere(source, fromMs, toMs)}`);
    return { bytes: num(r.bytes), n: num(r.n) };
  }

  async flowExtent(source: string): Promise<{ first: number | null; last: number | null }> {
    const [r] = await this.rows(`SELECT count() AS n, min(minute) AS first, max(minute) AS last FROM ${this.t('flows')} WHERE source = ${quoteString(source)}${this.onServers}`);
    return num(r.n) === 0 ? { first: null, last: null } : { first: num(r.first), last: num(r.last) };
  }

  async flowTotals(source: string, fromMs: number, toMs: number): Promise<FlowTotals> {
    const [r] = await this.rows(`SELECT ${FLOW_SUMS} FROM ${this.t('flows')} FINAL WHERE ${this.flowWhere(source, fromMs, toMs)}`);
    return toTotals(r);
  }

  async flowGroups(source: string, by: FlowGroupBy, fromMs: number, toMs: number, limit: number):
    Promise<{ rows: Array<FlowTotals & { key: string | number }>; groups: number }> {
    const where = this.flowWhere(source, fromMs, toMs);
    if (by === 'minute') {
      const rows = (await this.rows(`SELECT minute AS key, ${FLOW_SUMS} FROM ${this.t('flows')} FINAL WHERE ${where} GROUP BY minute ORDER BY minute`))
        .map((r) => ({ key: num(r.key), ...toTotals(r) }));
      return { rows, groups: rows.length };
    }
    const col = by === 'remote' ? 'rip' : by === 'service' ? 'service' : 'lport';
    const rows = (await this.rows(`SELECT ${col} AS key, ${FLOW_SUMS} FROM ${this.t('flows')} FINAL WHERE ${where}
      GROUP BY ${col} ORDER BY sum(bytes_in + bytes_out) DESC, ${col} LIMIT ${sqlInt(Math.max(0, Math.floor(limit)))}`))
      .map((r) => ({ key: col === 'lport' ? num(r.key) : String(r.key), ...toTotals(r) }));
    const [n] = await this.rows(`SELECT uniqExact(${col}) AS n FROM ${this.t('flows')} WHERE ${where}`);
    return { rows, groups: num(n.n) };
  }

  // ---- leases, listings, interface totals ----

  async leasesInRange(fromMs: number, toMs: number): Promise<LeaseRow[]> {
    const rows = await this.rows(`SELECT server, account, real_ip, real_port, vip, first_ts, last_ts, source FROM ${this.t('vpn_leases')} FINAL
      WHERE last_ts >= ${ms(fromMs)} AND first_ts < ${ms(toMs)}${this.onServers} ORDER BY account, real_ip, real_port, vip, first_ts, server`);
    return rows.map((r): OnServer<LeaseRow> => ({
      server: String(r.server), account: String(r.account), realIp: String(r.real_ip), realPort: num(r.real_port), vip: String(r.vip),
      firstTs: num(r.first_ts), lastTs: num(r.last_ts), source: String(r.source),
    }));
  }

  async openConnections(fromMs: number, toMs: number): Promise<OpenConnInput[]> {
    const rows = await this.rows(`SELECT server, listing_ts, proto, lip, lport, rip, rport, service, bytes_in, bytes_out, packets_in, packets_out
      FROM ${this.t('conntrack_open')} FINAL WHERE listing_ts >= ${ms(fromMs)} AND listing_ts < ${ms(toMs)}${this.onServers}
      ORDER BY listing_ts, rip, rport, proto, lip, lport, server`);
    return rows.map((r): OnServer<OpenConnInput> => ({
      server: String(r.server), listingTs: num(r.listing_ts), proto: num(r.proto), lip: String(r.lip), lport: num(r.lport), rip: String(r.rip), rport: num(r.rport),
      service: String(r.service), bytesIn: num(r.bytes_in), bytesOut: num(r.bytes_out), packetsIn: num(r.packets_in), packetsOut: num(r.packets_out),
    }));
  }

  async interfaceTotals(granularity: string, fromMs: number, toMs: number): Promise<Array<{ iface: string; rx: number; tx: number }>> {
    const rows = await this.rows(`SELECT server, iface, sum(rx) AS rx, sum(tx) AS tx FROM ${this.t('iface_totals')} FINAL
      WHERE granularity = ${quoteString(granularity)} AND start >= ${ms(fromMs)} AND start < ${ms(toMs)}${this.onServers}
      GROUP BY iface, server ORDER BY iface, server`);
    return rows.map((r) => ({ server: String(r.server), iface: String(r.iface), rx: num(r.rx), tx: num(r.tx) }));
  }

  // ---- what was not understood or lost ----

  async unparsedReport(source: string | null, limit: number): Promise<{ counts: Record<string, number>; samples: UnparsedRow[] }> {
    const counts: Record<string, number> = {};
    for (const r of await this.rows(`SELECT source, sum(unparsed) AS n FROM ${this.t('file_stats')} FINAL WHERE 1${this.onServers}
      GROUP BY source HAVING n > 0 ORDER BY source`)) counts[String(r.source)] = num(r.n);
    const ofSource = source === null ? '' : ` AND source = ${quoteString(source)}`;
    const rows = await this.rows(`SELECT server, file_id, line, source, reason, text FROM ${this.t('unparsed')} FINAL
      WHERE 1${ofSource}${this.onServers} ORDER BY file_id DESC, line, server`);
    const paths = await this.pathsOf(rows.map((r) => [String(r.server), numOrNull(r.file_id)]));
    const samples: Array<OnServer<UnparsedRow>> = [];
    for (const r of rows) {
      // As SQLite's join: a sample whose file is not known is not shown.
      const path = pathOf(paths, String(r.server), numOrNull(r.file_id));
      if (path === null) continue;
      samples.push({ server: String(r.server), path, line: num(r.line), source: String(r.source), reason: String(r.reason), text: String(r.text) });
      if (samples.length >= limit) break;
    }
    return { counts, samples };
  }

  async lossTotals(): Promise<LossTotal[]> {
    const rows = await this.rows(`SELECT reason, count() AS paths, sum(lines) AS lines, sum(bytes) AS bytes, max(last_at) AS lastAt
      FROM ${this.t('losses')} FINAL WHERE 1${this.onServers} GROUP BY reason ORDER BY reason`);
    return rows.map((r) => ({ reason: String(r.reason), paths: num(r.paths), lines: num(r.lines), bytes: num(r.bytes), lastAt: num(r.lastAt) }));
  }

  close(): Promise<void> {
    return this.central.close();
  }

  /** The paths of these (server, file id) pairs: loaded once, and again when a file shipped since is asked for. */
  private async pathsOf(refs: Array<[string, number | null]>): Promise<Map<string, string>> {
    const missing = () => refs.some(([s, id]) => id !== null && !this.paths!.has(fileKey(s, id)));
    if (this.paths === null || missing()) {
      const paths = new Map<string, string>();
      for (const r of await this.rows(`SELECT server, id, argMax(path, ver) AS path FROM ${this.t('files')} WHERE 1${this.onServers} GROUP BY server, id`)) {
        paths.set(fileKey(String(r.server), num(r.id)), String(r.path));
      }
      this.paths = paths;
    }
    return this.paths;
  }
}

const FLOW_SUMS = 'sum(bytes_in) AS bytesIn, sum(bytes_out) AS bytesOut, sum(packets_in) AS packetsIn, sum(packets_out) AS packetsOut';

const fileKey = (server: string, id: number) => `${id}\u0000${server}`;

function pathOf(paths: Map<string, string>, server: string, id: number | null): string | null {
  return id === null ? null : paths.get(fileKey(server, id)) ?? null;
}

function toEvent(r: Raw, paths: Map<string, string>): OnServer<StoredEvent> {
  const server = String(r.server);
  const fileId = numOrNull(r.file_id);
  return {
    server, id: num(r.id), ts: num(r.ts), source: String(r.source) as LogEvent['source'], host: strOrNull(r.host), program: strOrNull(r.program),
    kind: String(r.kind), account: strOrNull(r.account), rip: strOrNull(r.rip), rport: numOrNull(r.rport), lip: strOrNull(r.lip), lport: numOrNull(r.lport),
    session: strOrNull(r.session), bytesIn: numOrNull(r.bytes_in), bytesOut: numOrNull(r.bytes_out),
    attrs: r.attrs ? (JSON.parse(String(r.attrs)) as LogEvent['attrs']) : null, fileId, line: numOrNull(r.line), raw: strOrNull(r.raw),
    path: pathOf(paths, server, fileId),
  };
}

function toFlow(r: Raw): OnServer<FlowRow> {
  return {
    server: String(r.server), source: String(r.source), minute: num(r.minute), iface: String(r.iface), proto: num(r.proto), lip: String(r.lip), lport: num(r.lport),
    rip: String(r.rip), rport: num(r.rport), service: String(r.service) as FlowRow['service'],
    bytesIn: num(r.bytes_in), bytesOut: num(r.bytes_out), packetsIn: num(r.packets_in), packetsOut: num(r.packets_out),
  };
}

function toTotals(r: Raw): FlowTotals {
  return { bytesIn: num(r.bytesIn), bytesOut: num(r.bytesOut), packetsIn: num(r.packetsIn), packetsOut: num(r.packetsOut) };
}
