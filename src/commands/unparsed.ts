import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { renderUnparsed, type UnparsedReport } from '../render/unparsed.js';
import { openSqliteReadStore } from '../store/sqlite-read.js';

export default class Unparsed extends BaseCommand {
  static override description = `Show the lines that ingest and watch did not understand: how many per source, and the samples kept.

Every such line is counted; a bounded number per file and source is kept as a sample, with its file, line number and the reason.`;

  static override examples = [
    '<%= config.bin %> unparsed',
    '<%= config.bin %> unparsed --source dovecot --limit 200 --json',
  ];

  static override flags = {
    source: Flags.string({ description: 'only this source (dovecot, postfix, other, conntrack, ...)' }),
    limit: Flags.integer({ description: 'samples to show at most', default: 50, min: 1 }),
  };

  async run(): Promise<UnparsedReport> {
    const { flags } = await this.parse(Unparsed);
    const store = openSqliteReadStore(flags.db);
    try {
      const r = await store.unparsedReport(flags.source ?? null, flags.limit);
      if (!this.jsonEnabled()) this.log(renderUnparsed(r));
      return r;
    } finally {
      await store.close();
    }
  }
}
