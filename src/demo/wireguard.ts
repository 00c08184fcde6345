/**
 * The vpn-heavy incident on a WireGuard server: the same traffic, from the same seed, as the
 * OpenVPN one in incidents.ts, on UDP 51820, with no VPN log at all (WireGuard writes none):
 * the peers' names come from a PiVPN wg0.conf, their leases and counters from `wg show all
 * dump` taken every 5 minutes, as cron or `watch` would.
 */
import { utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Incident, vpnHeavy } from './incidents.js';
import { ScenarioWriter, SERVER } from './scenario.js';

const OPENVPN_PORT = 1194;
export const WIREGUARD_PORT = 51820;
const DUMP_EVERY = 5 * 60_000;

interface Peer { name: string; key: string; rip: string; rport: number; vip: string; from: number; to: number | null }
/** A stream of datagrams between the server and a peer: its bytes grow evenly over [t0, t1]. */
interface Stream { rip: string; t0: number; t1: number; tx: number; rx: number }

/** A fixed, made-up public key per peer name (43 base64 characters and `=`). */
function keyOf(name: string): string {
  const b = Buffer.alloc(32);
  for (let i = 0; i < 32; i++) b[i] = (name.charCodeAt(i % name.length) * (i + 7)) & 0xff;
  return b.toString('base64');
}

export class WireguardScenarioWriter extends ScenarioWriter {
  readonly peers: Peer[] = [];
  readonly streams: Stream[] = [];

  /** The peer's first handshake: no log line, only its place in the dumps from now on. */
  override vpnConnect(t: number, cn: string, rip: string, rport: number, vip: string): void {
    this.peers.push({ name: cn, key: keyOf(cn), rip, rport, vip, from: t, to: null });
  }

  override vpnDisconnect(t: number, cn: string): void {
    const p = this.peers.find((x) => x.name === cn && x.to === null);
    if (p) p.to = t;
  }

  /** The tunnel on WireGuard's port; its datagram payloads are what the peer's counters count. */
  override udp(o: Parameters<ScenarioWriter['udp']>[0]): ReturnType<ScenarioWriter['udp']> {
    if (o.aport !== OPENVPN_PORT) return super.udp(o);
    this.streams.push({ rip: o.b, t0: o.t0, t1: o.t1, tx: o.count * o.fromA, rx: o.count * o.fromB });
    return super.udp({ ...o, aport: WIREGUARD_PORT });
  }

  /** `wg show all dump` at `t`: the counters are the payload sent and received so far. */
  dumpAt(t: number): string {
    const lines = [`wg0\tyAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\t${keyOf('server')}\t${WIREGUARD_PORT}\toff`];
    for (const p of this.peers) {
      let rx = 0, tx = 0;
      for (const s of this.streams) {
        if (s.rip !== p.rip) continue;
        const f = Math.max(0, Math.min(1, (t - s.t0) / Math.max(1, s.t1 - s.t0)));
        rx += Math.round(s.rx * f); tx += Math.round(s.tx * f);
      }
      const seen = t >= p.from;
      lines.push(`wg0\t${p.key}\t(none)\t${seen ? `${p.rip}:${p.rport}` : '(none)'}\t${p.vip}/32\t${seen ? Math.floor((Math.min(t, p.to ?? t) - 30_000) / 1000) : 0}\t${rx}\t${tx}\t25`);
    }
    return lines.join('\n') + '\n';
  }

  override write(dir: string, o: Parameters<ScenarioWriter['write']>[1] = {}): ReturnType<ScenarioWriter['write']> {
    const r = super.write(dir, o);
    if (!this.peers.length) return r;
    // PiVPN's configuration names the peers; the server's private key is made up.
    const conf = join(dir, 'wg0.conf');
    writeFileSync(conf, `[Interface]\nPrivateKey = yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=\nAddress = ${SERVER}/24\nListenPort = ${WIREGUARD_PORT}\n` +
      this.peers.map((p) => `### begin ${p.name} ###\n[Peer]\nPublicKey = ${p.key}\nAllowedIPs = ${p.vip}/32\n### end ${p.name} ###\n`).join(''));
    const first = Math.min(...this.peers.map((p) => p.from));
    const last = Math.max(...this.streams.map((s) => s.t1), ...this.peers.map((p) => p.to ?? p.from));
    const dumps: string[] = [];
    // The first dump just before the first handshake is the baseline: everything after it counts.
    for (let t = first - 30_000; t <= last + DUMP_EVERY; t += DUMP_EVERY) {
      const p = join(dir, `wg-${new Date(t).toISOString().slice(0, 16).replace(/[-:T]/g, '')}.dump`);
      writeFileSync(p, this.dumpAt(t));
      utimesSync(p, new Date(t), new Date(t));
      dumps.push(p);
    }
    return { ...r, files: [conf, ...dumps, ...r.files] };
  }
}

/** vpnHeavy with WireGuard in place of OpenVPN. */
export function wireguardHeavy(seed = 13): Incident {
  const w = new WireguardScenarioWriter(seed);
  const inc = vpnHeavy(seed, w);
  return { ...inc, name: 'vpn-heavy-wireguard' };
}
