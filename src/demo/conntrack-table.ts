/**
 * The kernel's connection-tracking table as a scenario fills it, listed the way a cron job
 * running `conntrack -L -o extended` every few minutes saves it (accounting on,
 * net.netfilter.nf_conntrack_acct=1). Counters are cumulative per connection and count the IP
 * bytes of each packet once, whatever interfaces it crosses: a VPN client's forwarded packet is
 * one packet to conntrack, though a capture sees it on tun0 and again on eth0 after NAT.
 *
 *   ipv4     2 udp      17 119 src=203.0.113.77 dst=192.0.2.10 sport=51820 dport=1194
 *   packets=4500 bytes=666000 src=192.0.2.10 dst=203.0.113.77 sport=1194 dport=51820
 *   packets=90000 bytes=128520000 [ASSURED] mark=0 delta-time=6480 use=1
 *
 * (one line). `delta-time=` (seconds since the entry was created) is only printed when the
 * kernel keeps timestamps (net.netfilter.nf_conntrack_timestamp=1).
 */

/** Established TCP, TIME_WAIT, UDP seen both ways, UDP unreplied: the kernel's default timeouts in seconds. */
const TIMEOUT = { established: 432_000, timeWait: 120, udpStream: 120, udpUnreplied: 30 };

export interface ConntrackCounters { origPackets: number; origBytes: number; replyPackets: number; replyBytes: number }

/** One tracked connection: its original tuple, where replies go, and every packet it counted. */
export class TrackedConnection {
  private readonly pkts: Array<{ t: number; reply: boolean; len: number }> = [];
  private sorted = true;
  /** Prefix sums over the packets in time order, built on the first listing. */
  private sums: ConntrackCounters[] | null = null;
  /** When the TCP connection was closed (FIN), if it was. */
  finAt: number | null = null;

  /** `replyDst` differs from `src` when the kernel masqueraded the originator (SNAT). */
  constructor(readonly proto: 6 | 17, readonly src: string, readonly sport: number, readonly dst: string, readonly dport: number, readonly replyDst: string) {}

  /** One packet of `ipLen` IP bytes at `t`: from the originator, or `reply`. */
  count(t: number, reply: boolean, ipLen: number): void {
    const last = this.pkts[this.pkts.length - 1];
    if (last && t < last.t) this.sorted = false;
    this.pkts.push({ t, reply, len: ipLen });
    this.sums = null;
  }

  /** How many packets were counted by `t` (inclusive). */
  private seenBy(t: number): number {
    let lo = 0, hi = this.pkts.length;
    while (lo < hi) { const mid = (lo + hi) >> 1; if (this.pkts[mid].t <= t) lo = mid + 1; else hi = mid; }
    return lo;
  }

  private prefix(): ConntrackCounters[] {
    if (this.sums) return this.sums;
    if (!this.sorted) { this.pkts.sort((a, b) => a.t - b.t); this.sorted = true; }
    const sums: ConntrackCounters[] = [{ origPackets: 0, origBytes: 0, replyPackets: 0, replyBytes: 0 }];
    for (const p of this.pkts) {
      const c = { ...sums[sums.length - 1] };
      if (p.reply) { c.replyPackets++; c.replyBytes += p.len; } else { c.origPackets++; c.origBytes += p.len; }
      sums.push(c);
    }
    return (this.sums = sums);
  }

  /** The counters as a listing taken at `t` shows them. */
  countersAt(t: number): ConntrackCounters {
    return this.prefix()[this.seenBy(t)];
  }

  /** The entry as `conntrack -L -o extended` prints it at `t`, or null when it is not in the table then. */
  line(t: number, timestamps: boolean): string | null {
    const sums = this.prefix();
    const n = this.seenBy(t);
    if (n === 0) return null;
    const c = sums[n];
    const idle = Math.floor((t - this.pkts[n - 1].t) / 1000);
    const replied = c.replyPackets > 0;
    let state = '', timeout: number;
    if (this.proto === 6) {
      const closed = this.finAt !== null && this.finAt <= t;
      state = closed ? 'TIME_WAIT ' : 'ESTABLISHED ';
      timeout = (closed ? TIMEOUT.timeWait : TIMEOUT.established) - idle;
    } else {
      timeout = (replied ? TIMEOUT.udpStream : TIMEOUT.udpUnreplied) - idle;
    }
    if (timeout <= 0) return null;
    const name = this.proto === 6 ? 'tcp' : 'udp';
    const orig = `src=${this.src} dst=${this.dst} sport=${this.sport} dport=${this.dport} packets=${c.origPackets} bytes=${c.origBytes}`;
    const reply = `src=${this.dst} dst=${this.replyDst} sport=${this.dport} dport=${this.sport} packets=${c.replyPackets} bytes=${c.replyBytes}`;
    const delta = timestamps ? ` delta-time=${Math.floor((t - this.pkts[0].t) / 1000)}` : '';
    return `${'ipv4'.padEnd(8)} 2 ${name.padEnd(8)} ${this.proto} ${timeout} ${state}${orig} ${replied ? '' : '[UNREPLIED] '}${reply} ${replied ? '[ASSURED] ' : ''}mark=0${delta} use=1`;
  }
}

export class ConntrackTable {
  private readonly conns = new Map<string, TrackedConnection>();

  /**
   * The entry for packets between two ends. The first call for a pair of ends opens it, with
   * `src` as the originator; later calls for the same ends, either way round, add to it.
   * `snat`: the address the kernel masquerades the originator to (where replies are addressed).
   */
  open(proto: 6 | 17, src: string, sport: number, dst: string, dport: number, snat?: string): TrackedConnection {
    const a = `${src}|${sport}`, b = `${dst}|${dport}`;
    const key = `${proto}|${a < b ? `${a}|${b}` : `${b}|${a}`}`;
    let c = this.conns.get(key);
    if (!c) { c = new TrackedConnection(proto, src, sport, dst, dport, snat ?? src); this.conns.set(key, c); }
    return c;
  }

  /** The table as listed at `t`, with conntrack's trailer (cron saves stderr too: `2>&1`). */
  listing(t: number, o: { timestamps: boolean }): string {
    const lines: string[] = [];
    for (const c of this.conns.values()) {
      const l = c.line(t, o.timestamps);
      if (l !== null) lines.push(l);
    }
    const n = lines.length;
    lines.push(`conntrack v1.4.7 (conntrack-tools): ${n} flow ${n === 1 ? 'entry has' : 'entries have'} been shown.`);
    return lines.join('\n') + '\n';
  }
}
