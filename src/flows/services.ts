/**
 * Which service a flow belongs to, by its SERVICE port: the well-known port on either end.
 * The server's own outbound mail (ephemeral port → remote 25) is `smtp` as much as inbound mail
 * to its port 25 is, so both ends are looked at, the local end first.
 */
import { UserError } from '../errors.js';
import { SOURCE_PORTS } from '../sources/index.js';

export type Service =
  | 'imap' | 'imaps' | 'pop3' | 'pop3s' | 'smtp' | 'submission' | 'smtps'
  | 'openvpn' | 'wireguard' | 'dns' | 'http' | 'https' | 'ssh' | 'other';

export const SERVICES: readonly Service[] = [
  'imap', 'imaps', 'pop3', 'pop3s', 'smtp', 'submission', 'smtps', 'openvpn', 'wireguard', 'dns', 'http', 'https', 'ssh', 'other',
];

/** Extra ports per service, e.g. `{ openvpn: [1195, 443] }`. They apply to TCP and UDP alike. */
export type ServicePorts = Partial<Record<Exclude<Service, 'other'>, readonly number[]>>;

const TCP = 6;
const UDP = 17;

/**
 * Defaults: [service, port, protocols]. Each log source declares the ports of the services it
 * serves (src/sources/); the web and SSH ports are here because no source reads them. UDP 443
 * is QUIC, i.e. HTTP/3.
 */
const DEFAULT_PORTS: ReadonlyArray<readonly [Exclude<Service, 'other'>, number, readonly number[]]> = [
  ...SOURCE_PORTS.map(([service, port, protos]) => [service, port, protos.map((p) => (p === 'tcp' ? TCP : UDP))] as const),
  ['http', 80, [TCP]], ['https', 443, [TCP, UDP]], ['ssh', 22, [TCP]],
  // WireGuard is a counter source (src/sources/counters.ts), which builds on this module.
  ['wireguard', 51820, [UDP]],
];

/**
 * Port → service lookup for TCP and UDP, one byte per port (0 = no service, else index + 1 in
 * SERVICES). Built once per option set; the flush path calls it once per flow record.
 */
export class ServiceTable {
  private readonly tcp = new Uint8Array(65536);
  private readonly udp = new Uint8Array(65536);

  constructor(extra: ServicePorts = {}) {
    for (const [service, port, protos] of DEFAULT_PORTS) {
      for (const p of protos) (p === TCP ? this.tcp : this.udp)[port] = SERVICES.indexOf(service) + 1;
    }
    for (const [service, ports] of Object.entries(extra) as [Exclude<Service, 'other'>, readonly number[]][]) {
      const code = SERVICES.indexOf(service) + 1;
      if (code === 0 || service === ('other' as string)) {
        throw new UserError(`unknown service ${JSON.stringify(service)}`, { code: 'E_BAD_SERVICE', hint: `one of ${SERVICES.filter((x) => x !== 'other').join(', ')}` });
      }
      for (const port of ports ?? []) {
        if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UserError(`bad port ${port} for ${service}`, { code: 'E_BAD_PORT' });
        this.tcp[port] = code;
        this.udp[port] = code;
      }
    }
  }

  /** The service on this port for this IP protocol, or null. Only TCP and UDP have ports. */
  lookup(proto: number, port: number): Exclude<Service, 'other'> | null {
    const code = proto === TCP ? this.tcp[port] : proto === UDP ? this.udp[port] : 0;
    return code ? (SERVICES[code - 1] as Exclude<Service, 'other'>) : null;
  }

  isServicePort(proto: number, port: number): boolean {
    return (proto === TCP ? this.tcp[port] : proto === UDP ? this.udp[port] : 0) !== 0;
  }

  /** The local port's service if it has one, else the remote port's, else `other`. */
  classify(proto: number, lport: number, rport: number): Service {
    return this.lookup(proto, lport) ?? this.lookup(proto, rport) ?? 'other';
  }
}

export const DEFAULT_SERVICES = new ServiceTable();

/**
 * Service of a flow from the server's point of view: e.g. `serviceFor(6, 993, 51234)` is `imaps`
 * and `serviceFor(6, 43122, 25)` (the server relaying mail out) is `smtp`.
 */
export function serviceFor(proto: number, lport: number, rport: number, table: ServiceTable = DEFAULT_SERVICES): Service {
  return table.classify(proto, lport, rport);
}
