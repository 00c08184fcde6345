/**
 * From what the user typed to what a plan needs: an address is used as is; an account becomes the
 * addresses it used in the window, as the store saw them (with the other accounts seen on each).
 */
import { spawnSync } from 'node:child_process';
import { InputError, UserError } from '../errors.js';
import type { PlanInput } from './plan.js';
import { looksLikeAddress, parseAddress, parseIface, safeLabel } from './validate.js';

import type { ReadStore } from '../store/read.js';

/** The one store query a throttle needs (every ReadStore answers it). */
export type AccountIpSource = Pick<ReadStore, 'accountIps'>;

export type ResolvedTarget = Pick<PlanInput, 'target' | 'addresses' | 'window'>;

/**
 * `raw` that parses as an IP or CIDR is an address (and a malformed one is an error, not an account
 * name); anything else is an account, looked up in [fromMs, toMs). `source` is called only for accounts.
 */
export async function resolveTarget(raw: string, window: { fromMs: number; toMs: number }, source: () => AccountIpSource): Promise<ResolvedTarget> {
  if (looksLikeAddress(raw)) return { target: { kind: 'address', address: parseAddress(raw).text }, window: null };
  if (raw.trim() === '') throw new InputError('empty target', { hint: 'give an account name, an IP address or a CIDR network' });
  const rows = await source().accountIps(raw, window.fromMs, window.toMs);
  if (rows.length === 0) {
    throw new InputError(`no addresses for account ${safeLabel(raw)} between ${new Date(window.fromMs).toISOString()} and ${new Date(window.toMs).toISOString()}`, {
      hint: 'check the spelling (accounts are matched exactly), widen --since (with --until for a past incident), or give the IP address',
    });
  }
  return { target: { kind: 'account', name: raw }, addresses: rows, window };
}

/**
 * The interface the kernel routes an address through (`ip route get`), for when --iface is not
 * given. All of a plan's addresses must leave by the same interface.
 */
export function routeIface(addresses: string[]): string {
  const seen = new Set<string>();
  for (const a of addresses) {
    const host = a.split('/')[0];
    const r = spawnSync('ip', ['-j', 'route', 'get', host], { encoding: 'utf8', timeout: 5000 });
    let dev: unknown;
    try {
      dev = (JSON.parse(r.stdout) as Array<{ dev?: unknown }>)[0]?.dev;
    } catch {
      dev = undefined;
    }
    if (r.status !== 0 || typeof dev !== 'string') {
      throw new UserError(`cannot find the interface towards ${host}${r.error ? ` (${r.error.message})` : ''}`, { hint: 'pass --iface, the server interface the client\'s traffic leaves by' });
    }
    seen.add(parseIface(dev));
  }
  if (seen.size !== 1) throw new UserError(`the addresses leave by different interfaces (${[...seen].join(', ')})`, { hint: 'pass --iface and run once per interface' });
  return [...seen][0];
}
