/**
 * Live capture (`watch --capture eth0`) through the flow stage: frames go to its FlowAggregator
 * and each finished minute is stored as flow records of source `capture`, exactly as
 * `bytetrail capture` does. Two packet sources:
 *
 * - libpcap through the optional module `cap` (the flow stage's `runCapture`), when installed;
 * - otherwise tcpdump, writing a pcap stream to a pipe that the capture reader parses
 *   (`tcpdump -i eth0 -n -U -s 192 -w -`): tcpdump does the privileged part, bytetrail only
 *   reads the pipe.
 *
 * The minute in progress is held in memory: stopping stores it; `kill -9` loses at most that
 * minute. A capture that cannot start or stops is reported once; `watch` goes on without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { FlowAggregator } from '../flows/aggregate.js';
import { drainUntilQuiet, openCapture, runCapture } from '../flows/capture.js';
import { type CaptureSink, readCapture } from '../flows/pcap.js';
import { BytetrailError } from '../errors.js';
import type { Store } from '../store/index.js';

export interface CaptureOptions {
  iface: string;
  /** A pcap filter expression, e.g. `not port 22`. */
  filter?: string;
  localIps?: string[];
  /** auto: libpcap through `cap` when installed, else tcpdump. */
  using?: 'auto' | 'cap' | 'tcpdump';
  notice(message: string): void;
}

export interface LiveCapture {
  readonly using: 'cap' | 'tcpdump' | 'none';
  stop(): Promise<void>;
}

const NONE: LiveCapture = { using: 'none', stop: async () => undefined };

export async function startCapture(store: Store, o: CaptureOptions): Promise<LiveCapture> {
  const using = o.using ?? 'auto';
  if (using !== 'tcpdump') {
    let opened: Awaited<ReturnType<typeof openCapture>>;
    try {
      opened = await openCapture({ iface: o.iface, filter: o.filter });
    } catch (err) {
      const noCap = err instanceof BytetrailError && err.code === 'E_NO_CAP';
      if (noCap && using === 'auto') return startTcpdump(store, o);
      o.notice(`--capture ${o.iface}: ${(err as Error).message}; watch goes on without it`);
      return NONE;
    }
    const stop = new AbortController();
    const run = runCapture(store, { iface: o.iface, durationMs: null, filter: o.filter, localIps: o.localIps, signal: stop.signal, notice: (m) => o.notice(`capture: ${m}`) }, opened)
      .then(() => undefined, (err: Error) => o.notice(`capture on ${o.iface} stopped: ${err.message}; watch goes on without it`));
    return { using: 'cap', async stop() { stop.abort(); await run; } };
  }
  return startTcpdump(store, o);
}

function startTcpdump(store: Store, o: CaptureOptions): LiveCapture {
  const agg = new FlowAggregator({
    iface: o.iface, localIps: o.localIps?.length ? o.localIps : undefined, lagMinutes: 0,
    onFlush: (records) => {
      try { store.addFlows('capture', records); } catch (err) { o.notice(`capture: ${(err as Error).message}`); }
    },
  });
  const args = ['-i', o.iface, '-n', '-U', '-s', '192', '-w', '-', ...(o.filter ? [o.filter] : [])];
  let stopping = false;
  let failed = false;
  let child: ChildProcess;
  try {
    child = spawn('tcpdump', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    o.notice(`--capture ${o.iface}: cannot start tcpdump: ${(err as Error).message}`);
    return NONE;
  }
  let stderr = '';
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    let nl: number;
    while ((nl = stderr.indexOf('\n')) >= 0) {
      const line = stderr.slice(0, nl).trim();
      stderr = stderr.slice(nl + 1);
      if (line && !stopping && !/packets (captured|received|dropped)/.test(line)) o.notice(`capture: ${line}`);
    }
  });
  child.on('error', (err) => {
    failed = true;
    const e = err as NodeJS.ErrnoException;
    o.notice(e.code === 'ENOENT' ? `--capture ${o.iface}: neither the module cap nor tcpdump is installed (apt-get install tcpdump); watch goes on without it` : `--capture ${o.iface}: ${e.message}`);
  });
  child.on('exit', (code, signal) => {
    if (!stopping && !failed) o.notice(`capture on ${o.iface} stopped (${signal ?? `exit status ${code}`}); watch goes on without it`);
  });
  // Minutes without packets are closed by the clock.
  const tick = setInterval(() => agg.advance(Date.now()), 1000);
  let lastPacketAt = 0;
  const sink: CaptureSink = {
    iface: (d) => agg.iface(d),
    packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen) {
      lastPacketAt = Date.now();
      agg.packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen);
    },
  };
  const reading = readCapture(child.stdout!, sink).then(
    () => undefined,
    (err: Error) => { if (!stopping && !failed) o.notice(`capture on ${o.iface}: ${err.message}`); },
  );
  return {
    using: 'tcpdump',
    async stop() {
      clearInterval(tick);
      if (child.exitCode === null && child.signalCode === null) {
        // libpcap hands packets over in blocks retired after up to a second, and tcpdump drops
        // what is still in the kernel's ring when it is signalled: let one more block through,
        // then wait until tcpdump has caught up (a loaded host lags).
        await new Promise((r) => setTimeout(r, 1100));
        await drainUntilQuiet(() => lastPacketAt, 3000);
        stopping = true;
        child.kill('SIGTERM');
      }
      stopping = true;
      await reading;
      agg.finish();
    },
  };
}
