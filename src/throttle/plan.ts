/**
 * A throttle plan: which addresses to shape, where, how fast, and the kernel names (handles, prefs,
 * tables, chains) the scripts will use. Built from already-resolved inputs; pure and deterministic,
 * so the same inputs always give the same plan id and the same scripts.
 */
import { createHash } from 'node:crypto';
import { InputError } from '../errors.js';
import { DEFAULT_MINOR, INGRESS_REDIRECT_PREF, ROOT_MAJOR, ifbName } from './handles.js';
import { renderApply, renderUndo, renderVerify } from './script.js';
import { type Address, contains, formatRate, parseAddress, parseIface, safeLabel } from './validate.js';

export type Backend = 'nft' | 'iptables' | 'u32' | 'fw';
export type Direction = 'out' | 'in' | 'both';
export const BACKENDS: readonly Backend[] = ['nft', 'iptables', 'u32', 'fw'];
export const DIRECTIONS: readonly Direction[] = ['out', 'in', 'both'];

export interface ThrottleClient {
  /** Canonical address or network. */
  address: string;
  family: 4 | 6;
  /** Other accounts seen on this address in the window (NAT, shared hosts): they are shaped too. */
  sharedWith: string[];
  firstSeen: number | null;
  lastSeen: number | null;
}

export interface ThrottlePlan {
  schema: 'bytetrail.throttle/1';
  /** 8 hex digits from the interface and the target: the same client on the same interface keeps its id, so a re-run replaces. */
  id: string;
  target: { kind: 'account' | 'address'; name: string; label: string };
  window: { from: string; to: string } | null;
  clients: ThrottleClient[];
  iface: string;
  direction: Direction;
  backend: Backend;
  /** Server-side service ports; empty means all of the client's traffic. */
  ports: number[];
  /** Bits per second. */
  rate: number;
  ceil: number;
  defaultRate: number;
  tc: {
    rootHandle: string;
    defaultClassid: string;
    classid: string;
    /** Egress u32/fw filter prefs on `iface` (IPv4, IPv6); the same prefs carry the ingress u32 filters on the IFB. */
    prefs: [number, number];
    ifb: string | null;
    ingressRedirectPref: number;
  };
  /** How packets are put in the class: on egress by the backend; on ingress (IFB) always by u32, since netfilter sees packets only after the IFB. */
  classify: { egress: Backend | null; ingress: 'u32' | null };
  names: { nftTable: string; iptablesChain: string; comment: string; fwMark: number };
  warnings: string[];
  commands: { apply: string; undo: string; verify: string };
}

export interface PlanInput {
  target: { kind: 'account'; name: string } | { kind: 'address'; address: string };
  /** For an account: the addresses it used, as the store returned them. */
  addresses?: Array<{ ip: string; firstSeen?: number | null; lastSeen?: number | null; otherAccounts?: string[] }>;
  window?: { fromMs: number; toMs: number } | null;
  iface: string;
  direction: Direction;
  backend: Backend;
  ports: number[];
  rate: number;
  ceil?: number | null;
  defaultRate: number;
}

/** Everything in a plan except the rendered commands. */
export type PlanCore = Omit<ThrottlePlan, 'commands'>;

