/**
 * Live capture with libpcap through the optional module `cap`: frames go to a FlowAggregator
 * and each minute is stored as flow records of source `capture` as soon as it is over (a
 * one-second clock closes minutes without packets). Stopping (duration, SIGINT, SIGTERM)
 * stores the minute in progress; `kill -9` loses at most that minute.
 *
 * What `cap` gives and does not: a packet event carries the captured length only, with no
 * timestamp and no original length. The time is taken on receipt (Date.now(); cap puts libpcap
 * in immediate mode, so that is within milliseconds of the kernel's), and as cap captures
 * 65535 bytes a frame (its fixed snaplen) the captured length is the frame's length, except for
 * GSO/GRO super-frames longer than that, whose length is read from their IP header.
 */
import { UserError } from '../errors.js';
import type { WriteStore } from '../store/write.js';
import { FlowAggregator } from './aggregate.js';
import { LINKTYPE } from './pcap.js';
import type { ServicePorts } from './types.js';

export interface CaptureOptions {
  iface: string;
  /** Stop after this long (ms); null: until the signal aborts. */
  durationMs: number | null;
  /** A pcap filter expression (pcap-filter(7)), e.g. `not port 22`. */
  filter?: string;
  /** The server's addresses; default: the interface's own addresses, plus what the traffic shows. */
  localIps?: string[];
  servicePorts?: ServicePorts;
  signal?: AbortSignal;
  /** One-line progress for stderr. */
  notice?: (message: string) => void;
  /** The clock (UTC ms); tests may replace it. */
  now?: () => number;
}

export interface CaptureReport {
  iface: string;
  linkType: number;
  filter: string | null;
  from: string;
  to: string;
  stoppedBy: 'duration' | 'signal';
  /** Frames captured, and their lengths on the wire. */
  packets: number;
  bytes: number;
  /** Flow records written (source `capture`), and their byte totals from the server's point of view. */
  records: number;
  bytesIn: number;
  bytesOut: number;
  localIps: string[];
}

/** The part of `cap`'s API used here (it ships no types). */
interface CapModule {
  Cap: {
    new(): CapHandle;
    deviceList(): Array<{ name: string; addresses?: Array<{ addr?: string }> }>;
  };
}
interface CapHandle {
  open(device: string, filter: string, bufSize: number, buffer: Buffer): string;
  close(): void;
  on(event: 'packet', cb: (nbytes: number, truncated: boolean) => void): void;
}

export const CAP_MISSING = 'live capture needs the optional module cap: apt-get install libpcap-dev && npm install cap';

/** Load `cap`, or say in one line how to get it. */
export async function loadCap(): Promise<CapModule> {
  // A name in a variable: cap is optional and ships no types, so the compiler must not look for it.
  const name = 'cap';
  try {
    const m = (await import(name)) as { default?: CapModule } & Partial<CapModule>;
    const mod = (m.default ?? m) as CapModule;
    if (typeof mod?.Cap !== 'function') throw new Error('no Cap export');
    return mod;
  } catch (err) {
    throw new UserError(CAP_MISSING, { code: 'E_NO_CAP', exitCode: 1, cause: err });
  }
}

/** cap's link-type names (binding.cc) → LINKTYPE_ numbers; `Unknown linktype N` carries the DLT number. */
function linkTypeNumber(name: string): number | null {
  switch (name) {
    case 'ETHERNET': return LINKTYPE.ETHERNET;
    case 'NULL': return LINKTYPE.NULL;
    case 'LINKTYPE_LINUX_SLL': return LINKTYPE.LINUX_SLL;
    case 'RAW': return LINKTYPE.RAW_DLT12;
    default: {
      const m = /^Unknown linktype (\d+)$/.exec(name);
      return m ? Number(m[1]) : null;
    }
  }
}

const SNAPLEN = 65535;
/** libpcap's kernel buffer: a few seconds of a busy gigabit link while a minute is stored. */
const PCAP_BUFFER = 32 << 20;

