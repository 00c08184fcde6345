import { Flags } from '@oclif/core';
import { BaseCommand, storeFlags, windowFlags } from '../base-command.js';
import { resolveWindow } from '../correlate/window.js';
import { FLOW_SOURCES, FLOWS_BY, type FlowSource, type FlowsBy, type FlowsReport, queryFlows, renderFlowsText } from '../flows/query.js';
import { openReadStore } from '../store/open.js';
import { resolveZone } from '../zone.js';

export default class Flows extends BaseCommand {
  static override summary = 'Top talkers and a per-minute time series of a past window, from the stored flow records.';
  static override description = `What iftop, nethogs and tshark -z conv cannot give after the fact: traffic per remote address, service or local port, or per minute, for any window already ingested (captures, bytetrail capture, conntrack listings, OpenVPN status files). Bytes are counted from the server's point of view (in = received by it) from ONE source: the most complete one in the window unless --source names one; two sources that saw the same traffic are never added together.`;

  static override examples = [
    '<%= config.bin %> flows',
    '<%= config.bin %> flows --since 2h --by service',
    '<%= config.bin %> flows --since 2026-11-20T09:00Z --until 2026-11-20T10:00Z --by minute --json',
    '<%= config.bin %> flows --source conntrack --by local-port --top 5',
  ];

  static override flags = {
    ...windowFlags('1h'),
    ...storeFlags(),
    by: Flags.string({ description: 'group by', options: [...FLOWS_BY], default: 'remote' }),
    top: Flags.integer({ description: 'rows to show (not for --by minute, which lists every minute)', default: 10, min: 1 }),
    source: Flags.string({ description: 'flow source to read (default: the most complete one in the window)', options: [...FLOW_SOURCES] }),
  };

  async run(): Promise<FlowsReport> {
    const { flags } = await this.parse(Flows);
    const { from, to } = resolveWindow(flags.since, flags.until, Date.now(), '1h', resolveZone(flags.tz));
    const store = await openReadStore({ db: flags.db, store: flags.store, servers: flags.server });
    try {
      const report = await queryFlows(store, { from, to, by: flags.by as FlowsBy, top: flags.top, source: flags.source as FlowSource | undefined });
      if (!this.jsonEnabled()) this.log(renderFlowsText(report));
      return report;
    } finally {
      await store.close();
    }
  }
}
