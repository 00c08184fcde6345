/**
 * Bytes estimated from log evidence, for traffic that no flow source (capture, conntrack)
 * covers: what Postfix relayed and received per SASL account, what a DNS server answered per
 * client, what the firewall dropped per source. Pure: events and aggregates in, estimates out;
 * investigate.ts decides which of them fill a gap (flows always win) and labels them
 * `estimated`, with the method named here.
 *
 * Wire bytes are frames as an interface counts them (Ethernet header included, as vnstat and a
 * capture see them), so that estimates add up against the interface totals.
 */
import { aggregateFact, factOf, GROUP_OF_REALM } from '../sources/index.js';
import type { AggRow, StoredEvent } from '../store/index.js';
import { type Delivery, type Identities, type Submission, webAccountAt } from './identities.js';
import type { ServiceGroup } from './types.js';

export interface Estimate {
  /** The account the bytes belong to; null for traffic that has none (DNS answers, dropped packets). */
  account: string | null;
  group: ServiceGroup;
  /** For traffic without an account: the reason it is known by (`dns`, `firewall-drop`). */
  reason: string | null;
  /** The remote end: the relay, the client, the querier or the dropped source. */
  rip: string;
  /** When the bytes moved (UTC ms). */
  ts: number;
  bytesIn: number;
  bytesOut: number;
  /** How the figure was made, in words, for the evidence. */
  method: string;
}

/** Ethernet (14) + IPv4 (20) + TCP with timestamps (32): the headers of every TCP frame. */
export const TCP_FRAME_HEADERS = 66;
/** Ethernet (14) + IPv4 (20) + UDP (8). */
export const UDP_FRAME_HEADERS = 42;
/** The payload of a full TCP segment on a 1500-byte MTU with timestamps. */
export const MSS = 1448;

/**
 * The wire bytes of one TCP connection that carried `fromClient` and `fromServer` payload bytes:
 * every segment's headers, a delayed ACK for every second segment received, and the handshake and
 * close (SYN 74, SYN-ACK 74, ACK, FIN, FIN, ACK 66 each).
 */
export function tcpWire(fromClient: number, fromServer: number, handshake = true): { fromClient: number; fromServer: number } {
  const segC = Math.ceil(fromClient / MSS), segS = Math.ceil(fromServer / MSS);
  const open = handshake ? 1 : 0;
  return {
    fromClient: fromClient + segC * TCP_FRAME_HEADERS + Math.ceil(segS / 2) * TCP_FRAME_HEADERS + open * (74 + 3 * TCP_FRAME_HEADERS),
    fromServer: fromServer + segS * TCP_FRAME_HEADERS + Math.ceil(segC / 2) * TCP_FRAME_HEADERS + open * (74 + TCP_FRAME_HEADERS),
  };
}

/**
 * SMTP's payload around a message of `size` bytes to `rcpts` recipients: the client's commands
 * (EHLO ~30, MAIL FROM ~45, RCPT TO ~35 each, DATA, the final dot, QUIT: 100 + 35 per recipient,
 * plus AUTH ~50 on submission) and the server's replies (greeting and EHLO capabilities ~330, a
 * ~30-byte reply per command: 400 + 30 per recipient, +40 for AUTH). Postfix's `size=` is the
 * message as queued, which is what DATA carries (dot-stuffing adds a byte per line starting with
 * a dot, negligible). STARTTLS is not included: it adds about 5 KB per connection (the
 * certificate chain), which the logs do not say was used.
 */
export function smtpPayload(size: number, rcpts: number, sasl = false): { fromClient: number; fromServer: number } {
  return { fromClient: size + 100 + 35 * rcpts + (sasl ? 50 : 0), fromServer: 400 + 30 * rcpts + (sasl ? 40 : 0) };
}

/**
 * Outbound relay: one SMTP connection per message and relay attempt (recipients at the same relay
 * in the same minute share it), carrying the message once. Per SASL account, followed from the
 * submission to the deliveries by queue id. Deferred and bounced attempts count too: the remote
 * refused after DATA or before it, and the log does not always say which (an upper bound).
 */
