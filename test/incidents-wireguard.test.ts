/**
 * A WireGuard peer streaming video: the same traffic as the OpenVPN vpn-heavy incident (same
 * seed, byte for byte, on UDP 51820 instead of 1194), with no VPN log at all: a PiVPN wg0.conf
 * names the peers and `wg show all dump` every 5 minutes gives their leases. bytetrail must name
 * the same account with the same bytes, and explain the same double count (the video seen
 * again after NAT on eth0 and inside the tunnel interface).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { INCIDENTS, type Incident } from '../src/demo/incidents.js';
import { wireguardHeavy } from '../src/demo/wireguard.js';
import { buildPlan } from '../src/throttle/plan.js';
import { parsePorts } from '../src/throttle/validate.js';
import { investigateIncident } from './helpers/incident.js';

const dirs: Array<() => void> = [];
afterAll(() => { for (const d of dirs) d(); });

const investigate = (inc: Incident) => investigateIncident(inc, dirs);

describe('vpn-heavy via WireGuard', () => {
  it('names the peer by its PiVPN name, with the tunnel counted once and the double count reported, as for OpenVPN', async () => {
    const openvpn = await investigate(INCIDENTS.vpnHeavy(13));
    const wg = await investigate(wireguardHeavy(13));
    expect(wg.ingest.unparsed).toEqual({});
    const want = openvpn.inv.suspects[0];
    const top = wg.inv.suspects[0];
    expect(top).toMatchObject({ account: 'alice', service: 'vpn', direction: 'out', finding: 'vpn-heavy', ips: ['203.0.113.77'] });
    const pick = (s: typeof top) => ({
      account: s.account, service: s.service, finding: s.finding, confidence: s.confidence, direction: s.direction,
      bytesIn: s.bytesIn, bytesOut: s.bytesOut, ips: s.ips, doubleCountedBytes: s.doubleCountedBytes,
    });
    expect(pick(top)).toEqual(pick(want));
    expect(top.doubleCountedBytes).toBeGreaterThan(0);
    expect(wg.inv.totals).toEqual(openvpn.inv.totals);
    expect(wg.inv.notes.join(' ')).toMatch(/counted twice/);
    expect(top.evidence.facts.join(' ')).toContain('198.51.100.66');
  }, 180_000);

  it("proposes a throttle that covers the peer's WireGuard port, 51820/udp, which only its counter source declares", async () => {
    const { inv } = await investigate(wireguardHeavy(13));
    expect(inv.throttle).toMatchObject({ target: 'alice', ports: [1194, 51820] });
    expect(inv.throttle!.command).toContain('--ports 1194,51820');
    // The plan the proposed command makes: its rules match the port on UDP as well as TCP.
    const plan = buildPlan({
      target: { kind: 'account', name: 'alice' }, addresses: inv.throttle!.ips.map((ip) => ({ ip })), iface: 'eth0', direction: 'out', backend: 'iptables',
      ports: parsePorts(/--ports (\S+)/.exec(inv.throttle!.command)![1]), rate: 1e6, defaultRate: 1e9,
    });
    expect(plan.commands.apply).toMatch(/-p udp -m multiport --sports 1194,51820 /);
  }, 180_000);
});
