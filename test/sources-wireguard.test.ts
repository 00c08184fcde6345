/**
 * WireGuard: `wg show [all] dump` and peer names, checked against the shared corpus (the
 * values prometheus_wireguard_exporter's own tests assert) and lines we wrote; per-peer deltas.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isWgConfig, isWgDump, parseWgDump, peerLeases, WgDeltas, wireguardPeerNames } from '../src/sources/wireguard.js';
import { CORPUS } from './helpers/golden.js';

const WG = join(CORPUS, 'wireguard');
const read = (f: string) => readFileSync(join(WG, f), 'utf8');

describe.skipIf(!existsSync(WG))('WireGuard corpus', () => {
  it('reads the exporter\'s dumps as its tests assert, counters above 2^32 exactly', () => {
    const a = parseWgDump(read('prometheus_wireguard_exporter-wg-show-all-dump-issue-19.txt'));
    expect(a.unparsed).toEqual([]);
    expect(a.ports.get('wg0')).toBe(51820);
    // The exporter's test counts 18 entries for wg0: the interface and its 17 peers.
    expect(a.peers).toHaveLength(17);
    expect(a.peers[0]).toMatchObject({ iface: 'wg0', endpointIp: '10.211.123.112', allowedIps: ['10.90.0.10/32', '10.0.1.0/24'] });
    expect(a.peers[16]).toMatchObject({ endpointIp: '10.211.123.128', allowedIps: ['10.90.0.18/32'], handshake: 1574770693000, tx: 1624251784, rx: 75066288152 });
    const b = parseWgDump(read('prometheus_wireguard_exporter-wg-show-all-dump.txt'));
    expect(b.unparsed).toEqual([]);
    expect(new Set(b.peers.map((p) => p.iface))).toEqual(new Set(['wg0', 'wg2', 'pollo']));
    expect(b.peers.filter((p) => p.iface === 'wg0')).toHaveLength(5); // 6 entries with the interface, as the exporter counts
    expect(b.peers[0]).toMatchObject({ endpointIp: '37.159.76.245', endpointPort: 29159, allowedIps: ['10.70.0.2/32', '10.70.0.66/32'] });
    expect(b.peers[1]).toMatchObject({ endpointIp: null, handshake: null, rx: 0, tx: 0 });
    for (const f of ['prometheus_wireguard_exporter-wg-show-all-dump.txt', 'prometheus_wireguard_exporter-wg-show-all-dump-issue-19.txt']) expect(isWgDump(read(f))).toBe(true);
  });

  it('names peers from friendly_name and friendly_json comments, and keeps the first key of a section', () => {
    const n = wireguardPeerNames(read('prometheus_wireguard_exporter-peers-friendly_name.conf'));
    expect(n.get('2S7mA0vEMethCNQrJpJKE81/JmhgtB+tHHLYQhgM6kk=')).toBe('OnePlus 6T');
    expect(n.get('qnoxQoQI8KKMupLnSSureORV0wMmH7JryZNsmGVISzU=')).toBe('varch.local (laptop)');
    // Two PublicKey lines in one section: the first is the peer's.
    expect(n.get('L2UoJZN7RmEKsMmqaJgKG0m1S2Zs2wd2ptAf+kb3008=')).toBe('cantarch');
    expect(n.get('928vO9Lf4+Mo84cWu4k1oRyzf0AR7FTGoPKHGoTMSHk=')).toBe('OnePlus 5T');
    const j = wireguardPeerNames(read('prometheus_wireguard_exporter-peers-friendly_json.conf'));
    expect(j.get('L2UoJZN7RmEKsMmqaJgKG0m1S2Zs2wd2ptAf+kb3008=')).toBe('DrProxyMeCoordinator');
    expect(j.get('MdVOIPKt9K2MPj/sO2NlWQbOnFJ6L/qX80mmhQwsUlA=')).toBe('frcognoarch');
    const m = wireguardPeerNames(read('prometheus_wireguard_exporter-peers-missing-publickey.conf'));
    // A section without a PublicKey names nobody.
    expect([...m.values()]).toEqual(['OnePlus 6T', 'cantarch']);
    for (const f of ['peers-friendly_name', 'peers-friendly_json', 'peers-missing-publickey', 'peers-allowedips-order']) {
      expect(isWgConfig(read(`prometheus_wireguard_exporter-${f}.conf`)), f).toBe(true);
    }
  });
});

const K1 = 'uC4wqL1bD9mZk7yQ0pVvW2xN3sR8tJ5hF6gA1eI9oU0=';
const K2 = 'hT9sP2kL7mQ4wE1rY6uI3oA8sD5fG0jH2kL9zX4cV1b=';
const K3 = 'a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1E=';

describe('WireGuard peer names (the managers\' own layouts)', () => {
  it('PiVPN: ### begin NAME ###, disabled peers included', () => {
    const conf = `[Interface]\nPrivateKey = ${K3}\nAddress = 10.6.0.1/24\nListenPort = 51820\n### begin alice ###\n[Peer]\nPublicKey = ${K1}\nPresharedKey = ${K3}\nAllowedIPs = 10.6.0.2/32\n### end alice ###\n### begin bob-phone ###\n#[disabled] [Peer]\n#[disabled] PublicKey = ${K2}\n#[disabled] AllowedIPs = 10.6.0.3/32\n### end bob-phone ###\n`;
    expect(isWgConfig(conf)).toBe(true);
    expect(Object.fromEntries(wireguardPeerNames(conf))).toEqual({ [K1]: 'alice', [K2]: 'bob-phone' });
  });

  it('wg-easy: # Client: NAME (uuid) in wg0.conf, and clients in wg0.json', () => {
    const conf = `[Interface]\nPrivateKey = ${K3}\n\n# Client: Laptop Jan (0b5e5d3a-8f7c-4a6e-9d1b-3c2f1e0a9b8c)\n[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.8.0.2/32\n`;
    expect(Object.fromEntries(wireguardPeerNames(conf))).toEqual({ [K1]: 'Laptop Jan' });
    const json = JSON.stringify({ server: { privateKey: K3, publicKey: K2, address: '10.8.0.1' }, clients: { '0b5e5d3a-8f7c-4a6e-9d1b-3c2f1e0a9b8c': { name: 'Laptop Jan', address: '10.8.0.2', publicKey: K1, enabled: true } } });
    expect(isWgConfig(json)).toBe(true);
    expect(Object.fromEntries(wireguardPeerNames(json))).toEqual({ [K1]: 'Laptop Jan' });
  });

  it('wg-quick: a comment above [Peer] or at the top of its section', () => {
    const conf = `[Interface]\nPrivateKey = ${K3}\n\n# carol's tablet\n[Peer]\nPublicKey = ${K1}\nAllowedIPs = 10.9.0.2/32\n\n[Peer]\n# dave\nPublicKey = ${K2}\nAllowedIPs = 10.9.0.3/32\n`;
    expect(Object.fromEntries(wireguardPeerNames(conf))).toEqual({ [K1]: "carol's tablet", [K2]: 'dave' });
  });
});

describe('WireGuard dumps and deltas', () => {
  const dump = (rx: number, tx: number) => `wg0\t${K3}\t${K2}\t51820\toff\nwg0\t${K1}\t(none)\t203.0.113.77:40123\t10.6.0.2/32,192.168.50.0/24\t1795164000\t${rx}\t${tx}\toff\n`;

  it('reads a one-interface dump (no interface column) under the name given', () => {
    const d = parseWgDump(`${K3}\t${K2}\t51820\toff\n${K1}\t(none)\t[2001:db8::7]:51820\t10.6.0.2/32\t0\t10\t20\t25\n`, 'wg1');
    expect(d.ports.get('wg1')).toBe(51820);
    expect(d.peers).toEqual([{ iface: 'wg1', publicKey: K1, endpointIp: '2001:db8::7', endpointPort: 51820, allowedIps: ['10.6.0.2/32'], handshake: null, rx: 10, tx: 20 }]);
  });

  it('never keeps a key in an unparsed sample', () => {
    const d = parseWgDump(`wg0\t${K3}\tsomething odd\n`);
    expect(d.unparsed).toHaveLength(1);
    expect(d.unparsed[0].text).not.toContain(K3);
  });

  it('counts growth between snapshots, takes the first as the baseline, and a restart as new counters', () => {
    const e = new WgDeltas();
    const t0 = Date.UTC(2026, 10, 20, 8, 0), t1 = t0 + 300_000, t2 = t1 + 300_000;
    const a = e.ingest(t0, parseWgDump(dump(1000, 50_000)).peers).deltas[0];
    expect(a).toMatchObject({ kind: 'new', since: null });
    const b = e.ingest(t1, parseWgDump(dump(3000, 950_000)).peers).deltas[0];
    expect(b).toMatchObject({ kind: 'update', since: t0, bytesIn: 2000, bytesOut: 900_000 });
    // wg-quick down/up: the counters start again from zero.
    const c = WgDeltas.fromJSON(e.toJSON()).ingest(t2, parseWgDump(dump(500, 7000)).peers).deltas[0];
    expect(c).toMatchObject({ kind: 'reset', since: t1, bytesIn: 500, bytesOut: 7000 });
  });

  it('leases a peer\'s host addresses to its name, from its real endpoint', () => {
    const p = parseWgDump(dump(1, 2)).peers[0];
    expect(peerLeases(p, new Map([[K1, 'alice']]), 0, 5)).toEqual([{ account: 'alice', realIp: '203.0.113.77', realPort: 40123, vip: '10.6.0.2', firstTs: 0, lastTs: 5, source: 'wireguard' }]);
    expect(peerLeases(p, new Map(), 0, 5)[0].account).toBe(K1);
  });
});