export function relayEstimates(deliveries: Delivery[]): Estimate[] {
  const conns = new Map<string, { d: Delivery; rcpts: number }>();
  for (const d of deliveries) {
    if (!d.account || !d.relayIp || d.size === null) continue;
    const k = `${d.qid}|${d.relayIp}|${Math.floor(d.ts / 60_000)}`;
    const c = conns.get(k);
    if (c) c.rcpts++; else conns.set(k, { d, rcpts: 1 });
  }
  const out: Estimate[] = [];
  for (const { d, rcpts } of conns.values()) {
    // The server is the SMTP client here: it sends the message (out) and reads the replies (in).
    const p = smtpPayload(d.size!, rcpts);
    const w = tcpWire(p.fromClient, p.fromServer);
    out.push({ account: d.account, group: 'smtp', reason: null, rip: d.relayIp!, ts: d.ts, bytesIn: w.fromServer, bytesOut: w.fromClient,
      method: 'Postfix relay: message size × relay connections + SMTP and TCP framing' });
  }
  return out;
}

/** Submission (SASL, ports 587/465): the message comes in once per submission. */
export function submissionEstimates(subs: Iterable<Submission>): Estimate[] {
  const out: Estimate[] = [];
  for (const s of subs) {
    if (s.size === null || !s.rip) continue;
    const p = smtpPayload(s.size, s.nrcpt ?? 1, true);
    const w = tcpWire(p.fromClient, p.fromServer);
    out.push({ account: s.account, group: 'submission', reason: null, rip: s.rip, ts: s.ts, bytesIn: w.fromClient, bytesOut: w.fromServer,
      method: 'Postfix submission: message size + SMTP and TCP framing' });
  }
  return out;
}

/**
 * Inbound mail: a message received from a client that did not authenticate (another
 * MTA), followed by queue id to its `size=`, comes in once with the SMTP dialogue around it.
 */
export function inboundEstimates(events: StoredEvent[]): Estimate[] {
  const clients = new Map<string, StoredEvent>();
  const out: Estimate[] = [];
  for (const e of events) {
    const f = factOf(e);
    if (f?.fact === 'arrival' && e.rip) clients.set(f.qid, e);
    else if (f?.fact === 'message') {
      // Exim says client and size in one arrival line; Postfix says the size later, under the queue id.
      const c = e.rip ? e : clients.get(f.qid);
      if (!c || f.size === null) continue;
      clients.delete(f.qid);
      const p = smtpPayload(f.size, f.nrcpt || 1);
      const w = tcpWire(p.fromClient, p.fromServer);
      out.push({ account: null, group: 'smtp', reason: 'inbound-mail', rip: c.rip!, ts: c.ts, bytesIn: w.fromClient, bytesOut: w.fromServer,
        method: 'inbound mail: message size + SMTP and TCP framing' });
    }
  }
  return out;
}

/**
 * A DNS answer's payload by query type, when the server does not log reply sizes (BIND never
 * does; unbound with `log-replies`). A (a few addresses) ~100 bytes, AAAA ~120; MX, NS, SRV
 * ~150; TXT ~1,000 (SPF and verification records pile up on popular names); DNSKEY ~1,200 and
 * RRSIG ~1,500 (keys and signatures); ANY ~3,000: every RRset of a signed zone with its
 * signatures, the amplification attacks' favourite (US-CERT TA14-017A gives DNS an amplification
 * factor of 28 to 54 on a ~60-byte query, i.e. 1.7 to 3.2 KB). A server that answers ANY
 * minimally (RFC 8482, BIND 9.11+ `minimal-any`) sends far less: the estimate is then high.
 */
export const DNS_ANSWER_PAYLOAD: Record<string, number> = {
  A: 100, AAAA: 120, CNAME: 100, PTR: 100, SOA: 120, MX: 150, NS: 150, SRV: 150, TXT: 1000, DNSKEY: 1200, RRSIG: 1500, DS: 300, ANY: 3000,
};
const DNS_DEFAULT_ANSWER = 150;
/** A query: 12-byte header, a ~17-byte name, type and class, an EDNS OPT record (11). */
const DNS_QUERY_PAYLOAD = 44;

/**
 * Queries in and answers out per client and minute, from the query log's per-minute aggregates;
 * answers sized by unbound's reply log where it has the same client and type that minute, else by
 * DNS_ANSWER_PAYLOAD.
 */
