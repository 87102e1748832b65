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
 * into the new root), names the host, keeps the DHCP lease the initramfs got, starts every
 * executable in /etc/bootfleet/start.d (services daemonize themselves), then reports init-done
 * to the controller best-effort, with the node secret from /run/bootfleet/node
 * (src/images/initramfs/README.md): a node with an unreachable controller must still boot.
 */
export const RCS = `#!/bin/sh
# bootfleet tiny root: /etc/init.d/rcS, run once by busybox init before the console shell.
export PATH=/bin:/sbin:/usr/bin:/usr/sbin
# Debian's busybox-static has no mountpoint applet: look in /proc/mounts. Mounting over /run
# would hide what the initramfs moved there (the lease, the node's secret).
mounted() { grep -qs " $1 " /proc/mounts; }
mounted /proc || mount -t proc proc /proc
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
  # Keep the lease alive; the script never takes an address away from a running node.
  udhcpc -i "$iface" -b -S -s /etc/udhcpc/default.script >/dev/null 2>&1
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

/**
 * udhcpc's hook: applies a lease (address, routers, DNS). On "deconfig" it leaves the interface
 * alone: the address the node booted with stays until a lease says otherwise.
 */
export const UDHCPC_SCRIPT = `#!/bin/sh
# bootfleet tiny root: udhcpc event script
case "$1" in
  bound|renew)
    if ! ip -4 addr show dev "$interface" | grep -q "inet $ip/"; then
      ip -4 addr flush dev "$interface"
      ip addr add "$ip/\${mask:-24}" \${broadcast:+broadcast "$broadcast"} dev "$interface"
    fi
    if [ -n "$router" ]; then
      ip route del default 2>/dev/null
      for r in $router; do ip route add default via "$r" dev "$interface" && break; done
    fi
    : >/etc/resolv.conf.new
    [ -n "$domain" ] && echo "search $domain" >>/etc/resolv.conf.new
    for d in $dns; do echo "nameserver $d" >>/etc/resolv.conf.new; done
    mv /etc/resolv.conf.new /etc/resolv.conf
    ;;
esac
exit 0
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
