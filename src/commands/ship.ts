import { Flags } from '@oclif/core';
import { hostname } from 'node:os';
import { BaseCommand } from '../base-command.js';
import { info, warn } from '../output.js';
import { ship, DEFAULT_BATCH_ROWS, type ShipResult } from '../store/clickhouse/ship.js';
import { PASSWORD_ENV, targetFromFlag } from '../store/clickhouse/url.js';
import { defaultDbPath, openStore } from '../store/index.js';
import { StoreError } from '../errors.js';
import { existsSync } from 'node:fs';

export default class Ship extends BaseCommand {
  static override description = `Send what the local database holds and a central ClickHouse store does not have yet.

Events, aggregates, flows, VPN leases, interface totals and watch's alerts, each row marked with this server's name. A table's mark moves only after ClickHouse has acknowledged a batch, so an interrupted run loses nothing and sends nothing twice in effect: run it again. The central schema is created or updated first.`;

  static override examples = [
    '<%= config.bin %> ship --to clickhouse://central.example.net/bytetrail',
    `${PASSWORD_ENV}=… <%= config.bin %> ship --to clickhouses://bytetrail@central.example.net/bytetrail --server mx3`,
  ];

  static override flags = {
    to: Flags.string({ description: 'clickhouse://[user@]host[:port]/database (clickhouses:// for HTTPS); the password from $' + PASSWORD_ENV, required: true, env: 'BYTETRAIL_SHIP_TO' }),
    server: Flags.string({ description: "this server's name in the central store (default: the host name; recorded on first use)" }),
    'batch-rows': Flags.integer({ description: 'most rows per insert', default: DEFAULT_BATCH_ROWS, hidden: true }),
  };

  async run(): Promise<ShipResult> {
    const { flags } = await this.parse(Ship);
    const target = targetFromFlag(flags.to, 'to', warn);
    const path = flags.db ?? defaultDbPath();
    // Shipping never creates a database: a wrong --db would otherwise ship an empty new one.
    if (!existsSync(path)) throw new StoreError(`no database at ${path}`, { hint: 'run `bytetrail ingest` or `watch` first, or pass --db' });
    const store = openStore({ path });
    try {
      const r = await ship(store, target, {
        server: flags.server, defaultServer: hostname(), batchRows: flags['batch-rows'],
        onBatch: (table, rows) => { if (process.env.BYTETRAIL_DEBUG) info(`shipped ${rows} ${table} row(s)`); },
      });
      if (!this.jsonEnabled()) this.log(renderShip(r));
      return r;
    } finally {
      store.close();
    }
  }
}

function renderShip(r: ShipResult): string {
  const lines = [`Shipped ${r.rows.toLocaleString('en-US')} row(s) as ${r.server} to ${r.target} (ClickHouse ${r.serverVersion}).`];
  if (r.migrationsApplied.length) lines.push(`Central schema steps applied: ${r.migrationsApplied.join(', ')}.`);
  for (const t of r.tables) lines.push(`  ${t.table.padEnd(13)} ${String(t.rows).padStart(10)} row(s) in ${t.batches} batch(es)${t.pending ? `, ${t.pending} pending` : ''}`);
  return lines.join('\n');
}
