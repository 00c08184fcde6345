/**
 * Renders a plan as POSIX sh: an apply script, an undo script and a verify script. Pure text in,
 * text out, so the scripts can be golden-tested.
 *
 * Safety: every value interpolated below comes from the plan, whose addresses, ports, rates and
 * interface names were validated into a fixed alphabet (digits, hex, '.', ':', '/', and the
 * interface charset). Names from logs appear only in `#` comments, after safeLabel() has turned
 * every unsafe byte (newlines included) into %XX.
 */
import type { PlanCore, ThrottleClient } from './plan.js';
import { DEFAULT_MINOR, INGRESS_REDIRECT_PREF as INGRESS_PREF, ROOT_MAJOR, ifbName } from './handles.js';
import { formatRate, humanRate, safeLabel } from './validate.js';

const ROOT = `${ROOT_MAJOR}:`;
const DEFAULT_CLASSID = `${ROOT_MAJOR}:${DEFAULT_MINOR.toString(16)}`;
const MTU_BYTES = 1514;

interface Names {
  iface: string;
  ifb: string;
  classid: string;
  leafHandle: string;
  p4: number;
  p6: number;
  table: string;
  chain: string;
  comment: string;
  mark: string;
  jump: string;
}

function names(p: PlanCore): Names {
  const minor = p.tc.classid.split(':')[1];
  return {
    iface: p.iface,
    ifb: ifbName(p.iface),
    classid: p.tc.classid,
    leafHandle: `${minor}:`,
    p4: p.tc.prefs[0],
    p6: p.tc.prefs[1],
    table: p.names.nftTable,
    chain: p.names.iptablesChain,
    comment: p.names.comment,
    mark: `0x${p.names.fwMark.toString(16)}`,
    jump: `-o ${p.iface} -m comment --comment ${p.names.comment} -j ${p.names.iptablesChain}`,
  };
}

// ---- shared pieces ----

function header(p: PlanCore, what: string): string[] {
  const lines = [
    '#!/bin/sh',
    `# bytetrail throttle plan ${p.id}: ${what}`,
    `# target:    ${p.target.kind} ${p.target.label}`,
  ];
  p.clients.forEach((c, i) => lines.push(`# ${i === 0 ? 'clients:  ' : '          '} ${c.address}${c.sharedWith.length ? `  (shared with: ${c.sharedWith.slice(0, 5).map((a) => safeLabel(a, 32)).join(', ')}${c.sharedWith.length > 5 ? ', ...' : ''})` : ''}`));
  lines.push(
    `# interface: ${p.iface}, direction ${p.direction} (${p.direction === 'out' ? 'downloads: egress towards the client' : p.direction === 'in' ? `uploads: ingress via ${ifbName(p.iface)}` : `downloads on egress, uploads via ${ifbName(p.iface)}`})`,
    `# rate:      ${humanRate(p.rate)}, ceil ${humanRate(p.ceil)}; everything else: default class at ${humanRate(p.defaultRate)}`,
    `# ports:     ${p.ports.length ? `${p.ports.join(', ')} (server side)` : 'all'}`,
    `# backend:   ${p.backend}${p.classify.ingress ? '; ingress (IFB) is classified with u32, since netfilter sees packets only after the IFB' : ''}`,
    '# Re-running it replaces this plan\'s rules. It never touches rules it did not create.',
    '',
    'set -eu',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    'export PATH',
    '',
    `say() { echo "bytetrail-throttle ${p.id}: $*" >&2; }`,
    'fail() { say "error: $*"; exit 1; }',
    'has() { command -v "$1" >/dev/null 2>&1; }',
    '',
  );
  return lines;
}

function rootCheck(): string[] {
  return ['[ "$(id -u)" = 0 ] || fail "must run as root: it changes tc and firewall state"'];
}

