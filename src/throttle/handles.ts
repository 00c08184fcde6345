/** Fixed kernel names bytetrail uses on every interface it shapes; plans and scripts share them. */
import { createHash } from 'node:crypto';

/** bytetrail's HTB root handle ("b7" for bytetrail). */
export const ROOT_MAJOR = 'b7';
/** The default class: everything not throttled. */
export const DEFAULT_MINOR = 1;
/** The pref of the one ingress filter that redirects an interface's ingress to its IFB. */
export const INGRESS_REDIRECT_PREF = 49152;

/** `btin-eth0`; a long interface name gets a hash instead, to stay within 15 characters. */
export function ifbName(iface: string): string {
  if (iface.length <= 10) return `btin-${iface}`;
  return `btin-${createHash('sha256').update(iface).digest('hex').slice(0, 10)}`;
}
