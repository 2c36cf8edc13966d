#!/usr/bin/env bash
# Everything netcap needs on a fresh Debian bookworm machine, installed only
# when missing, so that `npm test` and `npm run demo` are quick the second time.
#   1. Debian packages (libpcap, libbpf, DPDK, tcpdump, tshark, bpftool, bpftrace)
#   2. npm packages (only when package-lock.json changed since the last install)
#   3. the N-API addon (only when its sources changed since the last build)
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(libpcap-dev libbpf-dev libelf-dev zlib1g-dev pkg-config tcpdump tshark tcpreplay iproute2 bpftool bpftrace
      dpdk libdpdk-dev dpdk-doc dpdk-dev make gcc g++ python3
      golang-github-gopacket-gopacket-dev python3-dpkt pcapfix python3-libtrace chromium)
# dpdk-dev holds dpdk-dumpcap, the anchor `npm run bench` compares netcap mbuf with.
# chromium: netcap serve's page is tested in it, headless, driven by the npm
# package playwright-core (test/service/web-page.test.ts); no browser is downloaded.
# The four before it ship real capture files (gopacket's and the pcapng test
# generator's, dpkt's, pcapfix's, python-libtrace's): test/read/corpus.test.ts
# reads them where the packages install them.
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing Debian packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # tshark asks whether non-root users may capture; answer once, quietly.
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get update -q >&2
  # With recommends, as on the machines the suite was run on (DPDK's and
  # tshark's recommended packages included).
  apt-get install -y -q "${missing[@]}" >&2
fi

# node-gyp must build against the headers of the Node we run, which Debian's
# image keeps under /usr; without this it tries to download them and fails.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

stamp=node_modules/.netcap-installed
if [[ ! -f $stamp || package.json -nt $stamp || ( -f package-lock.json && package-lock.json -nt $stamp ) ]]; then
  echo "setup: installing npm packages" >&2
  if [[ -f package-lock.json ]]; then npm ci --no-audit --no-fund >&2; else npm install --no-audit --no-fund >&2; fi
  touch "$stamp"
fi

addon=native/build/Release/netcap.node
if [[ ! -f $addon ]] || [[ -n "$(find native -maxdepth 2 -newer "$addon" \( -name '*.cc' -o -name '*.h' -o -name 'binding.gyp' \) -print -quit)" ]]; then
  echo "setup: building the native addon" >&2
  (cd native && ../node_modules/.bin/node-gyp rebuild --nodedir="$npm_config_nodedir" >&2)
fi
