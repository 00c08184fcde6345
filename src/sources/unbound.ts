/** unbound's query and reply log lines, kept as per-minute aggregates by query type. */
import { unbound as parser } from '../parsers/unbound.js';
import type { LogSource } from './types.js';

export const source: LogSource = {
  name: 'unbound',
  title: 'unbound',
  tags: ['unbound', 'local-unbound'],
  nativeStamps: ['epoch-bracket'],
  parser,
  aggregate: (ev) => (ev.kind === 'query' || ev.kind === 'reply' ? String(ev.attrs?.qtype ?? '') : null),
  aggregateFact: (kind) => (kind === 'query' ? 'dns-query' : null),
  ports: [['dns', 53, ['tcp', 'udp']]],
  standardPaths: ['/var/log/unbound.log'],
  fact: () => null,
  service: () => 'unbound',
};
