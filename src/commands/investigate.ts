import { Flags } from '@oclif/core';
import { BaseCommand, storeFlags, windowFlags } from '../base-command.js';
import { FLOW_SOURCES } from '../flows/query.js';
import { runInvestigation } from '../correlate/run.js';
import type { Investigation } from '../correlate/types.js';
import { colorAllowed, warn } from '../output.js';
import { renderInvestigationText } from '../render/investigation.js';
import { resolveZone } from '../zone.js';

export default class Investigate extends BaseCommand {
  static override description = `Name the account behind the bytes in a time window.

By default first reads new lines from the standard log locations (/var/log/mail.log, syslog, kern.log, openvpn/, named/ ...; change with --logs, skip with --no-ingest), then joins flows to logins, VPN sessions and mail deliveries by IP, port and time, and ranks the suspects.`;

  static override examples = [
    '<%= config.bin %> investigate --demo',
    '<%= config.bin %> investigate --since 2h',
    '<%= config.bin %> investigate --since 2026-11-20T08:00:00Z --until 2026-11-20T10:00:00Z --no-ingest --json',
  ];

  static override flags = {
    ...windowFlags('2h'),
    ...storeFlags(),
    demo: Flags.boolean({ description: 'investigate the bundled demo incident in a temporary database' }),
    ingest: Flags.boolean({ description: 'read new log lines first', default: true, allowNo: true }),
    logs: Flags.string({ description: 'paths to read first instead of the standard locations', multiple: true }),
    local: Flags.string({ description: "the server's own address, for captures (repeat for several; default: inferred)", multiple: true, multipleNonGreedy: true }),
    'vpn-port': Flags.integer({ description: 'OpenVPN server port (repeat for several; default 1194)', multiple: true, multipleNonGreedy: true }),
    source: Flags.string({ description: 'flow source to use instead of the most complete one', options: [...FLOW_SOURCES] }),
    live: Flags.boolean({ description: 'with the standard locations, also read what is there now: the conntrack table and OpenVPN status files (as root) and vnstat', default: true, allowNo: true }),
  };

  async run(): Promise<Investigation> {
    const { flags } = await this.parse(Investigate);
    const r = await runInvestigation({
      db: flags.db, store: flags.store, servers: flags.server, since: flags.since, until: flags.until, tz: resolveZone(flags.tz), now: Date.now(),
      logs: flags.logs, ingest: flags.ingest, demo: flags.demo, localIps: flags.local, vpnPorts: flags['vpn-port'], source: flags.source, live: flags.live,
      onWarning: warn,
    });
    for (const w of [...r.warnings, ...(r.ingest?.warnings ?? [])]) warn(w);
    if (!this.jsonEnabled()) this.log(renderInvestigationText(r.investigation, { color: colorAllowed(), width: process.stdout.columns || 100 }));
    return r.investigation;
  }
}
