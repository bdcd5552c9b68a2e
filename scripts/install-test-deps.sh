#!/usr/bin/env bash
# Installs the Debian packages the test suite uses as real parts (not mocks):
#   redis-server  the Redis that the multi-process crawl tests start on a loopback port
#   microsocks    a real SOCKS5 server for the proxy path
#   chromium      the headless browser that renders the HTML report
#   prometheus    for `promtool check metrics`
#   python3 make g++  for `npm ci` itself: better-sqlite3 (the store) fetches a prebuilt binary
#                 from GitHub, which is unreachable here, and then builds from source with
#                 node-gyp (node's own headers: /usr/include/node of the NodeSource package)
#   libnetfilter-queue-dev  test/kernel-rtt.test.ts compiles the benchmark's kernel delayer
#                 (bench/netdelay/netdelay.c, with g++'s gcc) to check its RTTs against the JS twin
# A policy-rc.d that exits 101 first, so Debian starts none of these as a service (the tests
# start what they need themselves, bound to loopback, and stop it). Needs root (CI runs as root).
# Idempotent: packages already present are not fetched again.
set -euo pipefail
PKGS=(redis-server microsocks chromium prometheus python3 make g++ libnetfilter-queue-dev)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -eq 0 ]; then exit 0; fi
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
  chmod +x /usr/sbin/policy-rc.d
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