/** Helpers used by apply and undo. Every remover is a no-op when its object is absent. */
function helpers(n: Names): string[] {
  return [
    '# Who owns the root qdisc of $1: ours (htb ' + ROOT + '), default (the kernel\'s own, handle 0:), or other.',
    'root_owner() {',
    '  set -- $(tc qdisc show dev "$1" root)',
    '  if [ "$#" -lt 3 ]; then echo default',
    `  elif [ "$2" = htb ] && [ "$3" = ${ROOT} ]; then echo ours`,
    '  elif [ "$3" = 0: ]; then echo default',
    '  else echo "other ($2 $3)"; fi',
    '}',
    '',
    '# Does $1 carry client classes of any bytetrail plan (every htb class but the default)?',
    'has_client_classes() {',
    `  tc class show dev "$1" | grep "^class htb ${ROOT}" | grep -qv "^class htb ${DEFAULT_CLASSID} "`,
    '}',
    '',
    'drop_filters() {',
    `  tc filter del dev "$1" parent ${ROOT} pref ${n.p4} 2>/dev/null || true`,
    `  tc filter del dev "$1" parent ${ROOT} pref ${n.p6} 2>/dev/null || true`,
    '}',
    '',
    'drop_class() {',
    `  if tc class show dev "$1" classid ${n.classid} 2>/dev/null | grep -q .; then tc class del dev "$1" classid ${n.classid}; fi`,
    '}',
    '',
    '# The HTB tree goes with the last bytetrail plan on the device; the kernel puts its default qdisc back.',
    'drop_root_if_unused() {',
    '  if [ "$(root_owner "$1")" = ours ] && ! has_client_classes "$1"; then tc qdisc del dev "$1" root; fi',
    '}',
    '',
    'drop_nft() {',
    `  if has nft && nft list table inet ${n.table} >/dev/null 2>&1; then nft delete table inet ${n.table}; fi`,
    '}',
    '',
    '# $1 = iptables or ip6tables',
    'drop_xt() {',
    '  has "$1" || return 0',
    `  "$1" -w -t mangle -S ${n.chain} >/dev/null 2>&1 || return 0`,
    `  while "$1" -w -t mangle -D POSTROUTING ${n.jump} 2>/dev/null; do :; done`,
    `  "$1" -w -t mangle -F ${n.chain}`,
    `  "$1" -w -t mangle -X ${n.chain}`,
    '  drop_empty_xt_table "$1"',
    '}',
    '',
    '# iptables-nft creates the whole mangle table on first use. When this plan\'s chain was all that',
    '# was in it (no rule, no set, every policy accept), the table goes too, so nft\'s ruleset is left',
    '# as it was found. Legacy iptables tables are the kernel\'s and stay.',
    'drop_empty_xt_table() {',
    '  has nft || return 0',
    '  "$1" -V 2>/dev/null | grep -q nf_tables || return 0',
    '  if [ "$1" = iptables ]; then fam=ip; else fam=ip6; fi',
    '  nft list table "$fam" mangle >/dev/null 2>&1 || return 0',
    '  if ! nft list table "$fam" mangle 2>/dev/null | grep -Ev \'^[[:space:]]*(table ip6? mangle [{]|chain [A-Z]+ [{]|type (filter|route) hook [a-z]+ priority mangle; policy accept;|[}])?[[:space:]]*$\' | grep -q .; then',
    '    nft delete table "$fam" mangle',
    '  fi',
    '}',
    '',
    '# Ingress: this plan\'s filters and class on the IFB; the IFB itself, the redirect and an emptied',
    '# ingress qdisc go with the last plan that uses them.',
    'drop_ingress() {',
    `  ip link show dev ${n.ifb} >/dev/null 2>&1 || return 0`,
    `  drop_filters ${n.ifb}`,
    `  drop_class ${n.ifb}`,
    `  has_client_classes ${n.ifb} && return 0`,
    `  if tc filter show dev ${n.iface} ingress pref ${INGRESS_PREF} 2>/dev/null | grep -q "Redirect to device ${n.ifb})"; then`,
    `    tc filter del dev ${n.iface} ingress pref ${INGRESS_PREF}`,
    '  fi',
    `  if tc qdisc show dev ${n.iface} ingress | grep -q "^qdisc ingress " && ! tc filter show dev ${n.iface} ingress | grep -q .; then`,
    `    tc qdisc del dev ${n.iface} ingress`,
    '  fi',
    `  ip link del dev ${n.ifb}`,
    '}',
    '',
  ];
}

