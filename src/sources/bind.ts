/** BIND's query log: one line per query, kept as per-minute aggregates by query type. */
import { bind as parser } from '../parsers/bind.js';
import type { LogSource } from './types.js';

export const source: LogSource = {
  name: 'bind',
  title: 'BIND',
  tags: ['named', 'bind9', 'queries', '…'],
  nativeStamps: ['dmy-bind'],
  parser,
  aggregate: (ev) => (ev.kind === 'query' || ev.kind === 'reply' ? String(ev.attrs?.qtype ?? '') : null),
  aggregateFact: (kind) => (kind === 'query' ? 'dns-query' : null),
  ports: [['dns', 53, ['tcp', 'udp']]],
  standardPaths: ['/var/log/named', '/var/log/bind'],
  corpusDirs: ['bind'],
  fact: () => null,
  service: () => 'bind',
};
