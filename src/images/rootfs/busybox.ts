import { createHash } from 'node:crypto';
import { chmod, copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { busyboxApplets } from './applets.js';
import { GROUP, HOSTS, HTTPD_SERVICE, INITTAB, PASSWD, PROFILE, RCS, SHADOW } from './busybox-files.js';

/** Bump when the tree below changes so cached base roots of older layouts are not reused. */
export const BUSYBOX_ROOT_FORMAT = 3;

/**
 * Lays out a minimal root in the empty directory `dir` from a static busybox binary: every applet
 * as a link in /bin (/sbin, /usr/bin and /usr/sbin link there, so any path a script expects
 * works), /etc for busybox init (inittab → rcS → start.d services → console shell), users, and
 * the base httpd service. udhcpc's script comes with the built-in layer (src/images/layers.ts). Owners do not matter here: mksquashfs makes every file root's.
 */
export async function buildBusyboxRoot(dir: string, busybox: string): Promise<void> {
  const dirs: Array<[string, number]> = [
    ['bin', 0o755], ['dev', 0o755], ['etc/bootfleet/start.d', 0o755], ['etc/init.d', 0o755], ['etc/udhcpc', 0o755],
    ['home', 0o755], ['mnt', 0o755], ['proc', 0o555], ['root', 0o700], ['run', 0o755], ['srv/www', 0o755],
    ['sys', 0o555], ['tmp', 0o1777], ['usr/share', 0o755], ['var/log', 0o755], ['var/spool', 0o755], ['var/tmp', 0o1777],
  ];
  for (const [d, mode] of dirs) {
    await mkdir(join(dir, d), { recursive: true });
    await chmod(join(dir, d), mode);
  }
  await copyFile(busybox, join(dir, 'bin/busybox'));
  await chmod(join(dir, 'bin/busybox'), 0o755);
  for (const applet of await busyboxApplets(busybox)) {
    if (applet !== 'busybox') await symlink('busybox', join(dir, 'bin', applet));
  }
  for (const [link, target] of [['sbin', 'bin'], ['usr/bin', '../bin'], ['usr/sbin', '../bin'], ['init', 'bin/busybox'], ['var/run', '../run']]) {
    await symlink(target as string, join(dir, link as string));
  }
  for (const [path, text, mode] of LAYOUT_FILES) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), text);
    await chmod(join(dir, path), mode);
  }
}

/** sha256 of every text file the layout writes, with its path and mode: part of the base cache key. */
export function busyboxLayoutHash(): string {
  const h = createHash('sha256');
  for (const [path, text, mode] of LAYOUT_FILES) h.update(`${path}\0${mode}\0${text}\0`);
  return h.digest('hex');
}

const LAYOUT_FILES: ReadonlyArray<readonly [string, string, number]> = [
  ['etc/inittab', INITTAB, 0o644],
  ['etc/init.d/rcS', RCS, 0o755],
  ['etc/bootfleet/start.d/10-httpd', HTTPD_SERVICE, 0o755],
  ['etc/passwd', PASSWD, 0o644],
  ['etc/shadow', SHADOW, 0o600],
  ['etc/group', GROUP, 0o644],
  ['etc/profile', PROFILE, 0o644],
  ['etc/hosts', HOSTS, 0o644],
  ['etc/hostname', 'bootfleet\n', 0o644],
  ['etc/resolv.conf', '', 0o644],
  ['etc/shells', '/bin/sh\n/bin/ash\n', 0o644],
  ['srv/www/index.html', '<!doctype html><title>bootfleet</title><p>No site assigned to this node yet.</p>\n', 0o644],
];

