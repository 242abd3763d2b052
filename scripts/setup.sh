#!/usr/bin/env bash
# Installs what a fresh Debian/Ubuntu machine lacks to run swarmgrad: Chromium (the
# contributors and the tests run in it), the Fashion-MNIST dataset package, the Vulkan
# loader (Dawn in Node, the `webgpu` package, runs our WGSL through it), coturn and nftables
# (the NAT end-to-end test runs a TURN server and NAT routers in network namespaces), and the
# npm packages. Safe to run again: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null || [[ -n ${CHROME_PATH:-} ]] || missing+=(chromium)
[[ -f ${SWARMGRAD_DATA_DIR:-/usr/share/datasets/fashion-mnist}/train-images-idx3-ubyte.gz ]] || missing+=(dataset-fashion-mnist)
# ldconfig lives in /sbin, which a non-root user's PATH may lack.
{ ldconfig -p || /sbin/ldconfig -p; } 2>/dev/null | grep -q 'libvulkan\.so\.1 ' || missing+=(libvulkan1)
# /usr/sbin may be missing from a non-root user's PATH.
[[ -x /usr/bin/turnserver ]] || command -v turnserver >/dev/null || missing+=(coturn)
[[ -x /usr/sbin/nft ]] || command -v nft >/dev/null || missing+=(nftables)
if ((${#missing[@]})); then
  sudo=""
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

npm ci --no-audit --no-fund
