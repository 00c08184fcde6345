#!/bin/sh
# bytetrail throttle plan 7cb7326c: apply
# target:    address 2001%3Adb8%3A5%3A%3A%2F64
# clients:   2001:db8:5::/64
# interface: eth0, direction in (uploads: ingress via btin-eth0)
# rate:      500kbit, ceil 500kbit; everything else: default class at 10gbit
# ports:     all
# backend:   u32; ingress (IFB) is classified with u32, since netfilter sees packets only after the IFB
# Re-running it replaces this plan's rules. It never touches rules it did not create.

set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "bytetrail-throttle 7cb7326c: $*" >&2; }
fail() { say "error: $*"; exit 1; }
has() { command -v "$1" >/dev/null 2>&1; }

# Who owns the root qdisc of $1: ours (htb b7:), default (the kernel's own, handle 0:), or other.
root_owner() {
  set -- $(tc qdisc show dev "$1" root)
  if [ "$#" -lt 3 ]; then echo default
  elif [ "$2" = htb ] && [ "$3" = b7: ]; then echo ours
  elif [ "$3" = 0: ]; then echo default
  else echo "other ($2 $3)"; fi
}

# Does $1 carry client classes of any bytetrail plan (every htb class but the default)?
has_client_classes() {
  tc class show dev "$1" | grep "^class htb b7:" | grep -qv "^class htb b7:1 "
}

drop_filters() {
  tc filter del dev "$1" parent b7: pref 41562 2>/dev/null || true
  tc filter del dev "$1" parent b7: pref 41563 2>/dev/null || true
}

drop_class() {
  if tc class show dev "$1" classid b7:32ed 2>/dev/null | grep -q .; then tc class del dev "$1" classid b7:32ed; fi
}

# The HTB tree goes with the last bytetrail plan on the device; the kernel puts its default qdisc back.
drop_root_if_unused() {
  if [ "$(root_owner "$1")" = ours ] && ! has_client_classes "$1"; then tc qdisc del dev "$1" root; fi
}

drop_nft() {
  if has nft && nft list table inet bytetrail_7cb7326c >/dev/null 2>&1; then nft delete table inet bytetrail_7cb7326c; fi
}

# $1 = iptables or ip6tables
drop_xt() {
  has "$1" || return 0
  "$1" -w -t mangle -S BYTETRAIL-7cb7326c >/dev/null 2>&1 || return 0
  while "$1" -w -t mangle -D POSTROUTING -o eth0 -m comment --comment bytetrail:7cb7326c -j BYTETRAIL-7cb7326c 2>/dev/null; do :; done
  "$1" -w -t mangle -F BYTETRAIL-7cb7326c
  "$1" -w -t mangle -X BYTETRAIL-7cb7326c
  drop_empty_xt_table "$1"
}

# iptables-nft creates the whole mangle table on first use. When this plan's chain was all that
# was in it (no rule, no set, every policy accept), the table goes too, so nft's ruleset is left
# as it was found. Legacy iptables tables are the kernel's and stay.
drop_empty_xt_table() {
  has nft || return 0
  "$1" -V 2>/dev/null | grep -q nf_tables || return 0
  if [ "$1" = iptables ]; then fam=ip; else fam=ip6; fi
  nft list table "$fam" mangle >/dev/null 2>&1 || return 0
  if ! nft list table "$fam" mangle 2>/dev/null | grep -Ev '^[[:space:]]*(table ip6? mangle [{]|chain [A-Z]+ [{]|type (filter|route) hook [a-z]+ priority mangle; policy accept;|[}])?[[:space:]]*$' | grep -q .; then
    nft delete table "$fam" mangle
  fi
}

# Ingress: this plan's filters and class on the IFB; the IFB itself, the redirect and an emptied
# ingress qdisc go with the last plan that uses them.
drop_ingress() {
  ip link show dev btin-eth0 >/dev/null 2>&1 || return 0
  drop_filters btin-eth0
  drop_class btin-eth0
  has_client_classes btin-eth0 && return 0
  if tc filter show dev eth0 ingress pref 49152 2>/dev/null | grep -q "Redirect to device btin-eth0)"; then
    tc filter del dev eth0 ingress pref 49152
  fi
  if tc qdisc show dev eth0 ingress | grep -q "^qdisc ingress " && ! tc filter show dev eth0 ingress | grep -q .; then
    tc qdisc del dev eth0 ingress
  fi
  ip link del dev btin-eth0
}