function burst(bits: number): number {
  // 10 ms worth: iproute2's default (rate / HZ) is a few bytes on high-resolution kernels, and at
  // 10gbit it wraps to 0, which caps the default class far below its rate.
  return Math.max(2 * MTU_BYTES, Math.round(bits / 8 / 100));
}

function quantum(bits: number): number {
  return Math.min(200_000, Math.max(MTU_BYTES, Math.round(bits / 8 / 10)));
}

/** Leaf queue: about 200 ms at the ceil, so a throttled client is slowed, not buried in a 1000-packet queue. */
function leafLimit(bits: number): number {
  return Math.min(1000, Math.max(16, Math.round((bits / 8) * 0.2 / MTU_BYTES)));
}

function htbClass(dev: string, classid: string, rate: number, ceil: number): string {
  return `tc class replace dev ${dev} parent ${ROOT} classid ${classid} htb rate ${formatRate(rate)} ceil ${formatRate(ceil)} burst ${burst(rate)} cburst ${burst(ceil)} quantum ${quantum(rate)}`;
}

function tree(p: PlanCore, n: Names, dev: string): string[] {
  return [
    `[ "$(root_owner ${dev})" = ours ] || tc qdisc replace dev ${dev} root handle ${ROOT} htb default ${DEFAULT_MINOR.toString(16)} r2q 10`,
    htbClass(dev, DEFAULT_CLASSID, p.defaultRate, p.defaultRate),
    htbClass(dev, n.classid, p.rate, p.ceil),
    `tc qdisc replace dev ${dev} parent ${n.classid} handle ${n.leafHandle} pfifo limit ${leafLimit(p.ceil)}`,
  ];
}

function v4(p: PlanCore): ThrottleClient[] { return p.clients.filter((c) => c.family === 4); }
function v6(p: PlanCore): ThrottleClient[] { return p.clients.filter((c) => c.family === 6); }
function withPrefix(c: ThrottleClient): string { return c.address.includes('/') ? c.address : `${c.address}/${c.family === 4 ? 32 : 128}`; }

/** u32 filters: one per address and port. `side` is the client's side of the packet. */
function u32Filters(p: PlanCore, n: Names, dev: string, side: 'dst' | 'src'): string[] {
  const portKey = side === 'dst' ? 'sport' : 'dport';
  const ports: Array<number | null> = p.ports.length ? p.ports : [null];
  const out: string[] = [];
  for (const [clients, proto, pref, kw] of [[v4(p), 'ip', n.p4, 'ip'], [v6(p), 'ipv6', n.p6, 'ip6']] as const) {
    for (const c of clients) {
      for (const port of ports) {
        out.push(`tc filter add dev ${dev} parent ${ROOT} protocol ${proto} pref ${pref} u32 match ${kw} ${side} ${withPrefix(c)}${port === null ? '' : ` match ${kw} ${portKey} ${port} 0xffff`} classid ${n.classid}`);
      }
    }
  }
  return out;
}

function nftRuleset(p: PlanCore, n: Names): string[] {
  const set = (cs: ThrottleClient[]) => (cs.length === 1 ? cs[0].address : `{ ${cs.map((c) => c.address).join(', ')} }`);
  const ports = p.ports.length === 0 ? '' : ` meta l4proto { tcp, udp } th sport ${p.ports.length === 1 ? p.ports[0] : `{ ${p.ports.join(', ')} }`}`;
  const rules: string[] = [];
  if (v4(p).length) rules.push(`\t\toifname "${n.iface}" ip daddr ${set(v4(p))}${ports} meta priority set ${n.classid} comment "${n.comment}"`);
  if (v6(p).length) rules.push(`\t\toifname "${n.iface}" ip6 daddr ${set(v6(p))}${ports} meta priority set ${n.classid} comment "${n.comment}"`);
  return [
    '# One nft transaction: create (so the delete cannot fail), delete, recreate. Never two copies.',
    "nft -f - <<'BYTETRAIL_NFT'",
    `table inet ${n.table}`,
    `delete table inet ${n.table}`,
    `table inet ${n.table} {`,
    '\tchain postrouting {',
    '\t\ttype filter hook postrouting priority mangle; policy accept;',
    ...rules,
    '\t}',
    '}',
    'BYTETRAIL_NFT',
  ];
}

