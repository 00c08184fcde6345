/**
 * The throttle service behind `bytetrail throttle`: flags in, a validated plan out, and (only when
 * asked, only as root) the script run on this machine.
 */
import { spawnSync } from 'node:child_process';
import { PrivilegeError, UserError } from '../errors.js';
import { BACKENDS, DIRECTIONS, buildPlan, type Backend, type Direction, type ThrottlePlan } from './plan.js';
import { type AccountIpSource, resolveTarget, routeIface } from './resolve.js';
import { parseAddress, parseIface, parsePorts, parseRate, parseWindow } from './validate.js';

export { buildPlan } from './plan.js';
export type { ThrottlePlan } from './plan.js';

export interface ThrottleOptions {
  target: string;
  rate: string;
  ceil?: string;
  defaultRate: string;
  iface?: string;
  direction: string;
  backend: string;
  ports?: string;
  since: string;
  /** End of the window an account's addresses are taken from (default: now), for a past incident. */
  until?: string;
  /** Zone for dates without an offset in since/until. */
  tz?: string;
  nowMs: number;
}

export async function planThrottle(o: ThrottleOptions, source: () => AccountIpSource, findIface: (addrs: string[]) => string = routeIface): Promise<ThrottlePlan> {
  if (!DIRECTIONS.includes(o.direction as Direction)) throw new UserError(`unknown --direction ${JSON.stringify(o.direction)}`, { hint: 'out (downloads), in (uploads) or both' });
  if (!BACKENDS.includes(o.backend as Backend)) throw new UserError(`unknown --backend ${JSON.stringify(o.backend)}`, { hint: BACKENDS.join(', ') });
  const rate = parseRate(o.rate, '--rate');
  const ceil = o.ceil ? parseRate(o.ceil, '--ceil') : null;
  const defaultRate = parseRate(o.defaultRate, '--default-rate');
  const ports = o.ports ? parsePorts(o.ports) : [];
  const iface = o.iface === undefined ? undefined : parseIface(o.iface, '--iface');
  const resolved = await resolveTarget(o.target, parseWindow(o.since, o.until, o.nowMs, o.tz), source);
  const addresses = resolved.target.kind === 'address' ? [resolved.target.address] : validOnly((resolved.addresses ?? []).map((a) => a.ip));
  return buildPlan({
    ...resolved,
    iface: iface ?? findIface(addresses),
    direction: o.direction as Direction,
    backend: o.backend as Backend,
    ports, rate, ceil, defaultRate,
  });
}

function validOnly(ips: string[]): string[] {
  return ips.flatMap((ip) => {
    try {
      return [parseAddress(ip).text];
    } catch {
      return [];
    }
  });
}

export interface ApplyResult { script: 'apply' | 'undo'; exitCode: number; verified: boolean | null }

/**
 * Runs the plan's apply script (which verifies its result last) or its undo script with `sh -e`. The scripts write only to
 * stderr, and so does whatever tc or nft prints: stdout stays for results.
 */
export function runPlan(plan: ThrottlePlan, which: 'apply' | 'undo'): ApplyResult {
  if (process.getuid?.() !== 0) throw new PrivilegeError('--apply needs root', { hint: 'without --apply nothing changes: save the script with --out and run it as root' });
  const exitCode = runSh(which === 'apply' ? plan.commands.apply : plan.commands.undo);
  if (exitCode !== 0) {
    throw new UserError(`the ${which} script stopped with exit code ${exitCode}; see its messages above`, { code: 'E_APPLY', exitCode: 1, hint: which === 'apply' ? 'the prerequisite checks run first, so a failure there changed nothing; run the undo script (--undo --apply) to clear a half-applied plan' : null });
  }
  // The apply script ends with the verify steps and exits non-zero when one fails.
  return { script: which, exitCode, verified: which === 'apply' ? true : null };
}

function runSh(script: string): number {
  const r = spawnSync('sh', ['-e', '-s'], { input: script, stdio: ['pipe', 2, 2], timeout: 120_000 });
  if (r.error) throw new UserError(`cannot run sh: ${r.error.message}`);
  return r.status ?? 1;
}
