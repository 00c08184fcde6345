/**
 * The one event shape every log parser produces and the store keeps.
 * Byte counters are always from the server's point of view:
 * bytesIn = received by the server, bytesOut = sent by the server.
 */
/** A log source's name, as registered in src/sources/ (`dovecot`, `postfix`, `exim`, ...). */
export type Source = string;

const sourceNames: Source[] = [];

/**
 * The registered log sources, in registration order. Filled by src/sources/index.ts, which
 * every parsing path imports; this module cannot import it (the parsers import this module).
 */
export const SOURCES: readonly Source[] = sourceNames;

export function registerSourceName(name: Source): void {
  if (!sourceNames.includes(name)) sourceNames.push(name);
}

export type AttrValue = string | number | boolean | null;

export interface LogEvent {
  /** UTC, milliseconds since the epoch. */
  ts: number;
  source: Source;
  host: string | null;
  program: string | null;
  /** What happened, in the source's own vocabulary, e.g. `login`, `logout`, `auth-fail`, `query`, `drop`. */
  kind: string;
  account: string | null;
  /** Remote (client or peer) address, normalised (see parsers/common.ts normalizeIp). */
  rip: string | null;
  rport: number | null;
  /** Local (server) address. */
  lip: string | null;
  lport: number | null;
  /** Session key: Dovecot `<pid><session>`, Postfix queue id, OpenVPN `cn/ip:port`, ... */
  session: string | null;
  bytesIn: number | null;
  bytesOut: number | null;
  /** Source-specific fields (service, qtype, proto, flags, nrcpt, ...). Small scalars only. */
  attrs: Record<string, AttrValue> | null;
}

/** What a parser returns for one line. `null` is never returned: a miss keeps its reason. */
export type ParseResult =
  | { type: 'event'; event: LogEvent }
  | { type: 'skip'; reason: string }
  | { type: 'unparsed'; reason: string };

export const skip = (reason: string): ParseResult => ({ type: 'skip', reason });
export const unparsed = (reason: string): ParseResult => ({ type: 'unparsed', reason });
export const ok = (event: LogEvent): ParseResult => ({ type: 'event', event });

/**
 * Everything a parser may know about the world. Parsers never read the clock or the zone:
 * the caller passes them here.
 */
export interface ParseContext {
  /** IANA zone in which year-less and offset-less timestamps are read, e.g. `Europe/Berlin` or `UTC`. */
  tz: string;
  /**
   * Reference instant (UTC ms), normally the file's mtime. A year-less syslog date takes this
   * instant's year, and moves back one year if that would put it more than a day after the
   * reference (the Dec→Jan rollover inside one file).
   */
  refTime: number;
  /** Boot time (UTC ms) for kernel `[uptime]` stamps without a wall-clock header, if known. */
  bootTime?: number | null;
}

/** Blank event with every join key empty; parsers fill what they know. */
export function baseEvent(source: Source, ts: number, host: string | null, program: string | null, kind: string): LogEvent {
  return {
    ts, source, host, program, kind,
    account: null, rip: null, rport: null, lip: null, lport: null,
    session: null, bytesIn: null, bytesOut: null, attrs: null,
  };
}