/** iptables-restore --noflush: declaring the chain creates or empties it, so the chain is replaced atomically. */
function xtRules(p: PlanCore, n: Names, tool: 'iptables' | 'ip6tables', clients: ThrottleClient[], target: string): string[] {
  const rules: string[] = [];
  for (const c of clients) {
    if (p.ports.length === 0) rules.push(`-A ${n.chain} -d ${c.address} -m comment --comment ${n.comment} -j ${target}`);
    else for (const proto of ['tcp', 'udp']) rules.push(`-A ${n.chain} -d ${c.address} -p ${proto} -m multiport --sports ${p.ports.join(',')} -m comment --comment ${n.comment} -j ${target}`);
  }
  return [
    `${tool}-restore -w --noflush <<'BYTETRAIL_XT'`,
    '*mangle',
    `:${n.chain} - [0:0]`,
    ...rules,
    'COMMIT',
    'BYTETRAIL_XT',
    `${tool} -w -t mangle -C POSTROUTING ${n.jump} 2>/dev/null || ${tool} -w -t mangle -A POSTROUTING ${n.jump}`,
  ];
}

// ---- prerequisites ----

function need(tool: string, why: string): string {
  return `has ${tool} || fail "${tool} not found: ${why}"`;
}

function prerequisites(p: PlanCore, n: Names): string[] {
  const out = p.classify.egress;
  const xt = out === 'iptables' || out === 'fw';
  const lines = [
    '## 1. Prerequisites. Nothing changes until all of them pass.',
    ...rootCheck(),
    need('tc', 'install iproute2'),
    need('ip', 'install iproute2'),
  ];
  if (out === 'nft') lines.push(need('nft', 'install nftables, or choose another --backend'));
  if (xt && v4(p).length) lines.push(need('iptables', 'install iptables, or choose another --backend'), need('iptables-restore', 'install iptables'));
  if (xt && v6(p).length) lines.push(need('ip6tables', 'install iptables (ip6tables), or choose another --backend'), need('ip6tables-restore', 'install iptables'));
  lines.push(`ip link show dev ${n.iface} >/dev/null 2>&1 || fail "interface ${n.iface} not found (list them with: ip -br link)"`);
  // Someone else's root qdisc is their shaping; replacing it would silently undo their work.
  if (out) lines.push(`case "$(root_owner ${n.iface})" in ours|default) ;; *) fail "${n.iface} has a root qdisc bytetrail did not create: $(root_owner ${n.iface}). Remove it (tc qdisc del dev ${n.iface} root) or merge the plan into your own tree (bytetrail throttle --json)" ;; esac`);
  if (p.classify.ingress) {
    lines.push(
      `if ip link show dev ${n.ifb} >/dev/null 2>&1; then`,
      `  case "$(root_owner ${n.ifb})" in ours|default) ;; *) fail "${n.ifb} has a root qdisc bytetrail did not create: $(root_owner ${n.ifb})" ;; esac`,
      'fi',
    );
  }
  // Missing kernel support is what breaks hand-written scripts silently; try each piece in a
  // throwaway network namespace (it vanishes with the process) before touching the real one.
  const probes: Array<[string, string]> = [
    ['ip link set lo up && tc qdisc add dev lo root handle 1: htb default 1 && tc class add dev lo parent 1: classid 1:2 htb rate 1mbit', 'this kernel has no HTB qdisc (sch_htb)'],
  ];
  const base = 'ip link set lo up && tc qdisc add dev lo root handle 1: htb default 1 && tc class add dev lo parent 1: classid 1:2 htb rate 1mbit && ';
  if (out === 'u32' || p.classify.ingress) probes.push([`${base}tc filter add dev lo parent 1: protocol ip pref 1 u32 match ip dst 192.0.2.1/32 classid 1:2`, 'this kernel has no u32 classifier (cls_u32)']);
  if (out === 'fw') probes.push([`${base}tc filter add dev lo parent 1: protocol all pref 1 handle 1 fw classid 1:2`, 'this kernel has no fw classifier (cls_fw); use --backend nft, iptables or u32']);
  if (out === 'nft') probes.push(['nft "add table inet p; add chain inet p c { type filter hook postrouting priority mangle; }; add rule inet p c meta priority set 1:2 comment \\"p\\""', 'nftables cannot set meta priority here (nf_tables, nft_meta); choose another --backend']);
  if (xt) {
    const target = out === 'fw' ? 'MARK --set-mark 1' : 'CLASSIFY --set-class 1:2';
    if (v4(p).length) probes.push([`iptables -w -t mangle -A POSTROUTING -m comment --comment p -j ${target}`, `iptables cannot use ${target.split(' ')[0]} and comment in the mangle table here; choose another --backend`]);
    if (v6(p).length) probes.push([`ip6tables -w -t mangle -A POSTROUTING -m comment --comment p -j ${target}`, `ip6tables cannot use ${target.split(' ')[0]} and comment in the mangle table here; choose another --backend`]);
  }
  if (p.classify.ingress) probes.push(['ip link add btprobe type ifb && tc qdisc add dev lo handle ffff: ingress && tc filter add dev lo ingress pref 1 protocol all u32 match u32 0 0 action mirred egress redirect dev btprobe', 'uploads need an IFB device and the mirred action (ifb, act_mirred, sch_ingress), which this kernel lacks']);
  lines.push(
    'if has unshare && unshare -n true 2>/dev/null; then',
    ...probes.map(([cmd, why]) => `  unshare -n sh -c '${cmd}' >/dev/null 2>&1 || fail "${why}"`),
    'else',
    '  say "warning: cannot probe kernel support (unshare -n failed); a missing module will stop the script midway"',
    'fi',
    '',
  );
  return lines;
}

