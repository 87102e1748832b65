/**
 * The text files of the tiny (busybox) root. Kept apart from the code that lays out the tree so
 * the boot behaviour can be read in one place. Everything here is baked into the cached base
 * root; overlays add to it or replace files (overlays/tiny-web replaces start.d/10-httpd).
 */

/** busybox init: rcS once, then a shell on the console that comes back when it exits. */
export const INITTAB = `# bootfleet tiny root: busybox init(8)
::sysinit:/etc/init.d/rcS
::respawn:-/bin/sh
::ctrlaltdel:/bin/reboot
::shutdown:/bin/umount -a -r
`;

/**
 * rcS: mounts the kernel filesystems (the initramfs may already have moved /dev, /proc and /sys
 * into the new root), names the host, keeps the DHCP lease the initramfs got (udhcpc with the
 * built-in layer's script, images/builtin/busybox/etc/udhcpc/default.script), starts every
 * executable in /etc/bootfleet/start.d (services daemonize themselves), then reports init-done
 * to the controller best-effort, with the node secret from /run/bootfleet/node
 * (src/images/initramfs/README.md): a node with an unreachable controller must still boot.
 */
export const RCS = `#!/bin/sh
# bootfleet tiny root: /etc/init.d/rcS, run once by busybox init before the console shell.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# Debian's busybox has no mountpoint applet; /proc/mounts says what is mounted. /run above all
# must not be mounted over: it holds the initramfs's lease and the root's own layers.
mounted() { grep -q "^[^ ]* $1 " /proc/mounts; }
[ -r /proc/mounts ] || mount -t proc proc /proc
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mounted /dev/pts || mount -t devpts devpts /dev/pts
mounted /tmp || mount -t tmpfs -o mode=1777 tmpfs /tmp
mounted /run || mount -t tmpfs -o mode=0755 tmpfs /run
[ -s /etc/hostname ] && hostname -F /etc/hostname
ip link set lo up

# The first ethernet interface (type 1 = ARPHRD_ETHER): its MAC names this node to the controller.
iface=
for d in /sys/class/net/*; do
  [ "$(cat "$d/type" 2>/dev/null)" = 1 ] || continue
  iface=\${d##*/}
  break
done
if [ -n "$iface" ]; then
  ip link set "$iface" up
  # Normally the initramfs configured the interface; ask DHCP only if it did not.
  ip -4 addr show dev "$iface" | grep -q inet || udhcpc -i "$iface" -n -q -t 5 -s /etc/udhcpc/default.script
  # Keep the lease: udhcpc asks for the boot address again (-r) and renews it for as long as the
  # node runs. Its script (the built-in layer's) never takes the address away; a NAK and a new
  # lease replace it, and the controller is told.
  bootip=$(sed -n 's/^ip=//p' /run/bootfleet/lease 2>/dev/null)
  udhcpc -i "$iface" -b -S \${bootip:+-r "$bootip"} -s /etc/udhcpc/default.script >/dev/null 2>&1
fi

for service in /etc/bootfleet/start.d/*; do
  [ -f "$service" ] && [ -x "$service" ] || continue
  echo "bootfleet: starting \${service##*/}"
  "$service" </dev/null || echo "bootfleet: \${service##*/} failed with status $?"
done

controller=$(sed -n 's/.*bootfleet\\.controller=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
mac=
[ -n "$iface" ] && mac=$(cat "/sys/class/net/$iface/address")
# The initramfs left the node's secret here; the controller refuses events without it.
secret=$(sed -n 's/^secret=//p' /run/bootfleet/node 2>/dev/null)
if [ -n "$controller" ] && [ -n "$mac" ]; then
  timeout 10 wget -q -O- \${secret:+--header "Authorization: Bearer $secret"} --post-data "stage=init-done&detail=$(hostname)" "$controller/api/nodes/$mac/events" >/dev/null 2>&1 || true
fi
echo "BOOTFLEET: init done"
`;

/** The base web service: busybox httpd (it daemonizes) on the content the node overlay brings. */
export const HTTPD_SERVICE = `#!/bin/sh
# bootfleet tiny root: busybox httpd serves /srv/www (filled by the node overlay at boot).
mkdir -p /srv/www
exec httpd -p 80 -h /srv/www
`;

export const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
www-data:x:33:33:www-data:/srv/www:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
`;

/** Locked passwords: the console shell needs none and nothing logs in over the network. */
export const SHADOW = `root:*:0:0:99999:7:::
daemon:*:0:0:99999:7:::
www-data:*:0:0:99999:7:::
nobody:*:0:0:99999:7:::
`;

export const GROUP = `root:x:0:
daemon:x:1:
www-data:x:33:
nogroup:x:65534:
`;

export const PROFILE = `export PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PS1='\\h:\\w\\$ '
[ -r /etc/motd ] && cat /etc/motd
`;

export const HOSTS = `127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
`;
