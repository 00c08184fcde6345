/**
 * A real ClickHouse server for the tests: Debian's clickhouse-server (18.16 on Debian 12) or a
 * newer single `clickhouse` binary, on loopback, on free ports, with its config, users and data
 * in a temporary folder. One server per test file; it starts in well under a second here.
 */
import Database from 'better-sqlite3';
import { CENTRAL_TABLES } from '../../src/store/clickhouse/migrations.js';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

function which(cmd: string): string | null {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/** How to start a server: Debian's clickhouse-server, else `clickhouse server`. */
const SERVER_CMD: string[] | null = (() => {
  const deb = which('clickhouse-server') ?? ['/usr/sbin/clickhouse-server', '/usr/bin/clickhouse-server'].find((p) => spawnSync('test', ['-x', p]).status === 0) ?? null;
  if (deb) return [deb];
  const one = which('clickhouse');
  return one ? [one, 'server'] : null;
})();

export const haveClickHouse = SERVER_CMD !== null;
export const NO_CLICKHOUSE = 'ClickHouse is not installed: these tests need a real server (apt-get install clickhouse-server); skipped';

/** A free TCP port on loopback (closed again at once: the server binds it next). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class ClickHouseServer {
  readonly dir: string;
  private child: ChildProcess | null = null;

  private constructor(readonly httpPort: number, readonly tcpPort: number) {
    this.dir = mkdtempSync(join(tmpdir(), 'bytetrail-clickhouse-'));
    mkdirSync(join(this.dir, 'data'));
    // No interserver port (no replication), loopback only, small caches: a test server among others.
    writeFileSync(join(this.dir, 'config.xml'), `<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>${this.dir}/server.log</log><errorlog>${this.dir}/server.err.log</errorlog><console>0</console></logger>
  <listen_host>127.0.0.1</listen_host>
  <http_port>${httpPort}</http_port>
  <tcp_port>${tcpPort}</tcp_port>
  <path>${this.dir}/data/</path>
  <tmp_path>${this.dir}/data/tmp/</tmp_path>
  <user_files_path>${this.dir}/data/user_files/</user_files_path>
  <format_schema_path>${this.dir}/data/format_schemas/</format_schema_path>
  <users_config>${this.dir}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <timezone>UTC</timezone>
  <mark_cache_size>67108864</mark_cache_size>
  <uncompressed_cache_size>67108864</uncompressed_cache_size>
  <max_concurrent_queries>20</max_concurrent_queries>
  <!-- Longer than the idle time of Node's fetch (4 s): else fetch may reuse a socket the server
       is closing, and a query fails with "other side closed". -->
  <keep_alive_timeout>30</keep_alive_timeout>
</yandex>
`);
    writeFileSync(join(this.dir, 'users.xml'), `<?xml version="1.0"?>
<yandex>
  <profiles><default><max_memory_usage>1000000000</max_memory_usage><max_threads>2</max_threads></default></profiles>
  <users>
    <default><password></password><networks><ip>127.0.0.1</ip><ip>::1</ip></networks><profile>default</profile><quota>default</quota></default>
    <shipper><password>${escapeXml(SHIPPER_PASSWORD)}</password><networks><ip>127.0.0.1</ip></networks><profile>default</profile><quota>default</quota></shipper>
  </users>
  <quotas><default></default></quotas>
</yandex>
`);
  }

  static async start(): Promise<ClickHouseServer> {
    if (!SERVER_CMD) throw new Error(NO_CLICKHOUSE);
    const s = new ClickHouseServer(await freePort(), await freePort());
    await s.start();
    return s;
  }

  /** clickhouse://127.0.0.1:port/database */
  url(database: string, user = ''): string {
    return `clickhouse://${user ? `${user}@` : ''}127.0.0.1:${this.httpPort}/${database}`;
  }

  async start(): Promise<void> {
    const [cmd, ...args] = SERVER_CMD!;
    const child = spawn(cmd, [...args, `--config-file=${join(this.dir, 'config.xml')}`], { cwd: this.dir, stdio: 'ignore' });
    this.child = child;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    for (let i = 0; i < 600; i++) {
      if (await this.answers()) return;
      const gone = await Promise.race([exited, new Promise<'wait'>((r) => setTimeout(() => r('wait'), 50))]);
      if (gone !== 'wait') throw new Error(`clickhouse-server exited (${gone}) before answering; see ${this.dir}/server.err.log`);
    }
    throw new Error(`clickhouse-server did not answer SELECT 1 within 30 s; see ${this.dir}/server.err.log`);
  }

  /** Whether `SELECT 1` answers over HTTP. */
  async answers(): Promise<boolean> {
    try {
      const r = await fetch(`http://127.0.0.1:${this.httpPort}/?query=SELECT%201`);
      return r.ok && (await r.text()).trim() === '1';
    } catch {
      return false;
    }
  }

  /** One statement over HTTP, its text output (TabSeparated unless the query says otherwise). */
  async query(sql: string): Promise<string> {
    const r = await fetch(`http://127.0.0.1:${this.httpPort}/`, { method: 'POST', body: sql });
    const text = await r.text();
    if (!r.ok) throw new Error(`ClickHouse: ${text.trim()}\n${sql}`);
    return text;
  }

  async json<T>(sql: string): Promise<T[]> {
    const text = await this.query(`${sql} FORMAT JSONEachRow`);
    return text.split('\n').filter(Boolean).map((l) => JSON.parse(l) as T);
  }

  /** Stops the server (SIGTERM, then SIGKILL after 20 s) and waits until it is gone. */
  stop(): Promise<void> {
    return this.end('SIGTERM');
  }

  /** SIGKILL, as a crash or an OOM kill would end it. */
  kill(): Promise<void> {
    return this.end('SIGKILL');
  }

  private async end(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    this.child = null;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.kill(signal);
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await gone;
    clearTimeout(t);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The second user's password: hostile on purpose (quotes and a backslash). */
export const SHIPPER_PASSWORD = `s3cret'"\\pw`;

function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;');
}

// ---- comparing a local database with what the central store holds ----


type Row = Record<string, unknown>;

/** The columns a local row and its central copy share (the central-only ones excluded). */
function sharedColumns(table: keyof typeof CENTRAL_TABLES): Array<{ name: string; type: string }> {
  return CENTRAL_TABLES[table].columns.filter((c) => c.name !== 'server' && c.name !== 'ver' && !c.name.startsWith('add_'));
}

function sortRows(rows: Row[], cols: string[]): Row[] {
  const key = (r: Row) => JSON.stringify(cols.map((c) => r[c]));
  return rows.map((r) => [key(r), r] as const).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map((x) => x[1]);
}

/** Every row of every shipped table, local side, in one canonical order. */
export function localRows(dbPath: string): Record<string, Row[]> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const out: Record<string, Row[]> = {};
    for (const t of Object.keys(CENTRAL_TABLES) as Array<keyof typeof CENTRAL_TABLES>) {
      const cols = sharedColumns(t).map((c) => c.name);
      out[t] = sortRows(db.prepare(`SELECT ${cols.join(', ')} FROM ${t}`).all() as Row[], cols);
    }
    return out;
  } finally {
    db.close();
  }
}

