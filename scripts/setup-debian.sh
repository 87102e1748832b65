#!/usr/bin/env bash
# Installs what bootfleet's lab, tests and benchmarks need on Debian 12, then the npm packages.
# Run as root (the lab makes network namespaces and taps). Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  iproute2 procps psmisc cpio             # namespaces, bridges, taps; process tools; initramfs checks
  ndisc6                                  # rdisc6: checks the controller's IPv6 router advertisements
  qemu-system-x86 qemu-system-arm ipxe-qemu  # virtual nodes (TCG) with iPXE NIC ROMs
  ovmf qemu-efi-aarch64                   # UEFI firmware for x86-64 and arm64 lab nodes (their own PXE)
  ipxe                                    # undionly.kpxe, ipxe.efi, snponly.efi served over TFTP
  busybox-static squashfs-tools           # initramfs userland, root images
  tftpd-hpa atftp tftp-hpa                # TFTP peers: interop tests and the benchmark
  dnsmasq-base                            # the PXE benchmark's peer and the lab's "home router"
  isc-dhcp-client udhcpc curl             # real DHCP and TFTP clients for interop tests
  isc-dhcp-relay                          # dhcrelay: a real DHCP relay agent for racks on other subnets (test/lab/relay.test.ts)
  mtools dosfstools fdisk                 # Pi cards: FAT images, partition tables (sfdisk)
  mmdebstrap                              # debian-web image roots
  haproxy nginx-light apache2 pen keepalived nftables  # balancers checked by test/balancer; nft makes a silent node
  qemu-user-static binfmt-support arch-test  # foreign-arch debian roots (Pi images on x86; below)
  systemd wget                            # systemctl --root checks an image's enabled units, systemd-analyze verify checks contrib/bootfleet.service; the built-in layer's scripts under dash
  etcd-server etcd-client                 # store.kind etcd: members for the store and leader-election tests, etcdctl (docs/scale-out.md)
  chromium                                # the web UI's browser test (test/lab/ui.test.ts, driven by playwright-core)
)
missing=()
for p in "${packages[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

# A Debian root for a foreign arch (Pi images, arm64, built on an x86 controller): mmdebstrap runs
# the root's package scripts, so the kernel must run arm64 binaries through qemu-user, via the
# binfmt_misc handler qemu-aarch64 (docs/images.md). An arm64 host builds natively: nothing to do.
# Without systemd as PID 1 (a container, a minimal VM) nothing mounts binfmt_misc or enables the
# handler, so do both here. A failure only warns: everything else works without it, and the image
# build names the problem again, with what to run, if it is still there.
binfmt=/proc/sys/fs/binfmt_misc
handler_enabled() { [ "$(head -n 1 "$binfmt/qemu-aarch64" 2>/dev/null)" = enabled ]; }
# arch-test runs a tiny arm64 program: the ground truth (and what mmdebstrap itself checks).
arm64_runs() { [ "$(arch-test arm64 2>/dev/null)" = "arm64: ok" ]; }
# Prints progress on stderr; on failure prints the reason on stdout and returns 1.
enable_arm64_emulation() {
  local err
  if arm64_runs; then
    echo "setup: arm64 binaries already run here (binfmt handler qemu-aarch64): arm64 Debian images build here" >&2
    return 0
  fi
  if [ ! -e "$binfmt/status" ]; then
    if ! err=$(mount -t binfmt_misc binfmt_misc "$binfmt" 2>&1); then
      echo "cannot mount binfmt_misc at $binfmt (${err%%$'\n'*})"
      return 1
    fi
    echo "setup: mounted binfmt_misc at $binfmt" >&2
  fi
  if [ -e "$binfmt/qemu-aarch64" ] && ! handler_enabled; then
    # Registered but switched off in the kernel: update-binfmts would say "already enabled".
    if ! err=$( (echo 1 >"$binfmt/qemu-aarch64") 2>&1); then
      echo "cannot enable the binfmt handler qemu-aarch64 (${err:-writing 1 to $binfmt/qemu-aarch64 failed})"
      return 1
    fi
  elif ! handler_enabled && ! err=$(update-binfmts --enable qemu-aarch64 2>&1); then
    echo "cannot enable the binfmt handler qemu-aarch64 (${err:-update-binfmts failed})"
    return 1
  fi
  if ! arm64_runs; then
    echo "arm64 binaries still do not run ($binfmt/qemu-aarch64: $(head -n 1 "$binfmt/qemu-aarch64" 2>&1))"
    return 1
  fi
  echo "setup: binfmt handler qemu-aarch64 enabled: arm64 Debian images build here through qemu-user" >&2
}
if [ "$(dpkg --print-architecture)" = arm64 ]; then
  echo "setup: arm64 host: arm64 Debian images build natively, no qemu-user needed" >&2
elif ! problem=$(enable_arm64_emulation); then
  cat >&2 <<WARN
WARNING: $problem.
  Consequence: arm64 Debian images (bootfleet image build images/debian-web.yaml --arch arm64)
  fail here with "cannot build a debian root for arm64 ..." until the handler is enabled.
  In a container binfmt_misc belongs to the host's kernel (it is not namespaced): on the host,
  as root, run  apt-get install qemu-user-static binfmt-support && update-binfmts --enable qemu-aarch64
  and check that /proc/sys/fs/binfmt_misc/qemu-aarch64 starts with "enabled"; then build here again.
  Everything else (amd64 images, tiny-web for arm64, the lab) works without it.
WARN
fi

# Tests and benchmarks start their own servers on loopback ports or inside their own namespaces,
# so a tftpd-hpa daemon the package may have started on port 69 does not disturb them.

if [ -f package-lock.json ]; then npm ci; else npm install; fi