// ---- the three scripts ----

export function renderApply(p: PlanCore): string {
  const n = names(p);
  const out = p.classify.egress;
  const xt = out === 'iptables' || out === 'fw';
  const lines = [...header(p, 'apply'), ...helpers(n), ...prerequisites(p, n)];

  lines.push(
    '## 2. Take out what this plan does not use now (a re-run with another backend, direction or',
    '##    address family); all filter deletes come before the adds.',
  );
  if (out !== 'nft') lines.push('drop_nft');
  if (!(xt && v4(p).length)) lines.push('drop_xt iptables');
  if (!(xt && v6(p).length)) lines.push('drop_xt ip6tables');
  lines.push(`drop_filters ${n.iface}`);
  if (!out) lines.push(`drop_class ${n.iface}`, `drop_root_if_unused ${n.iface}`);
  if (p.classify.ingress) lines.push(`if ip link show dev ${n.ifb} >/dev/null 2>&1; then drop_filters ${n.ifb}; fi`);
  else lines.push('drop_ingress');
  lines.push('');

  if (out) {
    lines.push(
      `## 3. Egress on ${n.iface} (traffic towards the client): HTB root, a default class for everyone else, one class for this client.`,
      ...tree(p, n, n.iface),
      '',
      `## 4. Classify the client's packets into ${n.classid} (${out}).`,
    );
    if (out === 'nft') lines.push(...nftRuleset(p, n));
    if (out === 'u32') lines.push(...u32Filters(p, n, n.iface, 'dst'));
    if (xt) {
      const target = out === 'fw' ? `MARK --set-mark ${n.mark}` : `CLASSIFY --set-class ${n.classid}`;
      if (v4(p).length) lines.push(...xtRules(p, n, 'iptables', v4(p), target));
      if (v6(p).length) lines.push(...xtRules(p, n, 'ip6tables', v6(p), target));
      if (out === 'fw') lines.push(`tc filter add dev ${n.iface} parent ${ROOT} protocol all pref ${n.p4} handle ${n.mark} fw classid ${n.classid}`);
    }
    lines.push('');
  }

  if (p.classify.ingress) {
    lines.push(
      `## 5. Ingress on ${n.iface} (traffic from the client): redirect it through ${n.ifb}, shape there.`,
      `ip link show dev ${n.ifb} >/dev/null 2>&1 || ip link add ${n.ifb} type ifb`,
      `ip link set dev ${n.ifb} up`,
      ...tree(p, n, n.ifb),
      ...u32Filters(p, n, n.ifb, 'src'),
      `tc qdisc show dev ${n.iface} ingress | grep -q . || tc qdisc add dev ${n.iface} handle ffff: ingress`,
      `if ! tc filter show dev ${n.iface} ingress pref ${INGRESS_PREF} | grep -q "Redirect to device ${n.ifb})"; then`,
      `  tc filter del dev ${n.iface} ingress pref ${INGRESS_PREF} 2>/dev/null || true`,
      `  tc filter add dev ${n.iface} ingress pref ${INGRESS_PREF} protocol all u32 match u32 0 0 action mirred egress redirect dev ${n.ifb}`,
      'fi',
      '',
    );
  }

  lines.push('## 6. Verify.', ...verifyBody(p, n));
  return lines.join('\n') + '\n';
}