/**
 * The frame's length on the wire. cap captures up to 65535 bytes; a longer frame (a GSO/GRO
 * super-frame) is cut there, and its length is taken from its IP header (Ethernet only).
 */
export function wireLength(linkType: number, buf: Buffer, capLen: number): number {
  if (capLen < SNAPLEN || linkType !== LINKTYPE.ETHERNET || capLen < 14 + 40) return capLen;
  const type = buf.readUInt16BE(12);
  if (type === 0x0800 && buf[14] >> 4 === 4) {
    const total = buf.readUInt16BE(16);
    return total > 0 ? Math.max(capLen, 14 + total) : capLen;
  }
  if (type === 0x86dd && buf[14] >> 4 === 6) {
    const payload = buf.readUInt16BE(18);
    return payload > 0 ? Math.max(capLen, 14 + 40 + payload) : capLen;
  }
  return capLen;
}

/** Handles whose open failed, kept reachable so that the garbage collector never destroys them. */
const failedHandles: CapHandle[] = [];

function oneLine(err: unknown): string {
  return String((err as Error)?.message ?? err).replace(/\s+/g, ' ').trim();
}

/**
 * Open the interface, or throw a one-line UserError: cap missing, no such interface, no
 * permission (root or CAP_NET_RAW), or a filter libpcap cannot compile.
 */
export async function openCapture(o: Pick<CaptureOptions, 'iface' | 'filter'>): Promise<{ handle: CapHandle; buffer: Buffer; linkType: number; linkName: string; addresses: string[] }> {
  const cap = await loadCap();
  let devices: ReturnType<CapModule['Cap']['deviceList']> = [];
  try { devices = cap.Cap.deviceList(); } catch { /* listed below as unknown */ }
  const dev = devices.find((d) => d.name === o.iface);
  if (devices.length && !dev) {
    const names = devices.map((d) => d.name).filter((n) => !/^(bluetooth|dbus|nflog|nfqueue|usbmon)/.test(n));
    throw new UserError(`no interface named ${o.iface} (there are: ${names.join(', ')})`, { code: 'E_NO_IFACE' });
  }
  const handle = new cap.Cap();
  const buffer = Buffer.alloc(SNAPLEN);
  let linkName: string;
  try {
    linkName = handle.open(o.iface, o.filter ?? '', PCAP_BUFFER, buffer);
  } catch (err) {
    // After a failed open the handle must never be touched again: cap's close (also run by its
    // destructor when the garbage collector frees it) stops a poll handle it never started, and
    // the process dies of SIGSEGV at whichever moment a collection happens to run.
    failedHandles.push(handle);
    const msg = oneLine(err);
    if (/permission|not permitted|EPERM|EACCES/i.test(msg)) {
      throw new UserError(`capturing on ${o.iface} needs root or CAP_NET_RAW (run as root, or: setcap cap_net_raw,cap_net_admin=eip $(readlink -f $(which node)))`, { code: 'E_CAPTURE_PERM', exitCode: 77 });
    }
    if (/no such device/i.test(msg)) throw new UserError(`no interface named ${o.iface}`, { code: 'E_NO_IFACE' });
    if (o.filter && /filter|syntax|parse/i.test(msg)) throw new UserError(`bad capture filter ${JSON.stringify(o.filter)}: ${msg}`, { code: 'E_BAD_FILTER' });
    throw new UserError(`cannot capture on ${o.iface}: ${msg}`, { code: 'E_CAPTURE' });
  }
  const linkType = linkTypeNumber(linkName);
  if (linkType === null) {
    handle.close();
    throw new UserError(`cannot capture on ${o.iface}: link type ${linkName} is not read by bytetrail`, { code: 'E_CAPTURE' });
  }
  const addresses = (dev?.addresses ?? []).map((a) => a.addr ?? '').filter((a) => a !== '' && !a.startsWith('fe80:'));
  return { handle, buffer, linkType, linkName, addresses };
}

/**
 * Resolve once no packet has arrived for QUIET_MS (at most `maxMs` after the call): what was
 * in the kernel's buffers when a capture was told to stop was on the wire before the stop.
 */
