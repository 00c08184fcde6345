/**
 * Which service a flow belongs to, by its SERVICE port: the well-known port on either end.
 * The server's own outbound mail (ephemeral port → remote 25) is `smtp` as much as inbound mail
 * to its port 25 is, so both ends are looked at, the local end first.
 */
import { UserError } from '../errors.js';
import { COUNTER_SOURCES } from '../sources/counters.js';
import { GROUP_LABELS, LOG_SOURCES, SOURCE_PORTS } from '../sources/index.js';
import type { ServicePort } from '../sources/types.js';

/** A service named by its port: every service a source declares, `ssh`, and `other`. */
export type Service = string;

/** Extra ports per service, e.g. `{ openvpn: [1195, 443] }`. They apply to TCP and UDP alike. */
export type ServicePorts = Partial<Record<Exclude<Service, 'other'>, readonly number[]>>;

const TCP = 6;
const UDP = 17;

/**
 * Defaults: each log or counter source declares the ports of the services it serves
 * (src/sources/), with the group their flows are attributed under; SSH is here because no
 * source reads it. UDP 443 is QUIC, i.e. HTTP/3.
 */
function declaredPorts(): ServicePort[] {
  return [...SOURCE_PORTS, ...COUNTER_SOURCES.flatMap((c) => c.ports ?? []), ['ssh', 22, ['tcp']]];
}

/**
 * Every service, in the order the sources declare them, then `other`. Filled on first use, not
 * at load, so that a module in the import cycle around flows/snapshots.ts may name it early.
 */
export const SERVICES: Service[] = ['other'];

let catalogue: { ports: Array<readonly [Service, number, readonly number[]]>; groups: Map<Service, string> } | null = null;

function services(): NonNullable<typeof catalogue> {
  if (catalogue) return catalogue;
  const ports: Array<readonly [Service, number, readonly number[]]> = [];
  const groups = new Map<Service, string>();
  const names: Service[] = [];
  for (const [service, port, protos, group] of declaredPorts()) {
    if (!names.includes(service)) names.push(service);
    ports.push([service, port, protos.map((p) => (p === 'tcp' ? TCP : UDP))]);
    if (group && !groups.has(service)) groups.set(service, group);
  }
  SERVICES.splice(0, SERVICES.length, ...names, 'other');
  catalogue = { ports, groups };
  return catalogue;
}

/** The service group a flow service's bytes are attributed under (`imaps` → `imap`), or null. */
export function groupOfService(service: Service): string | null {
  return services().groups.get(service) ?? null;
}

/** The services of a group, e.g. every VPN's (`openvpn`, `wireguard`). */
export function servicesOfGroup(group: string): Service[] {
  return [...services().groups].filter(([, g]) => g === group).map(([s]) => s);
}

let throttlePorts: Readonly<Record<string, readonly number[]>> | null = null;

/**
 * The ports a throttle of each group limits (server side, TCP and UDP alike): those the group
 * declares, else the ports of its services as every log and counter source declares them, in
 * order (`vpn` → OpenVPN's 1194 and WireGuard's 51820). `other` has none.
 */
export function groupPorts(): Readonly<Record<string, readonly number[]>> {
  if (throttlePorts) return throttlePorts;
  const out: Record<string, number[]> = {};
  for (const name of Object.keys(GROUP_LABELS)) out[name] = [];
  for (const [, port, , group] of declaredPorts()) if (group && out[group] && !out[group].includes(port)) out[group].push(port);
  for (const s of LOG_SOURCES) for (const g of s.groups ?? []) if (g.ports) out[g.name] = [...g.ports];
  out.other = [];
  return (throttlePorts = out);
}

/** foldClass's answers. */
export const FOLD_NEVER = 0;
export const FOLD_PROBE = 1;
export const FOLD_ALWAYS = 2;
export const FOLD_LOCAL = 3;

/**
 * Port → service lookup for TCP and UDP, one byte per port (0 = no service, else index + 1 in
 * SERVICES). Built once per option set; the flush path calls it once per flow record.
 */
export class ServiceTable {
  private readonly tcp = new Uint8Array(65536);
  private readonly udp = new Uint8Array(65536);

  constructor(extra: ServicePorts = {}) {
    for (const [service, port, protos] of services().ports) {
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

  /**
   * May a record with these ports lose its remote port (aggregate.ts, `fold`)? FOLD_NEVER when
   * the service comes from the remote port (the server as a client, backscatter, a VPN client's
   * forwarded connection) or belongs to a group that correlation matches by the client's port
   * (mail, VPN); FOLD_ALWAYS for UDP to the server's own DNS port (attributed as `dns`, whatever
   * the port and counters); FOLD_PROBE for the rest (`other`, ssh, http, https), whose verdict
   * depends on the remote port only through the shape of a probe (see attribute.ts scanOrBrute);
   * FOLD_LOCAL for UDP from a port of no service to a remote DNS port (the server's resolver
   * asking upstream: its local port is the random one, and every such flow is `dns` too).
   */
  foldClass(proto: number, lport: number, rport: number): number {
    const l = proto === TCP ? this.tcp[lport] : proto === UDP ? this.udp[lport] : 0;
    if (l === 0) {
      const r = proto === TCP ? this.tcp[rport] : proto === UDP ? this.udp[rport] : 0;
      if (r === 0) return FOLD_PROBE;
      return proto === UDP && this.foldOfCode()[r] === FOLD_ALWAYS ? FOLD_LOCAL : FOLD_NEVER;
    }
    const f = this.foldOfCode()[l];
    return f === FOLD_ALWAYS && proto !== UDP ? FOLD_PROBE : f;
  }

  private foldCodes: Uint8Array | null = null;

  private foldOfCode(): Uint8Array {
    if (this.foldCodes) return this.foldCodes;
    const codes = new Uint8Array(SERVICES.length + 1);
    for (let i = 0; i < SERVICES.length; i++) {
      const group = groupOfService(SERVICES[i]);
      codes[i + 1] = group === null ? FOLD_PROBE : group === 'dns' ? FOLD_ALWAYS : FOLD_NEVER;
    }
    return (this.foldCodes = codes);
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

let defaultTable: ServiceTable | null = null;

/** The table of the declared ports alone, built on first use (see SERVICES). */
export function defaultServices(): ServiceTable {
  return (defaultTable ??= new ServiceTable());
}

/**
 * Service of a flow from the server's point of view: e.g. `serviceFor(6, 993, 51234)` is `imaps`
 * and `serviceFor(6, 43122, 25)` (the server relaying mail out) is `smtp`.
 */
export function serviceFor(proto: number, lport: number, rport: number, table: ServiceTable = defaultServices()): Service {
  return table.classify(proto, lport, rport);
}
