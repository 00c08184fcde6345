/**
 * `watch` takes a `wg show all dump` itself every --wg-interval when it runs as root and `wg`
 * exists. This kernel has no WireGuard device (no interface to read real counters from), so
 * `wg` here is a stand-in on PATH that prints the dump format of wg(8) with counters that grow
 * by a known amount per call; everything after it (the dump file, following, snapshot deltas,
 * leases named from the configuration) is the real watch.
 */
import Database from 'better-sqlite3';
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { wgDumpsUnavailable } from '../../src/watch/wireguard.js';
import { BIN, tempDir } from '../helpers/cli.js';

const root = typeof process.getuid === 'function' && process.getuid() === 0;
const PEER = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
const SERVER_KEY = 'HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw=';
/** Bytes the peer's counters grow by per dump: received from it, sent to it. */
const RX = 1_000, TX = 5_000;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('watch takes WireGuard dumps itself', () => {
  it('only as root and with wg installed, and says why not', () => {
    expect(wgDumpsUnavailable(1000, () => true)).toMatch(/not root/);
    expect(wgDumpsUnavailable(0, () => false)).toMatch(/not installed/);
    expect(wgDumpsUnavailable(0, () => true)).toBeNull();
  });

  it.skipIf(!root)('as root: a dump every interval, followed, turned into the peer\'s flows and named lease', async () => {
    const { dir, cleanup } = tempDir('bytetrail-wg-');
    try {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      const calls = join(dir, 'calls');
      writeFileSync(calls, '0');
      // wg(8) `show all dump`: the interface line, then one line per peer (tab-separated).
      writeFileSync(join(bin, 'wg'), `#!/bin/sh
[ "$1" = show ] || exit 0
n=$(($(cat '${calls}') + 1)); echo $n > '${calls}'
printf 'wg0\\tyAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\\t${SERVER_KEY}\\t51820\\toff\\n'
printf 'wg0\\t${PEER}\\t(none)\\t198.51.100.77:40001\\t203.0.113.202/32\\t%s\\t%s\\t%s\\t25\\n' $(date +%s) $((n * ${RX})) $((n * ${TX}))
`);
      chmodSync(join(bin, 'wg'), 0o755);
      const conf = join(dir, 'wg0.conf');
      writeFileSync(conf, `[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nListenPort = 51820\n### begin alice ###\n[Peer]\nPublicKey = ${PEER}\nAllowedIPs = 203.0.113.202/32\n### end alice ###\n`);
      const db = join(dir, 'db', 'bt.db');
      const child = spawn(process.execPath, [BIN, 'watch', '--db', db, '--wg-interval', '1s', '--poll-ms', '100', '--read-interval-ms', '50', '--sweep-ms', '300', conf], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, BYTETRAIL_NO_PROGRESS: '1' }, stdio: ['ignore', 'ignore', 'pipe'],
      });
      let err = '';
      child.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const snapshots = () => {
        if (!existsSync(db)) return 0;
        const d = new Database(db, { readonly: true, fileMustExist: true });
        try { return (d.prepare("SELECT count(*) AS n FROM snapshots WHERE kind = 'wireguard'").get() as { n: number }).n; } catch { return 0; } finally { d.close(); }
      };
      const t0 = Date.now();
      while (snapshots() < 4) {
        if (Date.now() - t0 > 120_000) throw new Error(`timed out waiting for 4 dumps to be stored\n${err}`);
        await sleep(100);
      }
      child.kill('SIGTERM');
      expect(await exited).toBe(0);
      expect(existsSync(join(dir, 'db', 'wireguard', 'wg-all.dump'))).toBe(true);

      const d = new Database(db, { readonly: true, fileMustExist: true });
      try {
        const n = (d.prepare("SELECT count(*) AS n FROM snapshots WHERE kind = 'wireguard'").get() as { n: number }).n;
        const f = d.prepare("SELECT sum(bytes_in) AS bin, sum(bytes_out) AS bout FROM flows WHERE source = 'wireguard'").get() as { bin: number; bout: number };
        // The first dump is the baseline; each later one adds what the counters grew by since
        // the one before it. A dump replaced before watch read it only merges two steps.
        const steps = f.bin / RX;
        expect(Number.isInteger(steps)).toBe(true);
        expect(steps).toBeGreaterThanOrEqual(n - 1);
        expect(steps).toBeLessThanOrEqual(Number(readFileSync(calls, 'utf8')) - 1);
        expect(f.bout).toBe(steps * TX);
        const lease = d.prepare("SELECT account, vip, real_ip AS realIp FROM vpn_leases WHERE source = 'wireguard'").get() as { account: string; vip: string; realIp: string };
        expect(lease).toEqual({ account: 'alice', vip: '203.0.113.202', realIp: '198.51.100.77' });
      } finally {
        d.close();
      }
    } finally {
      cleanup();
    }
  }, 180_000);
});
