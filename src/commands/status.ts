import { BaseCommand, storeFlags } from '../base-command.js';
import { type FleetStatus, renderStatus, watchStatus, type WatchStatus } from '../watch/status.js';

export default class Status extends BaseCommand {
  static override description = `Show what watch follows, each file's offset and lag, the last alert, and the database size.

Reads the database only; run it while watch runs or after.`;

  static override examples = [
    '<%= config.bin %> status',
    '<%= config.bin %> status --db /var/lib/bytetrail/bytetrail.db --json',
  ];

  static override flags = { ...storeFlags() };

  async run(): Promise<WatchStatus | FleetStatus> {
    const { flags } = await this.parse(Status);
    const now = Date.now();
    const s = await watchStatus({ db: flags.db, store: flags.store, servers: flags.server }, now);
    if (!this.jsonEnabled()) this.log(renderStatus(s, now));
    return s;
  }
}
