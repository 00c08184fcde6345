/**
 * A small network for proving throttle scripts: a "server" namespace and two "client" namespaces,
 * joined by a bridge in a fourth "lan" namespace, with documentation-range addresses only.
 *
 *   c1 (192.0.2.11, 2001:db8::11) ──┐
 *                                   ├── lan: br0 ── srv eth0 (192.0.2.1, 2001:db8::1)
 *   c2 (192.0.2.12, 2001:db8::12) ──┘
 *
 * Each client's path is capped at `capBits` in both directions with a plain HTB outside the server
 * namespace, so veth traffic does not eat both CI cores; the server's shaping under test lives only in the srv namespace.
 */
import { execFile, execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';
import { hasCommand as hasTool } from './tools.js';

const execFileP = promisify(execFile);

export const SERVER = { ip4: '192.0.2.1', ip6: '2001:db8::1' };
export const CLIENTS = {
  c1: { ip4: '192.0.2.11', ip6: '2001:db8::11', port: 5201 },
  c2: { ip4: '192.0.2.12', ip6: '2001:db8::12', port: 5202 },
} as const;
export type ClientName = keyof typeof CLIENTS;

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

export { hasCommand as hasTool } from './tools.js';

function run(args: string[], input?: string): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(args[0], args.slice(1), { input, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout ?? '', stderr: r.stderr ?? (r.error ? String(r.error) : '') };
}

function must(args: string[], input?: string): string {
  const r = run(args, input);
  if (r.status !== 0) throw new Error(`${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout;
}

/**
 * Whether the kernel supports a throttle backend, tried in a scratch namespace that is removed
 * right after. Returns null when supported, else the reason.
 */
export function backendSupport(backend: 'nft' | 'iptables' | 'u32' | 'fw' | 'ifb'): string | null {
  const tools: Record<string, string[]> = { nft: ['tc', 'nft'], iptables: ['tc', 'iptables', 'iptables-restore'], u32: ['tc'], fw: ['tc', 'iptables', 'iptables-restore'], ifb: ['tc', 'ip'] };
  for (const t of tools[backend]) if (!hasTool(t)) return `${t} is not installed`;
  const base = 'ip link set lo up && tc qdisc add dev lo root handle 1: htb default 1 && tc class add dev lo parent 1: classid 1:2 htb rate 1mbit';
  const probe: Record<string, [string, string]> = {
    nft: [`${base} && nft "add table inet p; add chain inet p c { type filter hook postrouting priority mangle; }; add rule inet p c meta priority set 1:2"`, 'the kernel cannot do nft "meta priority set"'],
    iptables: [`${base} && iptables -w -t mangle -A POSTROUTING -m comment --comment p -j CLASSIFY --set-class 1:2`, 'the kernel has no iptables CLASSIFY target'],
    u32: [`${base} && tc filter add dev lo parent 1: protocol ip pref 1 u32 match ip dst 192.0.2.1/32 classid 1:2`, 'the kernel has no u32 classifier (cls_u32)'],
    fw: [`${base} && tc filter add dev lo parent 1: protocol all pref 1 handle 1 fw classid 1:2`, 'the kernel has no fw classifier (cls_fw)'],
    ifb: ['ip link add btprobe type ifb && tc qdisc add dev lo handle ffff: ingress && tc filter add dev lo ingress pref 1 protocol all u32 match u32 0 0 action mirred egress redirect dev btprobe', 'the kernel has no IFB device or mirred action'],
  };
  const ns = `btprobe-${randomBytes(3).toString('hex')}`;
  if (run(['ip', 'netns', 'add', ns]).status !== 0) return 'cannot create a network namespace';
  try {
    const r = run(['ip', 'netns', 'exec', ns, 'sh', '-c', probe[backend][0]]);
    const said = r.stderr.split('\n').find((l) => /error/i.test(l))?.trim();
    return r.status === 0 ? null : `${probe[backend][1]}${said ? ` (tc/nft said: ${said})` : ''}`;
  } finally {
    run(['ip', 'netns', 'del', ns]);
  }
}

export interface Rate { bits: number; json: unknown }

export class ThrottleLab {
  readonly tag = randomBytes(3).toString('hex');
  readonly ns = { srv: `bt${this.tag}-srv`, lan: `bt${this.tag}-lan`, c1: `bt${this.tag}-c1`, c2: `bt${this.tag}-c2` };
  /** The server's interface towards the clients. */
  readonly iface = 'eth0';
  private servers: ChildProcess[] = [];
  private created: string[] = [];

  constructor(readonly capBits = 40_000_000) {}

  setup(): void {
    for (const ns of Object.values(this.ns)) {
      must(['ip', 'netns', 'add', ns]);
      this.created.push(ns);
      must(['ip', '-n', ns, 'link', 'set', 'lo', 'up']);
    }
    const lan = this.ns.lan;
    must(['ip', '-n', lan, 'link', 'add', 'br0', 'type', 'bridge']);
    must(['ip', '-n', lan, 'link', 'set', 'br0', 'up']);
    const ends: Array<[string, string, string[]]> = [
      [this.ns.srv, 'p-srv', [`${SERVER.ip4}/24`, `${SERVER.ip6}/64`]],
      [this.ns.c1, 'p-c1', [`${CLIENTS.c1.ip4}/24`, `${CLIENTS.c1.ip6}/64`]],
      [this.ns.c2, 'p-c2', [`${CLIENTS.c2.ip4}/24`, `${CLIENTS.c2.ip6}/64`]],
    ];
    for (const [ns, port, addrs] of ends) {
      must(['ip', '-n', lan, 'link', 'add', port, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns]);
      must(['ip', '-n', lan, 'link', 'set', port, 'master', 'br0', 'up']);
      for (const a of addrs) must(['ip', '-n', ns, 'addr', 'add', a, 'dev', 'eth0', ...(a.includes(':') ? ['nodad'] : [])]);
      must(['ip', '-n', ns, 'link', 'set', 'eth0', 'up']);
      if (ns === this.ns.srv) continue;
      // The cap: a plain HTB on the bridge port towards the client (its downloads) and on the
      // client's own eth0 (its uploads), so each client has its own path, out of the server's sight.
      for (const [capNs, dev] of [[lan, port], [ns, 'eth0']]) {
        must(['ip', 'netns', 'exec', capNs, 'tc', 'qdisc', 'add', 'dev', dev, 'root', 'handle', '1:', 'htb', 'default', '1']);
        must(['ip', 'netns', 'exec', capNs, 'tc', 'class', 'add', 'dev', dev, 'parent', '1:', 'classid', '1:1', 'htb', 'rate', `${this.capBits}bit`, 'burst', '60000', 'cburst', '60000']);
      }
    }
  }

  startServers(): void {
    for (const c of ['c1', 'c2'] as const) {
      const p = spawn('ip', ['netns', 'exec', this.ns.srv, 'iperf3', '-s', '-p', String(CLIENTS[c].port)], { stdio: 'ignore' });
      this.servers.push(p);
    }
    // iperf3 listens within milliseconds when idle; a loaded host may take seconds to start it.
    const until = Date.now() + 90_000;
    while (Date.now() < until) {
      const r = run(['ip', 'netns', 'exec', this.ns.srv, 'sh', '-c', `ss -ltn | grep -q ':${CLIENTS.c1.port} ' && ss -ltn | grep -q ':${CLIENTS.c2.port} '`]);
      if (r.status === 0) return;
      execFileSync('sleep', ['0.1']);
    }
    throw new Error('iperf3 servers did not start within 90 s');
  }

  /** Run a script with sh inside the server namespace. */
  runScript(script: string): { status: number; stdout: string; stderr: string } {
    return run(['ip', 'netns', 'exec', this.ns.srv, 'sh', '-s'], script);
  }

  srv(args: string[]): string {
    return must(['ip', 'netns', 'exec', this.ns.srv, ...args]);
  }

  /**
   * One iperf3 test from a client: `down` has the server send (-R), as when a mail client
   * re-downloads a mailbox; `up` has the client send.
   */
  async iperf(client: ClientName, dir: 'down' | 'up', seconds = 4, family: 4 | 6 = 4): Promise<number> {
    const target = family === 4 ? SERVER.ip4 : SERVER.ip6;
    const args = ['netns', 'exec', this.ns[client], 'iperf3', '-c', target, '-p', String(CLIENTS[client].port), '-t', String(seconds), '-O', '1', '-J', ...(dir === 'down' ? ['-R'] : [])];
    // An iperf3 server runs one test at a time and needs a moment after each to take the next;
    // on a loaded host that moment grows, and a client that comes too soon is told the server
    // is busy. Wait for it, as long as a loaded host may need.
    const until = Date.now() + 90_000;
    for (;;) {
      let stdout: string;
      try {
        ({ stdout } = await execFileP('ip', args, { timeout: (seconds + 90) * 1000, maxBuffer: 16 << 20 }));
      } catch (err) {
        // iperf3 -J exits non-zero on an error, with the error in its JSON.
        stdout = (err as { stdout?: string }).stdout ?? '';
        if (!stdout.trim()) throw err;
      }
      const j = JSON.parse(stdout) as { end?: { sum_received?: { bits_per_second?: number } }; error?: string };
      if (j.error && /server is busy/.test(j.error) && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 250));
        continue;
      }
      if (j.error) throw new Error(`iperf3 ${client}: ${j.error}`);
      return j.end?.sum_received?.bits_per_second ?? NaN;
    }
  }

  /** Both clients at the same time, as on a real server: the throttled one must not slow the other. */
  async both(dir: 'down' | 'up', seconds = 4, family: 4 | 6 = 4): Promise<{ c1: number; c2: number }> {
    const [c1, c2] = await Promise.all([this.iperf('c1', dir, seconds, family), this.iperf('c2', dir, seconds, family)]);
    return { c1, c2 };
  }

  /**
   * The server's shaping and firewall state, without counters: tc qdiscs, classes and filters on
   * eth0 and on any bytetrail IFB, the eth0 ingress filters, and the whole nft ruleset (which holds
   * iptables-nft's tables too).
   */
  state(): string {
    const devs = [this.iface, ...this.srv(['ip', '-o', 'link', 'show']).split('\n').map((l) => /^\d+: (btin-[^:@]+)/.exec(l)?.[1]).filter((d): d is string => Boolean(d))];
    const parts: string[] = [];
    for (const dev of devs) {
      parts.push(`== ${dev}`, this.srv(['tc', 'qdisc', 'show', 'dev', dev]), this.srv(['tc', 'class', 'show', 'dev', dev]), this.srv(['tc', 'filter', 'show', 'dev', dev]));
    }
    parts.push(`== ${this.iface} ingress`, this.srv(['tc', 'filter', 'show', 'dev', this.iface, 'ingress']));
    parts.push('== nft', hasTool('nft') ? this.srv(['nft', 'list', 'ruleset']) : '(no nft)');
    return parts.join('\n')
      .replace(/direct_packets_stat \d+/g, 'direct_packets_stat N')
      .replace(/counter packets \d+ bytes \d+/g, 'counter');
  }

  cleanup(): void {
    for (const p of this.servers) {
      if (p.pid !== undefined && p.exitCode === null) {
        try { process.kill(p.pid, 'SIGTERM'); } catch { /* already gone */ }
      }
    }
    this.servers = [];
    for (const ns of this.created.reverse()) run(['ip', 'netns', 'del', ns]);
    this.created = [];
  }
}