const QUIET_MS = 150;
export async function drainUntilQuiet(lastPacketAt: () => number, maxMs = 2000): Promise<void> {
  const until = Date.now() + maxMs;
  for (;;) {
    await new Promise((r) => setTimeout(r, QUIET_MS / 3));
    // After the process was descheduled, timers run before the poll phase that reads the frames
    // which arrived meanwhile: let one poll phase run before judging the quiet, or a loaded host
    // would stop with its ring still full.
    await new Promise((r) => setImmediate(r));
    if (Date.now() - lastPacketAt() >= QUIET_MS || Date.now() >= until) return;
  }
}

export type OpenedCapture = Awaited<ReturnType<typeof openCapture>>;

/**
 * Capture until the duration ends or the signal aborts, storing each finished minute. `opened`:
 * the interface as openCapture opened it (to fail before the database is opened), else it is
 * opened here.
 */
export async function runCapture(store: WriteStore, o: CaptureOptions, opened?: OpenedCapture): Promise<CaptureReport> {
  const now = o.now ?? Date.now;
  const { handle, buffer, linkType, linkName, addresses } = opened ?? await openCapture(o);
  let records = 0, bytesIn = 0, bytesOut = 0;
  // (Set in a callback: typed so that the checks below are not narrowed to null.)
  let storeError = null as Error | null;
  const agg = new FlowAggregator({
    iface: o.iface, localIps: o.localIps?.length ? o.localIps : undefined, servicePorts: o.servicePorts, lagMinutes: 0, fold: true,
    onFlush: (batch) => {
      if (storeError) return;
      try {
        store.addFlows('capture', batch);
        records += batch.length;
        for (const r of batch) { bytesIn += r.bytesIn; bytesOut += r.bytesOut; }
      } catch (err) {
        storeError = err as Error;
      }
    },
  });
  // The interface's own addresses are the server's, unless --local says otherwise.
  const ifaceHandle = agg.iface({ section: 0, index: 0, linkType, snaplen: SNAPLEN, name: o.iface, tsUnitsPerSecond: 1e9, addresses: o.localIps?.length ? [] : addresses });
  const started = now();
  o.notice?.(`capturing on ${o.iface} (link type ${linkName}${o.filter ? `, filter ${JSON.stringify(o.filter)}` : ''})${o.durationMs !== null ? ` for ${Math.round(o.durationMs / 1000)} s` : ''}; Ctrl-C stores what was captured and stops`);
  let lastPacketAt = 0;
  handle.on('packet', (nbytes) => {
    const t = now();
    lastPacketAt = Date.now();
    const sec = Math.floor(t / 1000);
    agg.packet(ifaceHandle, linkType, sec, Math.round((t - sec * 1000) * 1e6), buffer, 0, nbytes, wireLength(linkType, buffer, nbytes));
  });

  const stoppedBy = await new Promise<'duration' | 'signal'>((resolve) => {
    const tick = setInterval(() => {
      agg.advance(now());
      if (storeError) finish('signal');
    }, 1000);
    const timer = o.durationMs !== null ? setTimeout(() => finish('duration'), o.durationMs) : null;
    const onAbort = () => finish('signal');
    function finish(why: 'duration' | 'signal') {
      clearInterval(tick);
      if (timer) clearTimeout(timer);
      o.signal?.removeEventListener('abort', onAbort);
      resolve(why);
    }
    if (o.signal?.aborted) finish('signal');
    else o.signal?.addEventListener('abort', onAbort, { once: true });
  });
  // Frames already in the kernel's ring when the stop came were on the wire before it: read
  // them until the ring is quiet, so that a busy host does not lose its last moments.
  await drainUntilQuiet(() => lastPacketAt);
  handle.close();
  agg.finish();
  if (storeError) throw storeError;
  return {
    iface: o.iface, linkType, filter: o.filter ?? null, from: new Date(started).toISOString(), to: new Date(now()).toISOString(), stoppedBy,
    packets: agg.packets, bytes: agg.bytes, records, bytesIn, bytesOut, localIps: agg.localAddresses(),
  };
}
