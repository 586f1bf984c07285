#!/usr/bin/env bash
# Installs the Debian 12 packages kiln builds and tests with, skipping those
# already present. Uses sudo when not run as root.
set -euo pipefail
pkgs=(build-essential cmake pkg-config python3
      llvm-19-dev libvulkan-dev glslang-dev glslang-tools spirv-tools
      mesa-vulkan-drivers vulkan-validationlayers libopenblas-dev)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -ne 0 ] && sudo=sudo
echo "kiln: installing ${missing[*]}" >&2
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
