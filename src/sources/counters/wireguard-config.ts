/**
 * WireGuard peer names from its configuration (wg-quick and PiVPN comments, wg-easy's wg0.json):
 * no counters, but the names the dump's public keys stand for (see src/sources/wireguard.ts).
 */
import type { CounterSource } from '../types.js';
import { isWgConfig, WIREGUARD_STATE_KEY, wireguardConfigSnapshot } from '../wireguard.js';

export const source: CounterSource = {
  kind: 'wireguard-config',
  title: 'WireGuard configuration (wg-quick, PiVPN) or wg-easy wg0.json: peer names',
  label: 'peer names (wireguard-config)',
  rank: 30,
  sniff: isWgConfig,
  // The dump's state: a name learnt here applies to the peer's next snapshot.
  stateKey: WIREGUARD_STATE_KEY,
  flows: false,
  compute: (input, prev) => wireguardConfigSnapshot(input.text, prev, { fileTime: input.fileTime }),
  standardPaths: ['/etc/wireguard/wg0.conf', '/etc/wireguard/wg0.json'],
};
