/** rspamd: the scan of each queued message (evidence beside a submission). */
import { rspamd as parser } from '../../parsers/rspamd.js';
import type { LogSource } from '../types.js';

export const source: LogSource = {
  name: 'rspamd',
  title: 'rspamd',
  rank: 90,
  tags: ['rspamd'],
  nativeStamps: ['ymd-hms'],
  parser,
  standardPaths: ['/var/log/rspamd/rspamd.log'],
  corpusDirs: ['rspamd'],
  fact: (ev) => (ev.kind === 'scan' && ev.session ? { fact: 'scan', qid: ev.session } : null),
  service: () => 'rspamd',
};
