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
  aggregate: (ev) => String(ev.attrs?.proto ?? '') + ':' + ev.kind,
  aggregateFact: () => 'firewall-drop',
  standardPaths: ['/var/log/kern.log'],
  corpusDirs: ['netfilter'],
  fact: () => null,
  service: () => 'netfilter',
};
