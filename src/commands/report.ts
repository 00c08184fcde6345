import { Flags } from '@oclif/core';
import { writeFileSync } from 'node:fs';
import { BaseCommand, storeFlags, windowFlags } from '../base-command.js';
import { runInvestigation } from '../correlate/run.js';
import type { Investigation } from '../correlate/types.js';
import { describeFsError, InputError } from '../errors.js';
import { info, warn } from '../output.js';
import { renderHtml } from '../render/html.js';
import { renderMarkdown } from '../render/markdown.js';
import { runUsage } from '../usage/run.js';
import { resolveZone } from '../zone.js';

export default class Report extends BaseCommand {
  static override description = `A ticket-ready incident report, with the same numbers as investigate.

Markdown (the default) pastes into a ticket; --html is one self-contained page with a traffic chart of the window; --json is the investigation object itself.`;

  static override examples = [
    '<%= config.bin %> report --since 2h --markdown > incident.md',
    '<%= config.bin %> report --since 2h --html --out incident.html',
    '<%= config.bin %> report --demo --html --out demo.html',
  ];

  static override flags = {
    markdown: Flags.boolean({ description: 'Markdown report (default)', exclusive: ['html'] }),
    html: Flags.boolean({ description: 'self-contained HTML report with a traffic chart', exclusive: ['markdown'] }),
    out: Flags.string({ description: 'write the report to this file instead of stdout' }),
    ...windowFlags('2h'),
    ...storeFlags(),
    demo: Flags.boolean({ description: 'report on the bundled demo incident' }),
    ingest: Flags.boolean({ description: 'read new log lines first, as investigate does', default: true, allowNo: true }),
    logs: Flags.string({ description: 'paths to read first instead of the standard locations', multiple: true }),
    'vpn-port': Flags.integer({ description: 'OpenVPN server port (repeat for several; default 1194)', multiple: true, multipleNonGreedy: true }),
  };

  async run(): Promise<Investigation> {
    const { flags } = await this.parse(Report);
    const r = await runInvestigation({
      db: flags.db, store: flags.store, servers: flags.server, since: flags.since, until: flags.until, tz: resolveZone(flags.tz), now: Date.now(),
      logs: flags.logs, ingest: flags.ingest, demo: flags.demo, vpnPorts: flags['vpn-port'], onWarning: warn,
    });
    for (const w of [...r.warnings, ...(r.ingest?.warnings ?? [])]) warn(w);
    if (this.jsonEnabled()) return r.investigation;
    // The month before the window, from the usage roll-ups: context, never a reason to fail the report.
    const usage = flags.html ? await runUsage({
      db: r.dbPath, since: '30d', until: r.investigation.window.to, now: Date.now(), tz: resolveZone(flags.tz), by: 'account', period: 'day', vpnPorts: flags['vpn-port'],
    }).catch((err: Error) => { warn(`no month view: ${err.message}`); return null; }) : null;
    const text = flags.html ? renderHtml(r.investigation, { usage }) : renderMarkdown(r.investigation);
    if (flags.out) {
      try {
        writeFileSync(flags.out, text, { mode: 0o600 });
      } catch (err) {
        throw new InputError(describeFsError(flags.out, err, 'write'));
      }
      info(`report written to ${flags.out}`);
    } else this.log(text);
    return r.investigation;
  }
}
