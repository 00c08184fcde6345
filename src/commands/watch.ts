import { Args, Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { runWatch, type WatchSummary } from '../watch/index.js';
import { parseListen } from '../watch/metrics.js';
import { parseDurationFlag, parseRateFlag } from '../watch/units.js';
import { resolveZone } from '../zone.js';
import { warn } from '../output.js';
import { targetFromFlag } from '../store/clickhouse/url.js';
import { parseQuota } from '../usage/report.js';

export default class Watch extends BaseCommand {
  static override description = `Follow logs, OpenVPN status files and conntrack snapshots into the database, and alert when traffic turns abnormal.

Survives log rotation (rename and copytruncate) and restarts: it shares ingest's offsets, so nothing is read twice. An alert runs the correlation over the window and names the top suspect: on stderr, in --alert-log, and to --exec on stdin.`;

  static override examples = [
    '<%= config.bin %> watch',
    '<%= config.bin %> watch /var/log/mail.log /var/log/openvpn/ --alert-above 50mbit --alert-log /var/lib/bytetrail/alerts.jsonl',
    `<%= config.bin %> watch --keep 30d --exec 'mail -s "bytetrail alert" root'`,
    '<%= config.bin %> watch --quota 50GB/month --alert-log /var/lib/bytetrail/alerts.jsonl',
    '<%= config.bin %> watch --capture eth0 --local 192.0.2.10',
    '<%= config.bin %> watch --metrics 127.0.0.1:9188 --metrics-top 20',
  ];

  static override strict = false;
  static override args = { paths: Args.string({ description: 'files or directories to follow (default: the standard log locations)' }) };

  static override flags = {
    'alert-above': Flags.string({ description: 'alert when a window exceeds this rate: 50mbit, 500kbit, 1gbit' }),
    'baseline-multiple': Flags.string({ description: 'alert when a window exceeds this multiple of its baseline (0: off)', default: '3' }),
    'min-rate': Flags.string({ description: 'baseline alerts need at least this rate too', default: '1mbit' }),
    window: Flags.string({ description: 'sliding window judged every minute', default: '5m' }),
    repeat: Flags.string({ description: 'remind about an ongoing incident this often', default: '30m' }),
    'alert-log': Flags.string({ description: 'append each alert as a JSON line to this file' }),
    exec: Flags.string({ description: 'run this through /bin/sh for each alert, with the alert JSON on stdin' }),
    'exec-timeout': Flags.string({ description: 'kill an --exec hook after this long', default: '30s' }),
    keep: Flags.string({ description: 'prune raw events, aggregates and flows older than this (30d); hourly roll-ups (usage included) stay a year' }),
    quota: Flags.string({ description: 'alert once per account and period when its bytes in + out pass this: 50GB/month, 2GB/day' }),
    capture: Flags.string({ description: 'also capture this interface live (libpcap through the module cap, else tcpdump; needs CAP_NET_RAW)' }),
    'capture-filter': Flags.string({ description: 'pcap filter for --capture, e.g. "not port 22"' }),
    'capture-with': Flags.string({ hidden: true, options: ['auto', 'cap', 'tcpdump'], default: 'auto' }),
    local: Flags.string({ description: "the server's own addresses, for captures (default: inferred)", multiple: true }),
    'vpn-port': Flags.integer({ description: 'OpenVPN server port(s)', multiple: true }),
    ship: Flags.string({ description: 'also ship to a central ClickHouse every few seconds: clickhouse://[user@]host[:port]/database (password from $BYTETRAIL_CLICKHOUSE_PASSWORD)' }),
    server: Flags.string({ description: "with --ship: this server's name in the central store (default: the host name)" }),
    'wg-interval': Flags.string({ description: 'as root with wg installed, take a `wg show all dump` this often (0: never)', default: '30s' }),
    'ship-interval': Flags.string({ description: 'with --ship: how often to send what is new (a large fleet ships less often)', default: '5s' }),
    metrics: Flags.string({ description: 'serve Prometheus/OpenMetrics text on http://ADDRESS:PORT/metrics: 9188 or :9188 is loopback, 0.0.0.0:9188 every interface' }),
    'metrics-top': Flags.integer({ description: 'with --metrics: accounts with their own series (the top of the last hour); the rest are summed in account="(other)"', default: 10, min: 0 }),
    clock: Flags.string({ description: 'wall: judge the last minutes; data: follow the newest stored time (to replay old logs)', options: ['wall', 'data'], default: 'wall' }),
    'poll-ms': Flags.integer({ hidden: true, default: 1000 }),
    'read-interval-ms': Flags.integer({ hidden: true, default: 1000 }),
    'drain-ms': Flags.integer({ hidden: true, default: 10_000 }),
    'sweep-ms': Flags.integer({ hidden: true, default: 5000 }),
    'check-ms': Flags.integer({ hidden: true, default: 5000 }),
    'usage-ms': Flags.integer({ hidden: true, default: 60_000 }),
    settle: Flags.string({ hidden: true, default: '20s' }),
  };

  async run(): Promise<WatchSummary> {
    const { argv, flags } = await this.parse(Watch);
    const multiple = Number(flags['baseline-multiple']);
    if (!Number.isFinite(multiple) || multiple < 0) this.userError(`--baseline-multiple is not a number: ${flags['baseline-multiple']}`);
    const controller = new AbortController();
    const stop = () => controller.abort();
    // Once: a second Ctrl-C falls back to Node's default and ends the process at once.
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    try {
      const summary = await runWatch({
        db: flags.db, paths: argv as string[], tz: resolveZone(flags.tz),
        pollMs: flags['poll-ms'], readIntervalMs: flags['read-interval-ms'], drainMs: flags['drain-ms'], sweepMs: flags['sweep-ms'], checkMs: flags['check-ms'], usageMs: flags['usage-ms'],
        windowMs: parseDurationFlag(flags.window, 'window'), repeatMs: parseDurationFlag(flags.repeat, 'repeat'), settleMs: parseDurationFlag(flags.settle, 'settle'),
        alertAboveBps: flags['alert-above'] ? parseRateFlag(flags['alert-above'], 'alert-above') : null,
        multiple, minBps: parseRateFlag(flags['min-rate'], 'min-rate'), clock: flags.clock as 'wall' | 'data',
        alertLog: flags['alert-log'], exec: flags.exec, execTimeoutMs: parseDurationFlag(flags['exec-timeout'], 'exec-timeout'),
        keepMs: flags.keep ? parseDurationFlag(flags.keep, 'keep') : null, quota: flags.quota ? parseQuota(flags.quota, 'quota') : undefined,
        capture: flags.capture, captureFilter: flags['capture-filter'], captureWith: flags['capture-with'] as 'auto' | 'cap' | 'tcpdump', localIps: flags.local, vpnPorts: flags['vpn-port'],
        batchLines: Number(process.env.BYTETRAIL_BATCH_LINES) || undefined,
        wgIntervalMs: flags['wg-interval'] === '0' ? 0 : parseDurationFlag(flags['wg-interval'], 'wg-interval'),
        metrics: flags.metrics === undefined ? undefined : { listen: parseListen(flags.metrics), top: flags['metrics-top'] },
        ship: flags.ship ? { target: targetFromFlag(flags.ship, 'ship', warn), server: flags.server, intervalMs: parseDurationFlag(flags['ship-interval'], 'ship-interval') } : undefined,
      }, controller.signal);
      if (!this.jsonEnabled()) this.log(`Followed ${summary.followed} file(s): ${summary.lines.toLocaleString('en-US')} lines, ${summary.events.toLocaleString('en-US')} events, ${summary.records.toLocaleString('en-US')} flow records; ${summary.alerts} alert(s).`);
      return summary;
    } finally {
      process.off('SIGTERM', stop);
      process.off('SIGINT', stop);
    }
  }
}
