/**
 * Live capture (`watch --capture eth0`) through the flow stage: frames go to its FlowAggregator
 * and each finished minute is stored as flow records of source `capture`, exactly as
 * `bytetrail capture` does. Two packet sources:
 *
 * - libpcap through the optional module `cap` (the flow stage's `runCapture`), when installed;
 * - otherwise tcpdump, writing a pcap stream to a pipe that the capture reader parses
 *   (`tcpdump -i eth0 -n -U --immediate-mode -s 192 -w -`): tcpdump does the privileged part,
 *   bytetrail only reads the pipe.
 *
 * The minute in progress is held in memory: stopping stores it; `kill -9` loses at most that
 * minute. A capture that cannot start or stops is reported once; `watch` goes on without it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { FlowAggregator } from '../flows/aggregate.js';
import { drainUntilQuiet, openCapture, runCapture } from '../flows/capture.js';
import { type CaptureSink, readCapture } from '../flows/pcap.js';
import { BytetrailError } from '../errors.js';
import type { WriteStore } from '../store/write.js';

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

export async function startCapture(store: WriteStore, o: CaptureOptions): Promise<LiveCapture> {
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

function startTcpdump(store: WriteStore, o: CaptureOptions): LiveCapture {
  const agg = new FlowAggregator({
    iface: o.iface, localIps: o.localIps?.length ? o.localIps : undefined, lagMinutes: 0, fold: true,
    onFlush: (records) => {
      try { store.addFlows('capture', records); } catch (err) { o.notice(`capture: ${(err as Error).message}`); }
    },
  });
  // --immediate-mode: without it libpcap hands packets over in blocks that the kernel retires
  // up to a second later, and what a block holds when tcpdump is stopped is lost.
  const args = ['-i', o.iface, '-n', '-U', '--immediate-mode', '-s', '192', '-w', '-', ...(o.filter ? [o.filter] : [])];
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
  const stats = new TcpdumpStats();
  child.stderr!.on('data', (c: Buffer) => {
    stderr += c.toString('utf8');
    let nl: number;
    while ((nl = stderr.indexOf('\n')) >= 0) {
      const line = stderr.slice(0, nl).trim();
      stderr = stderr.slice(nl + 1);
      stats.line(line);
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
  let packetsRead = 0;
  const sink: CaptureSink = {
    iface: (d) => agg.iface(d),
    packet(handle, linkType, tsSec, tsNsec, buf, off, capLen, origLen) {
      lastPacketAt = Date.now();
      packetsRead++;
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
        // tcpdump drops what is still in the kernel's ring when it is signalled, and a loaded
        // host lags: ask it (SIGUSR1) how many packets passed the filter, and stop it once it
        // has written them all and watch has read them, not after a guessed time.
        if (!(await stats.caughtUp(child, () => packetsRead, 10_000))) await drainUntilQuiet(() => lastPacketAt, 3000);
        stopping = true;
        child.kill('SIGTERM');
      }
      stopping = true;
      await reading;
      agg.finish();
    },
  };
}

/**
 * tcpdump's own counts, from the line it prints on SIGUSR1 (tcpdump 4.99):
 *   tcpdump: 12 packets captured, 14 packets received by filter, 0 packets dropped by kernel
 * "Received by filter" includes what is still in the kernel's ring, unread; "captured" is what
 * tcpdump has written out.
 */
class TcpdumpStats {
  /** Until tcpdump says it listens, SIGUSR1 may still have its default action: end it. */
  private listening = false;
  private waiting: Array<(s: { captured: number; received: number; dropped: number }) => void> = [];

  line(line: string): void {
    if (/listening on/.test(line)) this.listening = true;
    const m = /(\d+) packets? captured, (\d+) packets? received by filter, (\d+) packets? dropped by kernel/.exec(line);
    if (!m) return;
    const s = { captured: Number(m[1]), received: Number(m[2]), dropped: Number(m[3]) };
    for (const w of this.waiting.splice(0)) w(s);
  }

  private ask(child: ChildProcess, timeoutMs: number): Promise<{ captured: number; received: number; dropped: number } | null> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => { this.waiting = this.waiting.filter((w) => w !== done); resolve(null); }, timeoutMs);
      const done = (s: { captured: number; received: number; dropped: number }) => { clearTimeout(timer); resolve(s); };
      this.waiting.push(done);
      try { child.kill('SIGUSR1'); } catch { clearTimeout(timer); resolve(null); }
    });
  }

  /**
   * Resolve true once tcpdump has written every packet that had passed its filter when this was
   * called (less those the kernel dropped) and `read()` has seen them; false when tcpdump does
   * not say (another version) or `maxMs` runs out.
   */
  async caughtUp(child: ChildProcess, read: () => number, maxMs: number): Promise<boolean> {
    if (!this.listening) return false;
    const until = Date.now() + maxMs;
    const first = await this.ask(child, Math.min(2000, maxMs));
    if (!first) return false;
    let s = first;
    for (;;) {
      if (s.captured + s.dropped >= first.received && read() >= s.captured) return true;
      if (Date.now() >= until) return false;
      await new Promise((r) => setTimeout(r, 50));
      if (s.captured + s.dropped < first.received) {
        const next = await this.ask(child, Math.max(1, until - Date.now()));
        if (!next) return false;
        s = next;
      }
    }
  }
}
