#!/bin/sh
# bytetrail throttle plan 43b2369d: undo
# target:    address 192.0.2.10
# clients:   192.0.2.10
# interface: eth0, direction out (downloads: egress towards the client)
# rate:      2mbit, ceil 2mbit; everything else: default class at 10gbit
# ports:     all
# backend:   nft
# Re-running it replaces this plan's rules. It never touches rules it did not create.

set -eu
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH

say() { echo "bytetrail-throttle 43b2369d: $*" >&2; }
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
  tc filter del dev "$1" parent b7: pref 33724 2>/dev/null || true
  tc filter del dev "$1" parent b7: pref 33725 2>/dev/null || true
}

drop_class() {
  if tc class show dev "$1" classid b7:239e 2>/dev/null | grep -q .; then tc class del dev "$1" classid b7:239e; fi
}

# The HTB tree goes with the last bytetrail plan on the device; the kernel puts its default qdisc back.
drop_root_if_unused() {
  if [ "$(root_owner "$1")" = ours ] && ! has_client_classes "$1"; then tc qdisc del dev "$1" root; fi
}

drop_nft() {
  if has nft && nft list table inet bytetrail_43b2369d >/dev/null 2>&1; then nft delete table inet bytetrail_43b2369d; fi
}

# $1 = iptables or ip6tables
drop_xt() {
  has "$1" || return 0
  "$1" -w -t mangle -S BYTETRAIL-43b2369d >/dev/null 2>&1 || return 0
  while "$1" -w -t mangle -D POSTROUTING -o eth0 -m comment --comment bytetrail:43b2369d -j BYTETRAIL-43b2369d 2>/dev/null; do :; done
  "$1" -w -t mangle -F BYTETRAIL-43b2369d
  "$1" -w -t mangle -X BYTETRAIL-43b2369d
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

[ "$(id -u)" = 0 ] || fail "must run as root: it changes tc and firewall state"
has tc || fail "tc not found: install iproute2"
has ip || fail "ip not found: install iproute2"

# Whatever backend or direction the plan was applied with: everything tagged with its id goes.
drop_nft
drop_xt iptables
drop_xt ip6tables
if ip link show dev eth0 >/dev/null 2>&1; then
  drop_filters eth0
  drop_class eth0
  drop_root_if_unused eth0
  drop_ingress
fi
say "removed plan 43b2369d from eth0"
