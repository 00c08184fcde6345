/**
 * `watch --capture`: a real capture (the module cap, or tcpdump) on a real veth in a network
 * namespace, real traffic from the other end, and the flow records that land in the database.
 * Needs root and `ip netns`, and the module cap or tcpdump for the case that uses it; each case
 * is skipped, with the reason, without them.
 */
import Database from 'better-sqlite3';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BIN, tempDir } from '../helpers/cli.js';
import { createNetnsPair, netnsUnavailable, stopGracefully, waitForOutput } from '../helpers/netns.js';
import { capUnavailable, missingCommands, skipNote, why } from '../helpers/tools.js';

const netWhy = netnsUnavailable();
/** Each way of capturing needs only its own tool: the module cap, or the tcpdump command. */
const needs: Record<string, string | null> = { cap: why(netWhy, await capUnavailable()), tcpdump: why(netWhy, missingCommands(['tcpdump'])) };

describe(`watch --capture`, () => {
  let dir: string;
  let cleanup: () => void;
  beforeEach(() => ({ dir, cleanup } = tempDir('bytetrail-capture-')));
  afterEach(() => cleanup());

  for (const using of ['cap', 'tcpdump']) it.skipIf(needs[using] !== null)(`stores live traffic as flow records of source capture, the open minute on SIGINT (${using})${skipNote(needs[using])}`, async () => {
    const net = createNetnsPair();
    try {
      const db = join(dir, 'bt.db');
      const log = join(dir, 'empty.log');
      writeFileSync(log, '');
      const w = net.start(net.nsA, [process.execPath, BIN, 'watch', '--db', db, log, '--capture', net.vethA, '--local', net.ipA, '--capture-filter', 'udp port 9999', '--capture-with', using, '--poll-ms', '100', '--sweep-ms', '300']);
      let err = '';
      w.stderr!.on('data', (c: Buffer) => { err += c.toString('utf8'); });
      await waitForOutput(w, using === 'cap' ? 'capturing on' : 'listening on');
      // 200 datagrams of 1,000 bytes from the other end: 1,042-byte frames on the wire.
      const send = `const s = require('dgram').createSocket('udp4'); let n = 0; const go = () => { if (n++ < 200) s.send(Buffer.alloc(1000), 9999, '${net.ipA}', go); else s.close(); }; go();`;
      net.run(net.nsB, [process.execPath, '-e', send]);
      // Stopped at once: what was on the wire before the stop must all be stored, however far
      // a loaded host made the capture lag (watch asks tcpdump what passed its filter, and drains
      // cap's ring, before it stops).
      expect(await stopGracefully(w)).toBe(0);
      const d = new Database(db, { readonly: true });
      try {
        const r = d.prepare("SELECT iface, rip, lport, sum(packets_in) AS packets, sum(bytes_in) AS bytes FROM flows WHERE source = 'capture' GROUP BY iface, rip, lport").all();
        expect(r, err).toEqual([{ iface: net.vethA, rip: net.ipB, lport: 9999, packets: 200, bytes: 200 * 1042 }]);
      } finally {
        d.close();
      }
    } finally {
      net.destroy();
    }
  });
});