/** The same, as the central store holds it for one server (FINAL: merged as readers must). */
export async function centralRows(ch: ClickHouseServer, database: string, server: string): Promise<Record<string, Row[]>> {
  const out: Record<string, Row[]> = {};
  for (const t of Object.keys(CENTRAL_TABLES) as Array<keyof typeof CENTRAL_TABLES>) {
    const cols = sharedColumns(t);
    const rows = await ch.json<Row>(`SELECT ${cols.map((c) => c.name).join(', ')} FROM \`${database}\`.${t} FINAL WHERE server = '${server.replace(/[\\']/g, '\\$&')}'`);
    // 64-bit integers arrive as JSON strings.
    for (const r of rows) for (const c of cols) if (c.type !== 'String' && r[c.name] !== null) r[c.name] = Number(r[c.name]);
    out[t] = sortRows(rows, cols.map((c) => c.name));
  }
  return out;
}

/**
 * A TCP proxy on loopback in front of the server that cuts both connections once `cutAfter`
 * bytes have gone from the client to the server (mid-request), as a broken network would.
 */
export class CuttingProxy {
  cutAfter = Infinity;
  cuts = 0;
  private sent = 0;
  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(targetPort: number): Promise<CuttingProxy> {
    const sockets = new Set<Socket>();
    let proxy: CuttingProxy;
    const server = createServer((client) => {
      const upstream = connect(targetPort, '127.0.0.1');
      sockets.add(client); sockets.add(upstream);
      const cut = () => { client.destroy(); upstream.destroy(); };
      client.on('data', (chunk: Buffer) => {
        const room = proxy.cutAfter - proxy.sent;
        if (room <= 0) return cut();
        if (chunk.length >= room) {
          upstream.write(chunk.subarray(0, room));
          proxy.sent += room;
          proxy.cuts++;
          proxy.cutAfter = Infinity;
          proxy.sent = 0;
          // Let the partial request reach the server, then break both sides.
          setTimeout(cut, 20);
          return;
        }
        proxy.sent += chunk.length;
        upstream.write(chunk);
      });
      upstream.on('data', (chunk) => client.write(chunk));
      client.on('close', () => { upstream.destroy(); sockets.delete(client); });
      upstream.on('close', () => { client.destroy(); sockets.delete(upstream); });
      client.on('error', () => {});
      upstream.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy = new CuttingProxy(server, (server.address() as { port: number }).port);
    proxy.closeAll = () => { for (const s of sockets) s.destroy(); };
    return proxy;
  }

  /** Cut the connection carrying the `bytes`-th byte from now. */
  cutIn(bytes: number): void {
    this.sent = 0;
    this.cutAfter = bytes;
  }

  private closeAll: () => void = () => {};

  async stop(): Promise<void> {
    this.closeAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

// ---- the per-minute roll-ups against the local rows they sum ----

export interface Rollups { traffic: string[]; events: string[] }

/** What the roll-ups should hold for one local database: per minute and key, as sorted text lines. */
export function localRollups(dbPath: string): Rollups {
  const db = new Database(dbPath, { readonly: true });
  try {
    const traffic = db.prepare(`SELECT minute, source, iface, sum(bytes_in) AS i, sum(bytes_out) AS o, sum(packets_in) AS pi, sum(packets_out) AS po
      FROM flows GROUP BY minute, source, iface`).all() as Row[];
    const ev = new Map<string, [number, number, number]>();
    const add = (k: string, v: [number, number, number]) => {
      const had = ev.get(k) ?? [0, 0, 0];
      ev.set(k, [had[0] + v[0], had[1] + v[1], had[2] + v[2]]);
    };
    for (const r of db.prepare(`SELECT (ts / 60000) * 60000 AS minute, source, kind, coalesce(account, '') AS account, count(*) AS n,
      sum(coalesce(bytes_in, 0)) AS i, sum(coalesce(bytes_out, 0)) AS o FROM events GROUP BY 1, 2, 3, 4`).all() as Row[]) {
      add(JSON.stringify([r.minute, r.source, r.kind, r.account]), [Number(r.n), Number(r.i), Number(r.o)]);
    }
    for (const r of db.prepare('SELECT minute, source, kind, sum(count) AS n FROM event_agg GROUP BY 1, 2, 3').all() as Row[]) {
      add(JSON.stringify([r.minute, r.source, r.kind, '']), [Number(r.n), 0, 0]);
    }
    return {
      traffic: traffic.map((r) => JSON.stringify([r.minute, r.source, r.iface, r.i, r.o, r.pi, r.po])).sort(),
      events: [...ev].map(([k, v]) => JSON.stringify([...JSON.parse(k), ...v])).sort(),
    };
  } finally {
    db.close();
  }
}

/** The same, as the central roll-ups hold it for one server (`tables`: step 4's, read merged, unless told). */
export async function centralRollups(ch: ClickHouseServer, database: string, server: string,
  tables = { traffic: `\`${database}\`.traffic_by_minute FINAL`, events: `\`${database}\`.events_by_minute FINAL` }): Promise<Rollups> {
  const where = `WHERE server = '${server.replace(/[\\']/g, '\\$&')}'`;
  const traffic = await ch.json<Row>(`SELECT minute, source, iface, sum(bytes_in) AS i, sum(bytes_out) AS o, sum(packets_in) AS pi, sum(packets_out) AS po
    FROM ${tables.traffic} ${where} GROUP BY minute, source, iface`);
  const events = await ch.json<Row>(`SELECT minute, source, kind, account, sum(events) AS n, sum(bytes_in) AS i, sum(bytes_out) AS o
    FROM ${tables.events} ${where} GROUP BY minute, source, kind, account`);
  return {
    traffic: traffic.filter((r) => Number(r.i) || Number(r.o) || Number(r.pi) || Number(r.po))
      .map((r) => JSON.stringify([Number(r.minute), r.source, r.iface, Number(r.i), Number(r.o), Number(r.pi), Number(r.po)])).sort(),
    events: events.map((r) => JSON.stringify([Number(r.minute), r.source, r.kind, r.account, Number(r.n), Number(r.i), Number(r.o)])).sort(),
  };
}
