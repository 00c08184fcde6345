/** netfilter LOG/NFLOG lines (iptables, nftables, Shorewall, Proxmox): per-minute aggregates of drops. */
import { netfilter as parser, pveFirewallEnvelope } from '../../parsers/netfilter.js';
import type { LogSource, StampReader } from '../types.js';

/** `101 1 tap101i0-IN 20/Jun/2022:13:12:46 +0200 REJECT: ...`: Proxmox pve-firewall.log. */
const PVE: StampReader = {
  name: 'pve-firewall',
  example: '101 1 tap101i0-IN 20/Jun/2022:13:12:46 +0200 REJECT: IN=fwbr101i0 OUT=fwbr101i0 SRC=198.51.100.1 DST=192.0.2.1 PROTO=TCP',
  read(line, i) {
    const c = line.charCodeAt(i);
    if (c < 48 || c > 57) return null;
    return pveFirewallEnvelope(i === 0 ? line : line.slice(i));
  },
};

export const source: LogSource = {
  name: 'netfilter',
  title: 'netfilter',
  rank: 30,
  tags: ['kernel', 'ulogd', 'ulogd2', 'pve-firewall'],
  nativeStamps: ['pve-firewall'],
  stampReaders: [PVE],
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
