import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { Central, type PruneResult } from '../../store/clickhouse/central.js';
import { ROLLUP_KEEP_DAYS } from '../../store/clickhouse/migrations.js';
import { PASSWORD_ENV, targetFromFlag } from '../../store/clickhouse/url.js';
import { warn } from '../../output.js';
import { parseDurationFlag } from '../../watch/units.js';

const DAY_MS = 86_400_000;

export default class StorePrune extends BaseCommand {
  static override description = `Drop the central store's daily partitions older than --keep, and roll-up months older than --keep-rollups.

Raw rows (events, aggregates, flows, leases) are partitioned by UTC day, so retention drops whole partitions at no cost; the per-minute roll-ups are kept longer.`;

  static override examples = ['<%= config.bin %> store prune --store clickhouse://central.example.net/bytetrail --keep 30d'];

  static override flags = {
    store: Flags.string({ description: 'clickhouse://[user@]host[:port]/database; the password from $' + PASSWORD_ENV, required: true, env: 'BYTETRAIL_STORE' }),
    keep: Flags.string({ description: 'keep this many days of raw rows (30d)', required: true }),
    'keep-rollups': Flags.string({ description: 'keep this long of per-minute roll-ups', default: `${ROLLUP_KEEP_DAYS}d` }),
    // Tests prune relative to a fixed day.
    now: Flags.string({ hidden: true }),
  };

  async run(): Promise<PruneResult> {
    const { flags } = await this.parse(StorePrune);
    const target = targetFromFlag(flags.store, 'store', warn);
    const keepDays = Math.ceil(parseDurationFlag(flags.keep, 'keep') / DAY_MS);
    const keepRollupDays = Math.ceil(parseDurationFlag(flags['keep-rollups'], 'keep-rollups') / DAY_MS);
    if (keepRollupDays < keepDays) this.userError('--keep-rollups is shorter than --keep', 'roll-ups are the long view: keep them at least as long as the raw rows');
    const now = flags.now ? Date.parse(flags.now) : Date.now();
    if (Number.isNaN(now)) this.userError(`--now is not a date: ${flags.now}`);
    const central = new Central(target);
    try {
      const r = await central.prune(keepDays, keepRollupDays, now);
      if (!this.jsonEnabled()) {
        const rows = r.dropped.reduce((a, d) => a + d.rows, 0);
        this.log(`Dropped ${r.dropped.length} partition(s), ${rows.toLocaleString('en-US')} row(s), older than ${keepDays} day(s) (roll-ups: ${keepRollupDays}).`);
      }
      return r;
    } finally {
      await central.close();
    }
  }
}
