/**
 * One hostname rule for every place a node's name enters: the config (`nodes[].hostname`,
 * `dhcp.reservations[].hostname`), `bootfleet node add --hostname`, and the boot info the
 * initramfs writes to /etc/hostname. A hostname is one DNS label (RFC 1123 §2.1: letters, digits
 * and hyphens, 1 to 63 characters, not starting or ending with a hyphen), lower case.
 */
export const HOSTNAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const HOSTNAME_RULE = 'must be a DNS label: 1-63 lower-case letters, digits and "-", not starting or ending with "-" (e.g. web1)';

export function isHostname(name: string): boolean {
  return HOSTNAME.test(name);
}

/** The name a node gets when nobody named it: `node-` and its MAC's hex digits. */
export function defaultHostname(mac: string): string {
  return `node-${mac.replaceAll(':', '')}`;
}
