#!/usr/bin/env bash
# Installs what bootfleet's lab, tests and benchmarks need on Debian 12, then the npm packages.
# Run as root (the lab makes network namespaces and taps). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  iproute2 procps psmisc cpio             # namespaces, bridges, taps; process tools; initramfs checks
  ndisc6                                  # rdisc6: checks the controller's IPv6 router advertisements
  qemu-system-x86 qemu-system-arm ipxe-qemu  # virtual nodes (TCG) with iPXE NIC ROMs
  ipxe                                    # undionly.kpxe, ipxe.efi, snponly.efi served over TFTP
  busybox-static squashfs-tools           # initramfs userland, root images
  tftpd-hpa atftp tftp-hpa                # TFTP peers: interop tests and the benchmark
  dnsmasq-base                            # the PXE benchmark's peer and the lab's "home router"
  isc-dhcp-client udhcpc curl             # real DHCP and TFTP clients for interop tests
  mtools dosfstools fdisk                 # Pi cards: FAT images, partition tables (sfdisk)
  mmdebstrap                              # debian-web image roots
  systemd wget                            # systemctl --root checks an image's enabled units; the built-in layer's scripts under dash
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi
# Tests and benchmarks start their own servers on loopback ports or inside their own namespaces,
# so a tftpd-hpa daemon the package may have started on port 69 does not disturb them.

if [ -f package-lock.json ]; then npm ci; else npm install; fi
