/** unbound's query and reply log lines, kept as per-minute aggregates by query type. */
import { taggedEnvelope } from '../../parsers/syslog.js';
import { unbound as parser } from '../../parsers/unbound.js';
import type { LogSource, StampReader } from '../types.js';

const TAG = /^ +([\w.-]+)\[(\d+)(?::[0-9a-f]+)?\]:? /;

/** `[1732094402] unbound[1234:0] info: ...`: unbound's own logfile stamps epoch seconds. */
const EPOCH_BRACKET: StampReader = {
  name: 'epoch-bracket',
  example: '[1732094402] unbound[1234:0] info: msg',
  read(line, i) {
    if (line.charCodeAt(i) !== 91 /* [ */) return null;
    const close = line.indexOf(']', i);
    if (close < 0) return null;
    const inner = line.slice(i + 1, close).trim();
    if (!/^\d{9,10}$/.test(inner)) return null;
    // The tag is `unbound[1234:0]` with no colon after it and no host before it.
    const m = TAG.exec(line.slice(close + 1, close + 80));
    if (m) return { ts: +inner * 1000, host: null, program: m[1], pid: +m[2], msg: line.slice(close + 1 + m[0].length), form: 'native', tagArgs: null };
    return taggedEnvelope(line, close + 1, +inner * 1000);
  },
};

export const source: LogSource = {
  name: 'unbound',
  title: 'unbound',
  rank: 50,
  tags: ['unbound', 'local-unbound'],
  nativeStamps: ['epoch-bracket'],
  stampReaders: [EPOCH_BRACKET],
  parser,
  aggregate: (ev) => (ev.kind === 'query' || ev.kind === 'reply' ? String(ev.attrs?.qtype ?? '') : null),
  aggregateFact: (kind) => (kind === 'query' ? 'dns-query' : kind === 'reply' ? 'dns-reply' : null),
  ports: [['dns', 53, ['tcp', 'udp'], 'dns']],
  groups: [{ name: 'dns', label: 'DNS' }],
  standardPaths: ['/var/log/unbound.log'],
  fact: () => null,
  service: () => 'unbound',
};
