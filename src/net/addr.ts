/** IPv4 and MAC address helpers shared by the protocol libraries and the controller. */

const MAC_RE = /^([0-9a-f]{2})([:-]?)([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})\2([0-9a-f]{2})$/i;

/** Canonical MAC form: lowercase, colon-separated. Returns undefined for anything else. */
export function normalizeMac(text: string): string | undefined {
  const m = MAC_RE.exec(text.trim());
  if (!m) return undefined;
  return [m[1], m[3], m[4], m[5], m[6], m[7]].join(':').toLowerCase();
}

export function macFromBytes(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function macToBytes(mac: string): Buffer {
  return Buffer.from(mac.replace(/[:-]/g, ''), 'hex');
}

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

export function isIPv4(text: string): boolean {
  const m = IPV4_RE.exec(text);
  return m !== null && m.slice(1).every((p) => Number(p) <= 255);
}

export function ipToInt(ip: string): number {
  if (!isIPv4(ip)) throw new RangeError(`not an IPv4 address: ${ip}`);
  return ip.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

export function intToIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

/** The netmask of a prefix length as a 32-bit unsigned integer. */
function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function prefixToMask(prefix: number): string {
  return intToIp(maskOf(prefix));
}

/** True when `ip` lies inside `network/prefix`. */
export function inSubnet(ip: string, network: string, prefix: number): boolean {
  const mask = maskOf(prefix);
  return ((ipToInt(ip) & mask) >>> 0) === ((ipToInt(network) & mask) >>> 0);
}

/** `198.19.1.0/24` → { address: '198.19.1.0', prefix: 24 }; undefined when it is not IPv4/prefix. */
export function parseCidr(text: string): { address: string; prefix: number } | undefined {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text);
  if (!m?.[1] || !m[2] || !isIPv4(m[1]) || Number(m[2]) > 32) return undefined;
  return { address: m[1], prefix: Number(m[2]) };
}

/** The network address of `ip/prefix` (host bits cleared). */
export function networkAddress(ip: string, prefix: number): string {
  return intToIp((ipToInt(ip) & maskOf(prefix)) >>> 0);
}