export function dnsEstimates(aggs: AggRow[]): Estimate[] {
  const replies = new Map<string, { count: number; bytes: number }>();
  for (const a of aggs) {
    if (aggregateFact(a.source, a.kind) !== 'dns-reply') continue;
    replies.set(`${a.minute}|${a.rip}|${a.detail}`, { count: a.count, bytes: a.bytes });
  }
  const out: Estimate[] = [];
  for (const a of aggs) {
    if (aggregateFact(a.source, a.kind) !== 'dns-query' || !a.rip) continue;
    const r = replies.get(`${a.minute}|${a.rip}|${a.detail}`);
    const known = r && r.count > 0;
    const answer = known ? r.bytes / r.count : DNS_ANSWER_PAYLOAD[a.detail.toUpperCase()] ?? DNS_DEFAULT_ANSWER;
    out.push({
      account: null, group: 'dns', reason: 'dns', rip: a.rip, ts: a.firstTs,
      bytesIn: a.count * (DNS_QUERY_PAYLOAD + UDP_FRAME_HEADERS), bytesOut: Math.round(a.count * (answer + UDP_FRAME_HEADERS)),
      method: known ? 'DNS query log × unbound reply sizes' : `DNS query log × a typical ${a.detail || 'answer'} answer size (${answer} bytes)`,
    });
  }
  return out;
}

/** The bytes the firewall logged and dropped, per source and minute: netfilter's `LEN=` (IP bytes) plus the Ethernet header. */
export function dropEstimates(aggs: AggRow[]): Estimate[] {
  const out: Estimate[] = [];
  for (const a of aggs) {
    if (aggregateFact(a.source, a.kind) !== 'firewall-drop' || !a.rip) continue;
    out.push({ account: null, group: 'other', reason: 'firewall-drop', rip: a.rip, ts: a.firstTs, bytesIn: a.bytes + 14 * a.count, bytesOut: 0,
      method: 'netfilter LOG LEN= of the dropped packets' });
  }
  return out;
}

/** A webmail response's HTTP/1.1 headers (status, Content-Type, Cache-Control, Set-Cookie...). */
export const HTTP_RESPONSE_HEADERS = 350;
/** A webmail request: request line, Host, Cookie (the session), User-Agent, Accept, Referer. */
export const HTTP_REQUEST_BYTES = 500;
/** TLS 1.3 adds 22 bytes per record (5 header, 1 content type, 16 tag) of at most 16 KiB. */
export const TLS_RECORD = 16_384;
export const TLS_RECORD_OVERHEAD = 22;

/** HTTP payload inside TLS: `n` bytes in records of 16 KiB, each with its overhead. */
function overTls(n: number): number {
  return n + Math.max(1, Math.ceil(n / TLS_RECORD)) * TLS_RECORD_OVERHEAD;
}

/**
 * Webmail downloads: each request the access log shows for a webmail path, from the body bytes
 * it sent ($body_bytes_sent) plus the response headers, TLS records and TCP framing, and the
 * request itself in. Keep-alive connections carry many requests, so no handshake per request
 * (the TLS handshake, ~5 KB per connection, is not included). Attributed to the account logged
 * in to the webmail from the client's address (webAccountAt), else to the HTTP user the line
 * names, else to no account (`web`).
 */
export function webmailEstimates(events: StoredEvent[], ids: Identities): Estimate[] {
  const out: Estimate[] = [];
  for (const e of events) {
    if (!e.rip || e.bytesOut === null || factOf(e)?.fact !== 'web-transfer') continue;
    const account = webAccountAt(ids, e.rip, e.ts)?.account ?? e.account;
    const w = tcpWire(overTls(HTTP_REQUEST_BYTES), overTls(e.bytesOut + HTTP_RESPONSE_HEADERS), false);
    out.push({ account, group: account ? GROUP_OF_REALM.web : 'other', reason: account ? null : 'web', rip: e.rip, ts: e.ts, bytesIn: w.fromClient, bytesOut: w.fromServer,
      method: 'web server access log: body bytes sent + HTTP headers, TLS records and TCP framing' });
  }
  return out;
}
