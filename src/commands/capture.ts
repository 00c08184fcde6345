import { Flags } from '@oclif/core';
import { BaseCommand } from '../base-command.js';
import { parseDuration } from '../correlate/window.js';
import { type CaptureReport, openCapture, runCapture } from '../flows/capture.js';
import { formatBytes, info } from '../output.js';
import { openStore } from '../store/index.js';

export default class Capture extends BaseCommand {
  static override summary = 'Capture an interface live and store its traffic as per-minute flow records.';
  static override description = `Uses libpcap through the optional module cap (apt-get install libpcap-dev && npm install cap) and needs root or CAP_NET_RAW. Every finished minute is written to the database as flow records of source "capture" (bytes as on the wire, from the server's point of view); Ctrl-C, SIGTERM or the end of --duration writes the minute in progress and stops. Read them back with bytetrail flows or bytetrail investigate.`;

  static override examples = [
    '<%= config.bin %> capture -i eth0',
    '<%= config.bin %> capture -i eth0 --duration 10m --filter "not port 22"',
    '<%= config.bin %> capture -i tun0 --local 10.8.0.1',
  ];

  static override flags = {
    interface: Flags.string({ char: 'i', description: 'interface to capture on (e.g. eth0, tun0, any)', required: true }),
    duration: Flags.string({ description: 'stop after this long (30s, 10m, 2h); default: until Ctrl-C or SIGTERM' }),
    filter: Flags.string({ description: 'pcap filter expression (pcap-filter(7)), e.g. "not port 22"' }),
    local: Flags.string({ description: "the server's own address (repeat for several; default: the interface's addresses)", multiple: true }),
  };

  async run(): Promise<CaptureReport> {
    const { flags } = await this.parse(Capture);
    const durationMs = flags.duration === undefined ? null : parseDuration(flags.duration);
    if (durationMs === 0 || (flags.duration !== undefined && durationMs === null)) this.userError(`--duration is not a duration: ${flags.duration}`, 'e.g. 30s, 10m, 2h');
    // Fail on a missing module, interface or permission before touching the database.
    const opened = await openCapture({ iface: flags.interface, filter: flags.filter });
    let store;
    try {
      store = openStore({ path: flags.db });
    } catch (err) {
      opened.handle.close();
      throw err;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    try {
      const r = await runCapture(store, {
        iface: flags.interface, durationMs, filter: flags.filter, localIps: flags.local, signal: stop.signal, notice: info,
      }, opened);
      if (!this.jsonEnabled()) {
        this.log(`Captured ${r.packets.toLocaleString('en-US')} packets (${formatBytes(r.bytes)}) on ${r.iface} from ${r.from} to ${r.to}: ` +
          `${r.records.toLocaleString('en-US')} flow records stored (in ${formatBytes(r.bytesIn)}, out ${formatBytes(r.bytesOut)}; local ${r.localIps.join(', ') || 'unknown'}).`);
      }
      return r;
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      store.close();
    }
  }
}
