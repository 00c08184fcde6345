/** WireGuard's counters: `wg show all dump` snapshots (see src/sources/wireguard.ts). */
import type { CounterSource } from '../types.js';
import { isWgDump, WIREGUARD_STATE_KEY, wireguardDumpSnapshot } from '../wireguard.js';

export const source: CounterSource = {
  kind: 'wireguard',
  title: 'WireGuard `wg show all dump`',
  label: 'flow records and leases (wireguard)',
  rank: 20,
  sniff: isWgDump,
  stateKey: WIREGUARD_STATE_KEY,
  flows: true,
  compute: (input, prev, opts) => wireguardDumpSnapshot(input.text, prev, { fileTime: input.fileTime, name: input.name, port: opts.servicePorts?.wireguard?.[0] }),
  standardPaths: [],
  ports: [['wireguard', 51820, ['udp'], 'vpn']],
};
