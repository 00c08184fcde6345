/**
 * What a source declares about itself. A log source is one module in src/sources/logs/ that
 * exports it as `source`; the registry finds it there, and nothing else names it. Correlation
 * reads the source-free identity facts below, never the source's name or its own kinds.
 */
import type { LogEvent, ParseContext } from '../events.js';
import type { SnapshotResult } from '../flows/spread.js';
import type { ServicePorts } from '../flows/types.js';
import type { EnvelopeResult } from '../parsers/syslog.js';
import type { SourceParser } from '../parsers/types.js';

/**
 * Examples of every native timestamp form, by name: the standard forms the envelope
 * (parsers/syslog.ts) reads itself, written here, and each source's own forms (`stampReaders`),
 * added when the source registers. A source lists the forms its files use in `nativeStamps`;
 * test/sources.test.ts checks that every one parses as `native`.
 */
export const NATIVE_STAMPS: Record<string, string> = {
  /** `2026-11-20 09:20:02 msg`, optionally `.123`: ISO 8601 local time (OpenVPN, rspamd, Exim). */
  'ymd-hms': '2026-11-20 09:20:02 msg',
  /** `Fri Nov 20 09:20:02 2026 msg`: asctime (older OpenVPN, dmesg -T). */
  ctime: 'Fri Nov 20 09:20:02 2026 msg',
  /** `@400000004c91b044077a9e94 imap-login: msg`: TAI64N (daemontools/s6 multilog). */
  tai64n: '@400000004c91b044077a9e94 imap-login: msg',
};
export type NativeStamp = string;

/**
 * A reader of a program's own timestamp form, which the envelope asks when a line starts with
 * no standard stamp (a form only one program writes belongs to that program's source).
 */
export interface StampReader {
  /** The form's name, which sources list in `nativeStamps`. Unique across sources. */
  name: string;
  /** One line in this form, for docs and test/sources.test.ts. */
  example: string;
  /**
   * Tried only after the syslog forms failed, for a form whose line could also begin a syslog
   * line (an access log's client field may read as a BSD month). Else tried before them.
   */
  fallback?: boolean;
  /**
   * The envelope of `line` if its stamp at index i (after any `<PRI>`) is in this form: an
   * Envelope, an error for a stamp of this form that is out of range, or null when it is not
   * this form. Pure, and cheap on lines of other forms: it runs on every line the syslog
   * forms leave.
   */
  read(line: string, i: number, ctx: ParseContext): EnvelopeResult | null;
}

/** A flow service, named by its port (flows/services.ts): `imaps`, `openvpn`, `https`. */
export type PortService = string;

/**
 * A service port: `['imaps', 993, ['tcp'], 'imap']`. The fourth element is the service group
 * its flows are attributed under (`imap`, `pop3`, `smtp`, `submission`, `vpn`, `dns`), whose
 * label a source declares in `groups`; without it the flows are `other` (the web ports: a
 * webmail's HTTPS goes to its group by the login on the address, not by the port).
 */
export type ServicePort = readonly [service: PortService, port: number, protos: readonly ('tcp' | 'udp')[], group?: string];

/** A service group a source brings: its name in investigations and how reports name it. */
export interface GroupDecl {
  name: string;
  label: string;
  /**
   * The ports a throttle of this group's suspect limits, when its flows are not found by port
   * (a webmail's HTTPS); else the ports of the services in the group, in registration order.
   */
  ports?: readonly number[];
  /**
   * The realm whose sessions claim this group's traffic by the client's address rather than by a
   * service port (`tunnel`: a VPN's leases and forwarded copies; `web`: a webmail's downloads).
   * Correlation finds these groups by their realm, never by their names. One group per realm.
   */
  realm?: Exclude<Realm, 'mail'>;
}

/**
 * Where a session lives: `mail` (IMAP/POP3/submission logins, short), `tunnel` (VPN
 * connections, which last days and lease virtual addresses) or `web` (webmail logins).
 */
export type Realm = 'mail' | 'tunnel' | 'web';

/**
 * What an event means to correlation, whatever source wrote it. The event's own fields carry
 * the rest: account, rip/rport (the client), lport (the server port), bytesIn/bytesOut (the
 * session's counters, at its end), ts.
 */
export type IdentityFact =
  /**
   * A login or connect. `key` joins the session's end (Dovecot `<mpid><session>`, OpenVPN
   * `ip:port`); `altKey` is a second way (Dovecot pid/account when the logout lost the key).
   * `movedFrom`: the client floated here from that address, whose session ends now.
   */
  | { fact: 'session-start'; realm: Realm; service: string; key: string | null; altKey: string | null; movedFrom?: { ip: string; port: number | null } }
  /** A logout or disconnect, with the session's counters on the event. */
  | { fact: 'session-end'; realm: Realm; key: string | null; altKey: string | null }
  /** Account → virtual address(es) for the session on the event's rip/rport (VPN pools). */
  | { fact: 'lease'; realm: Realm; key: string | null; vips: string[] }
  /** A message accepted from an authenticated account (SASL): the queue id follows it. */
  | { fact: 'submission'; service: string; qid: string | null; size: number | null; nrcpt: number | null }
  /**
   * A message received from the client on the event's rip, authenticated or not: its size
   * follows under the queue id (a `message` fact that carries rip is an arrival and its size).
   */
  | { fact: 'arrival'; qid: string }
  /** A queued message's size and recipient count, when a separate line says them. */
  | { fact: 'message'; qid: string; size: number | null; nrcpt: number | null }
  /** A message's traffic continues under a new queue id (a bounce notice). */
  | { fact: 'requeue'; qid: string; newQid: string }
  /** A delivery attempt to a relay (rip/rport on the event): sent, deferred, bounced. */
  | { fact: 'delivery'; qid: string; status: string; size: number | null }
  /** A failed login; the event's account is the name tried, if any. */
  | { fact: 'auth-failure'; service: string }
  /**
   * Bytes a web server sent to the client on the event's rip for a webmail page or download
   * (bytesOut on the event: the response body, without headers or TLS).
   */
  | { fact: 'web-transfer'; service: string }
  /** A content scan of a queued message (evidence only). */
  | { fact: 'scan'; qid: string }
  /** Aggregated rows: a packet the firewall dropped, a DNS query. */
  | { fact: 'firewall-drop' }
  | { fact: 'dns-query' };

