/** OpenVPN's log: connects, address leases, disconnects, floats, failed logins. */
import { openvpn as parser } from '../../parsers/openvpn.js';
import type { IdentityFact, LogSource } from '../types.js';
import { str } from '../util.js';

export const source: LogSource = {
  name: 'openvpn',
  title: 'OpenVPN',
  rank: 100,
  tags: ['openvpn', 'ovpn-*', 'openvpn@*'],
  nativeStamps: ['ymd-hms', 'ctime'],
  parser,
  longSessions: true,
  ports: [['openvpn', 1194, ['tcp', 'udp'], 'vpn']],
  groups: [{ name: 'vpn', label: 'VPN', realm: 'tunnel' }],
  standardPaths: ['/var/log/openvpn', '/var/log/openvpn.log'],
  corpusDirs: ['openvpn'],
  fact(ev): IdentityFact | null {
    // A session is its client's real address and port (the parser's `cn/ip:port` before the CN is known is `ip:port`).
    const key = ev.rip ? `${ev.rip}:${ev.rport ?? ''}` : null;
    switch (ev.kind) {
      case 'connect': {
        const moved = ev.attrs?.float && typeof ev.attrs.fromIp === 'string' ? { ip: ev.attrs.fromIp, port: (ev.attrs.fromPort ?? null) as number | null } : undefined;
        return { fact: 'session-start', realm: 'tunnel', service: 'vpn', key, altKey: null, movedFrom: moved };
      }
      case 'lease': case 'learn': {
        const vips: string[] = [];
        for (const v of [str(ev.attrs?.vip), str(ev.attrs?.vip6)]) if (v) vips.push(v);
        return { fact: 'lease', realm: 'tunnel', key, vips };
      }
      case 'disconnect': return { fact: 'session-end', realm: 'tunnel', key, altKey: null };
      case 'auth-fail': return { fact: 'auth-failure', service: 'vpn' };
      default: return null;
    }
  },
  service: () => 'vpn',
};
