/** netfilter LOG/NFLOG lines (iptables, nftables, Shorewall, Proxmox): per-minute aggregates of drops. */
import { netfilter as parser } from '../parsers/netfilter.js';
import type { LogSource } from './types.js';

export const source: LogSource = {
  name: 'netfilter',
  title: 'netfilter',
  tags: ['kernel', 'ulogd', 'ulogd2', 'pve-firewall'],
  nativeStamps: ['pve-firewall'],
  parser,
  // Every logged packet is one line: keep them per minute, source, port, protocol and verdict.
  // A prefix that names no verdict (kind `log`) keeps its own aggregate: two unknown rules (one
  // may accept, the other drop) must not merge into one count.
  aggregate: (ev) => String(ev.attrs?.proto ?? '') + ':' + ev.kind + (ev.kind === 'log' ? ':' + String(ev.attrs?.prefix ?? '') : ''),
  // Accepted packets are no evidence of a scan; a prefix that names no verdict is kept apart.
  aggregateFact: (kind) => (kind === 'drop' || kind === 'reject' ? 'firewall-drop' : kind === 'log' ? 'firewall-log' : null),
  standardPaths: ['/var/log/kern.log'],
  corpusDirs: ['netfilter'],
  fact: () => null,
  service: () => 'netfilter',
};
