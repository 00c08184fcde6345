/**
 * WireGuard through `ingest` into a real SQLite file: a PiVPN configuration names the peers,
 * then `wg show all dump` snapshots give per-peer deltas (the first is the baseline, a restart
 * resets the counters) as flow records of source `wireguard`, and allowed IPs as leases.
 */
import { copyFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { flowHandlers } from '../../src/flows/handlers.js';
import { ingestPaths, type IngestSummary } from '../../src/ingest/index.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

const FIXTURES = join(import.meta.dirname, '..', '..', 'fixtures');
const T = (h: number, m: number) => Date.UTC(2026, 10, 20, h, m);
const ALICE = 'uC4wqL1bD9mZk7yQ0pVvW2xN3sR8tJ5hF6gA1eI9oU0=';
const BOB = 'hT9sP2kL7mQ4wE1rY6uI3oA8sD5fG0jH2kL9zX4cV1b=';
const SERVER_KEYS = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\tHIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';

let dir: string, cleanup: () => void, store: Store;
beforeEach(() => { ({ dir, cleanup } = tempDir('bytetrail-wg-')); store = openStore({ path: join(dir, 'bt.db') }); });
afterEach(() => { store.close(); cleanup(); });

const ingest = (paths: string[]): Promise<IngestSummary> => ingestPaths(store, paths, { tz: 'UTC', now: T(12, 0), handlers: flowHandlers(), settleMs: 0 });

function dump(name: string, at: number, alice: [number, number], bob: [number, number]): string {
  const p = join(dir, name);
  writeFileSync(p, [
    `wg0\t${SERVER_KEYS}\t51820\toff`,
    `wg0\t${ALICE}\t(none)\t203.0.113.77:40123\t10.6.0.2/32,fd11:5ee:bad:c0de::2/128\t${at / 1000 - 20}\t${alice[0]}\t${alice[1]}\t25`,
    `wg0\t${BOB}\t(none)\t198.51.100.9:51000\t10.6.0.3/32\t${at / 1000 - 90}\t${bob[0]}\t${bob[1]}\toff`,
  ].join('\n') + '\n');
  utimesSync(p, at / 1000, at / 1000);
  return p;
}

describe('WireGuard counters', () => {
  it('names peers from the configuration, counts growth per peer and leases their addresses', async () => {
    const conf = join(dir, 'wg0.conf');
    copyFileSync(join(FIXTURES, 'wireguard', 'wg0.conf'), conf);
    const s1 = await ingest([conf, dump('wg-0800.dump', T(8, 0), [1_000, 50_000], [500, 700])]);
    expect(s1.perFile.map((f) => f.kind)).toEqual(['wireguard-config', 'wireguard']);
    expect(s1.warnings.join('\n')).toMatch(/first dump: 2 peer\(s\) with [\d,]+ bytes so far taken as the baseline/);
    // Five minutes of streaming for alice; then the interface restarts (wg-quick down/up) and counts from zero.
    await ingest([dump('wg-0805.dump', T(8, 5), [201_000, 30_050_000], [600, 900])]);
    await ingest([dump('wg-0810.dump', T(8, 10), [4_000, 2_000_000], [700, 1_000])]);
    const flows = store.flowsInRange('wireguard', T(7, 0), T(9, 0));
    const sum = (ip: string) => flows.filter((f) => f.rip === ip).reduce((a, f) => [a[0] + f.bytesIn, a[1] + f.bytesOut], [0, 0]);
    expect(sum('203.0.113.77')).toEqual([200_000 + 4_000, 30_000_000 + 2_000_000]);
    expect(sum('198.51.100.9')).toEqual([200, 300]);
    expect(flows.every((f) => f.service === 'wireguard' && f.lport === 51820 && f.proto === 17)).toBe(true);
    // The 08:05-08:10 bytes land in those minutes, not before.
    expect(Math.min(...flows.filter((f) => f.rip === '203.0.113.77').map((f) => f.minute))).toBe(T(8, 0));
    const leases = store.leasesInRange(T(7, 0), T(9, 0)).map((l) => [l.account, l.vip, l.realIp]).sort();
    expect(leases).toEqual(expect.arrayContaining([['alice', '10.6.0.2', '203.0.113.77'], ['alice', 'fd11:5ee:bad:c0de::2', '203.0.113.77'], ['bob', '10.6.0.3', '198.51.100.9']]));
    expect(leases.some(([a]) => a === ALICE)).toBe(false);
  });

  it('a dump read again adds nothing; a peer with no configuration stays its public key', async () => {
    const p = dump('wg.dump', T(8, 0), [1, 2], [3, 4]);
    await ingest([p]);
    await ingest([dump('wg2.dump', T(8, 5), [11, 22], [33, 44])]);
    const again = await ingest([p]);
    expect(again.records).toEqual({});
    const accounts = new Set(store.leasesInRange(T(7, 0), T(9, 0)).map((l) => l.account));
    expect(accounts).toEqual(new Set([ALICE, BOB]));
  });
});