export type FactName = IdentityFact['fact'];

/**
 * The event kinds that make identities (session starts and ends, leases, submissions): the
 * store indexes exactly these (events_identity_ts), so a source names its identity events with
 * them, and a mail login is `login`. test/sources.test.ts checks every golden fixture.
 */
export const IDENTITY_KINDS = ['login', 'logout', 'disconnect', 'connect', 'lease', 'learn', 'sasl-login'] as const;

export interface LogSource {
  /** The name events carry in `source` and the store keeps. Lower case, stable. */
  name: string;
  /** How people call it, for docs. */
  title: string;
  /**
   * Its place in the parser order (lower first): where two sources could claim a line, the
   * first whose `matchesProgram` accepts its program tag, or whose `sniffNative` accepts a
   * tagless line, takes it. Unique.
   */
  rank: number;
  /** Syslog program tags it writes under (documentation; `parser.matchesProgram` decides). */
  tags: readonly string[];
  /** Timestamp forms of its own log files, besides syslog's (its own or another's, by name). */
  nativeStamps: readonly NativeStamp[];
  /** Readers of the timestamp forms only this source's program writes. */
  stampReaders?: readonly StampReader[];
  parser: SourceParser;
  /**
   * High-volume lines kept as per-minute aggregates (per source IP, port and this detail) instead
   * of one event each: returns the detail, or null for a line stored as an event.
   */
  aggregate?(ev: LogEvent): string | null;
  /** The fact of an aggregated row, by its kind (`drop` → firewall-drop). */
  aggregateFact?(kind: string): AggregateFact | null;
  /** Ports of the services it serves, each with its service group. */
  ports?: readonly ServicePort[];
  /** The service groups it names (a group several sources share is declared alike by each). */
  groups?: readonly GroupDecl[];
  /** Its sessions last days (a VPN): investigate looks a week back for its identity events. */
  longSessions?: boolean;
  /** Where a Debian/Ubuntu (or cPanel) server keeps its logs, in the order to read them. */
  standardPaths?: readonly string[];
  /** Folders of ../shared/corpus holding its real-world lines. */
  corpusDirs?: readonly string[];
  /** What an event of this source means to correlation, or null. Pure. */
  fact(ev: LogEvent): IdentityFact | null;
  /** The service an event of this source was for, as whois lists it (`imap`, `vpn`, `smtp`). */
  service(ev: LogEvent): string;
}

/**
 * What a per-minute aggregate row is evidence of: packets a firewall dropped or rejected, packets
 * it logged under a prefix that names no verdict, DNS queries, and DNS replies with their sizes.
 */
export type AggregateFact = 'firewall-drop' | 'firewall-log' | 'dns-query' | 'dns-reply';

/** A counter snapshot file as ingest read it. */
export interface CounterInput {
  text: string;
  /** The file's time: its mtime, or now for stdin and /proc files. */
  fileTime: number;
  /** The file's name without its folder (a one-interface `wg show wg0 dump` is named by it). */
  name: string;
}

/**
 * A counter source: snapshot files whose counters say how many bytes each client or peer moved
 * (an OpenVPN status file, `wg show all dump`), or that name its peers. One module in
 * src/sources/counters/ that exports it as `source`; the counter registry
 * (src/sources/counters.ts) finds it there, and nothing else names it.
 */
export interface CounterSource {
  /** The file kind, and the flow source name of its flow records. Lower case, stable; the module's file name. */
  kind: string;
  title: string;
  /** What ingest says it stored, e.g. `flow records and leases (openvpn-status)`. */
  label: string;
  /** Its place in the order files are sniffed (lower first; the first whose sniff accepts a file takes it). Unique. */
  rank: number;
  /** Does the (decompressed, left-trimmed) start of a file look like one of these? Cheap. */
  sniff(head: string): boolean;
  /** The delta engine's key in counter_state; kinds that share one see each other's state. */
  stateKey: string | null;
  /** Its flow records are a flow source of their own (the VPN's counters, not the wire). */
  flows: boolean;
  /** Pure: the snapshot and the engine's previous state in, records and the next state out. */
  compute(input: CounterInput, prevState: string | null, opts: { tz: string; servicePorts?: ServicePorts }): SnapshotResult;
  /** Where the server keeps such files: investigate reads those that exist, as root, for a counter source of flows. */
  standardPaths: readonly string[];
  /** Ports of the service its flow records are for, with their group, as a log source declares them. */
  ports?: readonly ServicePort[];
}
