/**
 * netfilter verdicts named in log prefixes (issue 14): the common conventions are read, and a
 * prefix that names none stays apart from every other in the per-minute aggregates, so that an
 * accept and a drop from unknown rules are never counted together.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ingestPaths } from '../../src/ingest/index.js';
import { kindFromPrefix } from '../../src/parsers/netfilter.js';
import { openStore, type Store } from '../../src/store/index.js';
import { tempDir } from '../helpers/cli.js';

describe('verdicts in netfilter log prefixes', () => {
  it('EdgeOS/VyOS suffixes, ufw, fail2ban, firewalld, and the plain words', () => {
    const want: Array<[string, string]> = [
      ['[WAN_IN-default-D]', 'drop'], ['[LAN_LOCAL-default-A]', 'accept'], ['[WAN_LOCAL-20-R]', 'reject'],
      ['[ipv4-FWD-filter-default-D]', 'drop'], ['[WAN_IN-10-J]', 'log'],
      ['[UFW BLOCK]', 'drop'], ['[UFW LIMIT BLOCK]', 'drop'], ['[UFW ALLOW]', 'accept'], ['[UFW AUDIT]', 'log'],
      ['f2b-sshd:', 'reject'], ['fail2ban-ssh', 'reject'], ['FINAL_REJECT:', 'reject'],
      ['DROP-IN:', 'drop'], ['REJECT-IN', 'reject'], ['ACCEPT:', 'accept'], ['BLOCKED ', 'drop'], ['nft-out:', 'log'],
    ];
    expect(want.map(([p]) => [p, kindFromPrefix(p)])).toEqual(want);
  });

  describe('aggregates', () => {
    let dir: string;
    let cleanup: () => void;
    let store: Store;
    beforeEach(() => {
      ({ dir, cleanup } = tempDir('bytetrail-verdicts-'));
      store = openStore({ path: join(dir, 'bt.db') });
    });
    afterEach(() => {
      store.close();
      cleanup();
    });

    it('two unknown prefixes from one address in one minute stay two aggregates, apart from the drops', async () => {
      const line = (prefix: string, id: number) => `Nov 20 12:00:0${id} mx1 kernel: ${prefix} IN=eth0 OUT= SRC=203.0.113.9 DST=192.0.2.10 LEN=60 TTL=52 ID=${id} DF PROTO=TCP SPT=4000${id} DPT=25 WINDOW=64240 RES=0x00 SYN URGP=0`;
      const p = join(dir, 'kern.log');
      writeFileSync(p, [line('rule-a:', 1), line('rule-b:', 2), line('rule-a:', 3), line('[UFW BLOCK]', 4), line('[WAN_IN-default-D]', 5)].join('\n') + '\n');
      await ingestPaths(store, [p], { tz: 'UTC', now: Date.UTC(2026, 10, 21), settleMs: 0 });
      const aggs = store.aggregatesInRange(Date.UTC(2026, 10, 20), Date.UTC(2026, 10, 21))
        .map((a) => [a.kind, a.detail, a.count]).sort((a, b) => String(a[1]).localeCompare(String(b[1])));
      expect(aggs).toEqual([['drop', 'tcp:drop', 2], ['log', 'tcp:log:rule-a:', 2], ['log', 'tcp:log:rule-b:', 1]]);
    });
  });
});
