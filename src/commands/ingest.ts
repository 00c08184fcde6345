import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { parseInstant } from '../correlate/window.js';
import { InputError } from '../errors.js';
import { flowHandlers } from '../flows/handlers.js';
import { ingestPaths, type IngestSummary } from '../ingest/index.js';
import { progressBar } from '../progress.js';
import { renderIngestSummary } from '../render/ingest.js';
import { escapeControls, info, warn } from '../output.js';
import { openStore, type UnparsedRow } from '../store/index.js';
import { resolveZone } from '../zone.js';

export default class Ingest extends BaseCommand {
  static override description = `Read log files, captures and status snapshots into the database.

Files are recognised by content (mail.log mixes Postfix, Dovecot and more). Rotated and gzipped files are read too. A second run reads only what is new; nothing is ever counted twice.`;

  static override examples = [
    '<%= config.bin %> ingest /var/log/mail.log* /var/log/kern.log /var/log/openvpn/',
    'zcat old/mail.log.*.gz | <%= config.bin %> ingest -',
    '<%= config.bin %> ingest --json --print-unparsed fixtures/logs/',
  ];

  static override strict = false;
  static override args = { paths: Args.string({ description: 'files, directories, globs, or - for stdin', required: true }) };

  static override flags = {
    'print-unparsed': Flags.boolean({ description: 'print every line that was not understood, with its file, line number and reason' }),
    'boot-time': Flags.string({ description: 'boot time for bare kernel [uptime] stamps, as in dmesg output (a date, read in --tz unless it has an offset)' }),
    local: Flags.string({ description: "the server's own address, for captures and conntrack listings (repeat for several; default: inferred)", multiple: true, multipleNonGreedy: true }),
    final: Flags.boolean({ description: 'the files are finished: also read an unterminated last line (by default it waits for the next run, unless the file was rotated away)' }),
    'vpn-port': Flags.integer({ description: 'OpenVPN server port, for captures and status files (repeat for several; default 1194)', multiple: true, multipleNonGreedy: true }),
  };

  async run(): Promise<IngestSummary & { unparsedLines?: UnparsedRow[] }> {
    const { argv, flags } = await this.parse(Ingest);
    const tz = resolveZone(flags.tz);
    // Dated as --since is: a local time in --tz unless it carries an offset.
    const bootTime = flags['boot-time'] ? parseInstant(flags['boot-time'], 'boot-time', tz, Date.now()) : null;
    const store = openStore({ path: flags.db });
    const bar = progressBar('ingest');
    // With --json, --print-unparsed puts the lines in the result (oclif silences log()).
    const json = this.jsonEnabled();
    const unparsedLines: UnparsedRow[] = [];
    try {
      const summary = await ingestPaths(store, argv as string[], {
        tz, now: Date.now(), bootTime, handlers: flowHandlers(), localIps: flags.local,
        servicePorts: flags['vpn-port'] ? { openvpn: flags['vpn-port'] } : undefined,
        batchLines: Number(process.env.BYTETRAIL_BATCH_LINES) || undefined,
        onProgress: bar.update, final: flags.final,
        onWait: (m) => { bar.end(); info(m); },
        onUnparsed: !flags['print-unparsed'] ? null
          : json ? (u) => { unparsedLines.push({ path: u.path, line: u.line, source: u.source, reason: u.reason, text: u.text }); }
          : (u) => this.log(escapeControls(`${u.path}:${u.line}: [${u.source}] ${u.reason}: ${u.text}`)),
      });
      bar.end();
      // Diagnostics go to stderr even with --json (oclif's logToStderr is silent then).
      for (const e of summary.errors) process.stderr.write(`bytetrail: ${escapeControls(e)}\n`);
      for (const w of summary.warnings) warn(w);
      const held = summary.heldBack;
      if (held.files) info(`left ${held.files === 1 ? 'an unterminated last line' : `${held.files} unterminated last lines`} (${held.bytes} bytes) for the next run, when ${held.files === 1 ? 'its writer has' : 'their writers have'} finished; --final reads them now`);
      if (summary.files === 0 && summary.errors.length > 0) throw new InputError('nothing could be read', { hint: 'check the paths and their permissions' });
      if (!json) this.log(renderIngestSummary(summary));
      return flags['print-unparsed'] && json ? { ...summary, unparsedLines } : summary;
    } finally {
      store.close();
    }
  }
}
