/**
 * A real ClickHouse server on loopback for the tests and the fleet benchmark: Debian's
 * clickhouse-server (18.16 on Debian 12) or a newer single `clickhouse` binary, on free ports,
 * with its config, users and data in a temporary folder. It starts in well under a second here.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
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

  /** CPU seconds the server process has used so far (Linux), or null: the benchmark's server-side cost. */
  cpuSeconds(): number | null {
    const pid = this.child?.pid;
    if (!pid) return null;
    try {
      const st = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      return (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      return null;
    }
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