function verifyBody(p: PlanCore, n: Names): string[] {
  const out = p.classify.egress;
  const lines = ['bad=0', 'check() { if ! sh -c "$1" >/dev/null 2>&1; then say "verify: missing: $2"; bad=1; fi; }'];
  if (out) {
    lines.push(`check 'tc class show dev ${n.iface} classid ${n.classid} | grep -q "rate "' "class ${n.classid} on ${n.iface}"`);
    if (out === 'nft') lines.push(`check 'nft list table inet ${n.table} | grep -q "meta priority set ${n.classid}"' "nft table inet ${n.table}"`);
    if (out === 'iptables' || out === 'fw') {
      if (v4(p).length) lines.push(`check 'iptables -w -t mangle -C POSTROUTING ${n.jump}' "iptables jump to ${n.chain}"`);
      if (v6(p).length) lines.push(`check 'ip6tables -w -t mangle -C POSTROUTING ${n.jump}' "ip6tables jump to ${n.chain}"`);
    }
    if (out === 'u32' || out === 'fw') lines.push(`check 'tc filter show dev ${n.iface} parent ${ROOT} | grep -Eq "id ${n.classid}( |$)"' "${out} filter for ${n.classid} on ${n.iface}"`);
  }
  if (p.classify.ingress) {
    lines.push(
      `check 'tc class show dev ${n.ifb} classid ${n.classid} | grep -q "rate "' "class ${n.classid} on ${n.ifb}"`,
      `check 'tc filter show dev ${n.ifb} parent ${ROOT} | grep -Eq "id ${n.classid}( |$)"' "u32 filter for ${n.classid} on ${n.ifb}"`,
      `check 'tc filter show dev ${n.iface} ingress pref ${INGRESS_PREF} | grep -q "Redirect to device ${n.ifb})"' "redirect of ${n.iface} ingress to ${n.ifb}"`,
    );
  }
  lines.push(
    '[ "$bad" = 0 ] || fail "verification failed: the plan is not fully in place"',
    `say "in place: ${humanRate(p.rate)} (ceil ${humanRate(p.ceil)}) for ${p.clients.length} address(es), direction ${p.direction}, on ${n.iface}"`,
  );
  return lines;
}

export function renderVerify(p: PlanCore): string {
  const n = names(p);
  return [...header(p, 'verify'), ...verifyBody(p, n)].join('\n') + '\n';
}

export function renderUndo(p: PlanCore): string {
  const n = names(p);
  return [
    ...header(p, 'undo'),
    ...helpers(n),
    ...rootCheck(),
    need('tc', 'install iproute2'),
    need('ip', 'install iproute2'),
    '',
    '# Whatever backend or direction the plan was applied with: everything tagged with its id goes.',
    'drop_nft',
    'drop_xt iptables',
    'drop_xt ip6tables',
    `if ip link show dev ${n.iface} >/dev/null 2>&1; then`,
    `  drop_filters ${n.iface}`,
    `  drop_class ${n.iface}`,
    `  drop_root_if_unused ${n.iface}`,
    '  drop_ingress',
    'fi',
    `say "removed plan ${p.id} from ${n.iface}"`,
  ].join('\n') + '\n';
}
