/**
 * One `ship` of the fleet benchmark, in its own process so that its peak RSS is its own:
 *   node dist/bench/fleet-ship.js <db> <clickhouse-url> <server>
 * prints one JSON object: rows, wall and CPU seconds, peak RSS.
 */
import { ship } from '../store/clickhouse/ship.js';
import { parseClickHouseUrl } from '../store/clickhouse/url.js';
import { openStore } from '../store/index.js';

const [db, url, server] = process.argv.slice(2);
const t0 = process.hrtime.bigint();
const c0 = process.cpuUsage();
const store = openStore({ path: db });
try {
  const r = await ship(store, parseClickHouseUrl(url), { server, defaultServer: server });
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({
    rows: r.rows, wall: Number(process.hrtime.bigint() - t0) / 1e9, cpu: (c.user + c.system) / 1e6,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
  }));
} finally {
  store.close();
}
