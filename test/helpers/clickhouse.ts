/**
 * The tests' real ClickHouse (src/bench/clickhouse-server.ts, one server per test file), and
 * what they compare: a local database against the central rows and roll-ups, and a proxy that
 * cuts connections mid-request.
 */
import Database from 'better-sqlite3';
import { readFileSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { CENTRAL_TABLES } from '../../src/store/clickhouse/migrations.js';
import { decodeAttrs } from '../../src/store/attrs.js';
import { ClickHouseServer } from '../../src/bench/clickhouse-server.js';

export { ClickHouseServer, freePort, haveClickHouse, NO_CLICKHOUSE, SHIPPER_PASSWORD } from '../../src/bench/clickhouse-server.js';

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

/** Lines stored by reference (migration 12), per table: the text column, the file id and the reference's columns. */
const BY_REFERENCE: Record<string, [text: string, file: string, off: string, len: string]> = {
  events: ['raw', 'file_id', 'raw_off', 'raw_len'], event_agg: ['sample_raw', 'sample_file_id', 'sample_off', 'sample_len'],
};

/**
 * Every row of every shipped table, local side, in one canonical order. A line stored by
 * reference gets its text from the file itself (read here as plain bytes, independently of the
 * store's evidence reader): what the central store must hold.
 */
export function localRows(dbPath: string): Record<string, Row[]> {
  const db = new Database(dbPath, { readonly: true });
  try {
    const hasShapes = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'attr_shapes'").get() !== undefined;
    const shapes = new Map(hasShapes ? (db.prepare('SELECT id, keys FROM attr_shapes').raw().all() as Array<[number, string]>).map(([id, keys]) => [id, JSON.parse(keys) as string[]]) : []);
    const out: Record<string, Row[]> = {};
    const content = new Map<number, Buffer>();
    const fileText = (id: number, off: number, len: number): string => {
      let buf = content.get(id);
      if (!buf) { buf = readFileSync((db.prepare('SELECT path FROM files WHERE id = ?').get(id) as { path: string }).path); content.set(id, buf); }
      return buf.toString('utf8', off, off + len).replace(/\r$/, '').slice(0, 4096);
    };
    for (const t of Object.keys(CENTRAL_TABLES) as Array<keyof typeof CENTRAL_TABLES>) {
      const cols = sharedColumns(t).map((c) => c.name);
      const ref = BY_REFERENCE[t];
      const rows = db.prepare(`SELECT ${[...cols, ...(ref ? [`${ref[2]} AS ref_off`, `${ref[3]} AS ref_len`] : [])].join(', ')} FROM ${t}`).all() as Row[];
      if (ref) {
        for (const r of rows) {
          if (r[ref[0]] === null && r.ref_off !== null) r[ref[0]] = fileText(Number(r[ref[1]]), Number(r.ref_off), Number(r.ref_len));
          delete r.ref_off; delete r.ref_len;
        }
      }
      if (t === 'events') for (const r of rows) if (typeof r.attrs === 'string') r.attrs = JSON.stringify(decodeAttrs(r.attrs, (id) => shapes.get(id)!));
      out[t] = sortRows(rows, cols);
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
