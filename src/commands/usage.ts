import { Flags } from '@oclif/core';
import { BaseCommand, windowFlags } from '../base-command.js';
import { renderUsageCsv, renderUsageText } from '../render/usage.js';
import { parseQuota, USAGE_BY, USAGE_PERIODS, type UsageBy, type UsagePeriodKind, type UsageReport } from '../usage/report.js';
import { runUsage } from '../usage/run.js';
import { resolveZone } from '../zone.js';

export default class Usage extends BaseCommand {
  static override summary = 'Bytes in and out per account (or service, or server) per hour, day or month, kept after the raw rows are pruned.';
  static override description = `What vnstat -d and -m print for an interface, per account: each closed hour is attributed once, by the same correlation as investigate, and kept as an hourly roll-up for a year (also after watch --keep prunes raw events and flows). Before answering, the window's closed hours not rolled up yet, and those whose inputs changed since (a late log line, a file read again), are rolled up (progress on stderr when that takes long); a changed hour is replaced, never added twice. Shares are of the busiest interface's traffic per vnstat, else of what the evidence accounts for; "how known" is the confidence mix (exact, shared-ip, ip-only, log counters, estimated). Days and months are in --tz.`;

  static override examples = [
    '<%= config.bin %> usage',
    '<%= config.bin %> usage --period month --since 3mo',
    '<%= config.bin %> usage --by service --period hour --since 24h',
    '<%= config.bin %> usage --account jan@example.com --period day --json',
    '<%= config.bin %> usage --over 50GB/month',
    '<%= config.bin %> usage --period month --since 1mo --csv > usage.csv',
  ];

  static override flags = {
    ...windowFlags('30d'),
    since: Flags.string({ description: 'start of the window: a duration back from --until (30d, 3mo, 1y), or a date as for investigate (default: 24h for --period hour, 30d for day, 12mo for month); it begins at the start of its first period' }),
    by: Flags.string({ description: 'one row per', options: [...USAGE_BY], default: 'account' }),
    period: Flags.string({ description: 'one block per (default: day; with --over, its period)', options: [...USAGE_PERIODS] }),
    top: Flags.integer({ description: 'rows per period (the rest summed in one line; default: 10 in the table, all in --json and --csv)', min: 1 }),
    account: Flags.string({ description: 'only this account' }),
    over: Flags.string({ description: 'only accounts above a quota per period: 50GB/month, 2GB/day (bytes in + out)' }),
    csv: Flags.boolean({ description: 'CSV on stdout, one line per period and row, for billing spreadsheets', exclusive: ['json'] }),
    'vpn-port': Flags.integer({ description: 'OpenVPN server port(s), as for investigate', multiple: true }),
  };

  async run(): Promise<UsageReport> {
    const { flags } = await this.parse(Usage);
    const over = flags.over ? parseQuota(flags.over, 'over') : undefined;
    const table = !this.jsonEnabled() && !flags.csv;
    const report = await runUsage({
      db: flags.db, since: flags.since, until: flags.until, now: Date.now(), tz: resolveZone(flags.tz),
      by: flags.by as UsageBy, period: (flags.period ?? over?.per ?? 'day') as UsagePeriodKind,
      top: flags.top ?? (table ? 10 : undefined), account: flags.account, over, vpnPorts: flags['vpn-port'],
    });
    if (flags.csv) this.log(renderUsageCsv(report).trimEnd());
    else if (table) this.log(renderUsageText(report, process.stdout.columns || 100));
    return report;
  }
}