## 1. Prerequisites. Nothing changes until all of them pass.
[ "$(id -u)" = 0 ] || fail "must run as root: it changes tc and firewall state"
has tc || fail "tc not found: install iproute2"
has ip || fail "ip not found: install iproute2"
ip link show dev eth0 >/dev/null 2>&1 || fail "interface eth0 not found (list them with: ip -br link)"
if ip link show dev btin-eth0 >/dev/null 2>&1; then
  case "$(root_owner btin-eth0)" in ours|default) ;; *) fail "btin-eth0 has a root qdisc bytetrail did not create: $(root_owner btin-eth0)" ;; esac
fi
if has unshare && unshare -n true 2>/dev/null; then
  unshare -n sh -c 'ip link set lo up && tc qdisc add dev lo root handle 1: htb default 1 && tc class add dev lo parent 1: classid 1:2 htb rate 1mbit' >/dev/null 2>&1 || fail "this kernel has no HTB qdisc (sch_htb)"
  unshare -n sh -c 'ip link set lo up && tc qdisc add dev lo root handle 1: htb default 1 && tc class add dev lo parent 1: classid 1:2 htb rate 1mbit && tc filter add dev lo parent 1: protocol ip pref 1 u32 match ip dst 192.0.2.1/32 classid 1:2' >/dev/null 2>&1 || fail "this kernel has no u32 classifier (cls_u32)"
  unshare -n sh -c 'ip link add btprobe type ifb && tc qdisc add dev lo handle ffff: ingress && tc filter add dev lo ingress pref 1 protocol all u32 match u32 0 0 action mirred egress redirect dev btprobe' >/dev/null 2>&1 || fail "uploads need an IFB device and the mirred action (ifb, act_mirred, sch_ingress), which this kernel lacks"
else
  say "warning: cannot probe kernel support (unshare -n failed); a missing module will stop the script midway"
fi

## 2. Take out what this plan does not use now (a re-run with another backend, direction or
##    address family); all filter deletes come before the adds.
drop_nft
drop_xt iptables
drop_xt ip6tables
drop_filters eth0
drop_class eth0
drop_root_if_unused eth0
if ip link show dev btin-eth0 >/dev/null 2>&1; then drop_filters btin-eth0; fi

## 5. Ingress on eth0 (traffic from the client): redirect it through btin-eth0, shape there.
ip link show dev btin-eth0 >/dev/null 2>&1 || ip link add btin-eth0 type ifb
ip link set dev btin-eth0 up
[ "$(root_owner btin-eth0)" = ours ] || tc qdisc replace dev btin-eth0 root handle b7: htb default 1 r2q 10
tc class replace dev btin-eth0 parent b7: classid b7:1 htb rate 10000000000bit ceil 10000000000bit burst 12500000 cburst 12500000 quantum 200000
tc class replace dev btin-eth0 parent b7: classid b7:32ed htb rate 500000bit ceil 500000bit burst 3028 cburst 3028 quantum 6250
tc qdisc replace dev btin-eth0 parent b7:32ed handle 32ed: pfifo limit 16
tc filter add dev btin-eth0 parent b7: protocol ipv6 pref 41563 u32 match ip6 src 2001:db8:5::/64 classid b7:32ed
tc qdisc show dev eth0 ingress | grep -q . || tc qdisc add dev eth0 handle ffff: ingress
if ! tc filter show dev eth0 ingress pref 49152 | grep -q "Redirect to device btin-eth0)"; then
  tc filter del dev eth0 ingress pref 49152 2>/dev/null || true
  tc filter add dev eth0 ingress pref 49152 protocol all u32 match u32 0 0 action mirred egress redirect dev btin-eth0
fi

## 6. Verify.
bad=0
check() { if ! sh -c "$1" >/dev/null 2>&1; then say "verify: missing: $2"; bad=1; fi; }
check 'tc class show dev btin-eth0 classid b7:32ed | grep -q "rate "' "class b7:32ed on btin-eth0"
check 'tc filter show dev btin-eth0 parent b7: | grep -Eq "id b7:32ed( |$)"' "u32 filter for b7:32ed on btin-eth0"
check 'tc filter show dev eth0 ingress pref 49152 | grep -q "Redirect to device btin-eth0)"' "redirect of eth0 ingress to btin-eth0"
[ "$bad" = 0 ] || fail "verification failed: the plan is not fully in place"
say "in place: 500kbit (ceil 500kbit) for 1 address(es), direction in, on eth0"