export function buildPlanCore(input: PlanInput): PlanCore {
  const iface = parseIface(input.iface);
  if (!BACKENDS.includes(input.backend)) throw new InputError(`unknown backend ${JSON.stringify(input.backend)}`, { hint: `use one of ${BACKENDS.join(', ')}` });
  if (!DIRECTIONS.includes(input.direction)) throw new InputError(`unknown direction ${JSON.stringify(input.direction)}`, { hint: 'use out (downloads), in (uploads) or both' });
  for (const p of input.ports) if (!Number.isInteger(p) || p < 1 || p > 65535) throw new InputError(`bad port ${p}`);
  const ceil = input.ceil ?? input.rate;
  if (ceil < input.rate) throw new InputError(`ceil ${formatRate(ceil)} is below rate ${formatRate(input.rate)}`, { hint: 'the ceil is the most the client may borrow up to; it must be at least the rate' });
  if (input.defaultRate < ceil) throw new InputError(`default rate ${formatRate(input.defaultRate)} is below the client's ceil ${formatRate(ceil)}`, { hint: 'the default class carries everyone else; give it the line speed or more' });

  const warnings: string[] = [];
  let found: Array<{ addr: Address; raw: PlanInputAddr }> = [];
  let targetKey: string, name: string;
  if (input.target.kind === 'address') {
    const addr = parseAddress(input.target.address);
    found = [{ addr, raw: { ip: addr.text } }];
    targetKey = `address\0${addr.text}`;
    name = addr.text;
  } else {
    name = input.target.name;
    if (name === '') throw new InputError('empty account name');
    targetKey = `account\0${name}`;
    for (const a of input.addresses ?? []) {
      try {
        found.push({ addr: parseAddress(a.ip), raw: { ...a } });
      } catch {
        // The store hands back what the logs said; an address that does not parse never reaches a script.
        warnings.push(`skipped ${safeLabel(a.ip)}: not an IP address`);
      }
    }
  }

  // Drop duplicates and addresses inside another listed network: nft refuses overlapping set elements.
  found.sort((a, b) => a.addr.prefix - b.addr.prefix || compareBytes(a.addr.bytes, b.addr.bytes));
  const kept: typeof found = [];
  for (const f of found) {
    const outer = kept.find((k) => contains(k.addr, f.addr));
    if (outer) {
      mergeSeen(outer.raw, f.raw);
      continue;
    }
    kept.push(f);
  }
  kept.sort((a, b) => a.addr.family - b.addr.family || compareBytes(a.addr.bytes, b.addr.bytes) || a.addr.prefix - b.addr.prefix);
  if (kept.length === 0) throw new InputError(`no addresses to throttle for ${safeLabel(name)}`);

  const clients: ThrottleClient[] = kept.map(({ addr, raw }) => ({
    address: addr.text,
    family: addr.family,
    sharedWith: [...new Set(raw.otherAccounts ?? [])].sort(),
    firstSeen: raw.firstSeen ?? null,
    lastSeen: raw.lastSeen ?? null,
  }));
  for (const c of clients) {
    if (c.sharedWith.length > 0) {
      const who = c.sharedWith.slice(0, 5).map((a) => safeLabel(a, 32)).join(', ') + (c.sharedWith.length > 5 ? `, and ${c.sharedWith.length - 5} more` : '');
      warnings.push(`${c.address} is shared with ${c.sharedWith.length} other account(s) (NAT?): ${who}; throttling it slows them too`);
    }
  }

  const id = createHash('sha256').update(`bytetrail-throttle/1\0${iface}\0${targetKey}`).digest('hex').slice(0, 8);
  // One slot per plan: class minor, filter prefs and fw mark all derive from it, so a re-run reuses them.
  const slot = (parseInt(id, 16) % 16000) + 1;
  const classMinor = 0x100 + slot;
  const wantsIn = input.direction !== 'out';
  const wantsOut = input.direction !== 'in';

  return {
    schema: 'bytetrail.throttle/1',
    id,
    target: { kind: input.target.kind, name, label: safeLabel(name) },
    window: input.window ? { from: new Date(input.window.fromMs).toISOString(), to: new Date(input.window.toMs).toISOString() } : null,
    clients,
    iface,
    direction: input.direction,
    backend: input.backend,
    ports: [...input.ports],
    rate: input.rate,
    ceil,
    defaultRate: input.defaultRate,
    tc: {
      rootHandle: `${ROOT_MAJOR}:`,
      defaultClassid: `${ROOT_MAJOR}:${DEFAULT_MINOR.toString(16)}`,
      classid: `${ROOT_MAJOR}:${classMinor.toString(16)}`,
      prefs: [16000 + 2 * slot, 16001 + 2 * slot],
      ifb: wantsIn ? ifbName(iface) : null,
      ingressRedirectPref: INGRESS_REDIRECT_PREF,
    },
    classify: { egress: wantsOut ? input.backend : null, ingress: wantsIn ? 'u32' : null },
    names: {
      nftTable: `bytetrail_${id}`,
      iptablesChain: `BYTETRAIL-${id}`,
      comment: `bytetrail:${id}`,
      fwMark: (0xb7 << 16) | slot,
    },
    warnings,
  };
}

type PlanInputAddr = NonNullable<PlanInput['addresses']>[number];

function mergeSeen(into: PlanInputAddr, from: PlanInputAddr): void {
  if (from.otherAccounts?.length) into.otherAccounts = [...(into.otherAccounts ?? []), ...from.otherAccounts];
  if (from.firstSeen != null && (into.firstSeen == null || from.firstSeen < into.firstSeen)) into.firstSeen = from.firstSeen;
  if (from.lastSeen != null && (into.lastSeen == null || from.lastSeen > into.lastSeen)) into.lastSeen = from.lastSeen;
}

function compareBytes(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i] - b[i];
  return a.length - b.length;
}

/** The plan with its apply, undo and verify scripts. */
export function buildPlan(input: PlanInput): ThrottlePlan {
  const core = buildPlanCore(input);
  return { ...core, commands: { apply: renderApply(core), undo: renderUndo(core), verify: renderVerify(core) } };
}
