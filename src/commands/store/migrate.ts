import { Flags } from '@oclif/core';
import { BaseCommand } from '../../base-command.js';
import { Central, type MigrateResult } from '../../store/clickhouse/central.js';
import { PASSWORD_ENV, targetFromFlag } from '../../store/clickhouse/url.js';
import { warn } from '../../output.js';

export default class StoreMigrate extends BaseCommand {
  static override description = `Create or update the central ClickHouse schema (ship does this too).

Steps are numbered, idempotent and recorded in the database's bytetrail_migrations table; features newer than the server (TTL, LowCardinality, codecs) are used only where its version has them.`;

  static override examples = ['<%= config.bin %> store migrate --store clickhouse://central.example.net/bytetrail'];

  static override flags = {
    store: Flags.string({ description: 'clickhouse://[user@]host[:port]/database; the password from $' + PASSWORD_ENV, required: true, env: 'BYTETRAIL_STORE' }),
  };

  async run(): Promise<MigrateResult> {
    const { flags } = await this.parse(StoreMigrate);
    const target = targetFromFlag(flags.store, 'store', warn);
    const central = new Central(target);
    try {
      const r = await central.migrate();
      if (!this.jsonEnabled()) {
        this.log(r.applied.length ? `Applied schema step(s) ${r.applied.join(', ')} to ${target.display} (ClickHouse ${r.serverVersion}).`
          : `Schema of ${target.display} is current (step ${r.current}, ClickHouse ${r.serverVersion}).`);
      }
      return r;
    } finally {
      await central.close();
    }
  }
}
