import dgram from 'node:dgram';
import net from 'node:net';
import { readFile, readlink } from 'node:fs/promises';
import { resolve } from 'node:path';
import { execa } from 'execa';
import { openInterfaceSocket } from '../dhcp/socket.js';
import { errorMessage } from '../errors.js';
import { isControllerOf, type PortFact } from './checks.js';

/**
 * What `bootfleet doctor` finds on the machine (the I/O half; checks.ts decides). Port checks
 * bind the port the way the controller would and close it at once; when it is taken, `ss`
 * names the holder, and /proc tells whether that is the controller of this config (or a child of
 * it, such as its HAProxy).
 */

/** Linux capability bits (linux/capability.h). */
const CAP_BITS: Record<string, number> = { CAP_NET_BIND_SERVICE: 10, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13 };

/** The effective capabilities of this process among those the controller needs. */
export async function effectiveCaps(): Promise<string[]> {
  const status = await readFile('/proc/self/status', 'utf8').catch(() => '');
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex) return [];
  const bits = BigInt(`0x${hex}`);
  return Object.entries(CAP_BITS).filter(([, bit]) => (bits >> BigInt(bit)) & 1n).map(([name]) => name);
}

export type PortSpec = { what: string; proto: 'udp' | 'tcp'; port: number } & ({ device: string } | { address: string });

/** Tries the port as the controller binds it: DHCP ports on the interface, the others on an address. */
export async function probePort(spec: PortSpec, configFile: string): Promise<PortFact> {
  const code = await tryBind(spec);
  if (code === undefined) return { what: spec.what, result: { kind: 'free' } };
  if (code === 'EACCES' || code === 'EPERM') return { what: spec.what, result: { kind: 'denied' } };
  if (code !== 'EADDRINUSE') return { what: spec.what, result: { kind: 'error', message: code } };
  const holder = await portHolder(spec.proto, spec.port, configFile);
  return { what: spec.what, result: { kind: 'in-use', ...(holder ? { holder } : {}) } };
}

/** undefined when the bind worked (and was undone), else the error code. */
async function tryBind(spec: PortSpec): Promise<string | undefined> {
  try {
    if ('device' in spec) {
      const s = await openInterfaceSocket(spec.device, spec.port);
      await new Promise<void>((r) => s.close(() => r()));
      return undefined;
    }
    if (spec.proto === 'udp') {
      const s = dgram.createSocket('udp4');
      await new Promise<void>((res, rej) => {
        s.once('error', rej);
        s.bind(spec.port, spec.address, () => res());
      });
      await new Promise<void>((r) => s.close(() => r()));
      return undefined;
    }
    const server = net.createServer();
    await new Promise<void>((res, rej) => {
      server.once('error', rej);
      server.listen(spec.port, spec.address, () => res());
    });
    await new Promise<void>((r) => server.close(() => r()));
    return undefined;
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    return cause?.code ?? (err as { code?: string }).code ?? errorMessage(err);
  }
}

/** The process listening on the port (`ss -lnp`), and whether it is this config's controller or its child. */
async function portHolder(proto: 'udp' | 'tcp', port: number, configFile: string): Promise<{ pid: number; command: string; ours: boolean } | undefined> {
  const r = await execa('ss', ['-H', '-l', '-n', '-p', proto === 'udp' ? '-u' : '-t', `sport = :${port}`], { reject: false });
  const pid = Number(/pid=(\d+)/.exec(String(r.stdout))?.[1]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  const command = (await argvOf(pid)).join(' ').slice(0, 120);
  let ours = false;
  // The listener itself, or up to three parents: HAProxy's worker → its master → the controller.
  for (let p: number | undefined = pid, depth = 0; p !== undefined && p > 1 && depth < 4 && !ours; p = await parentOf(p), depth++) {
    const cwd = await readlink(`/proc/${p}/cwd`).catch(() => '/');
    ours = isControllerOf(await argvOf(p), cwd, configFile, resolve);
  }
  return { pid, command, ours };
}

async function argvOf(pid: number): Promise<string[]> {
  return (await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).split('\0').filter((s) => s !== '');
}

async function parentOf(pid: number): Promise<number | undefined> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const ppid = Number(/^PPid:\s*(\d+)$/m.exec(status)?.[1]);
  return Number.isInteger(ppid) ? ppid : undefined;
}

/** Whether a command is on the PATH (with the sbin folders, where Debian puts haproxy and nft). */
export async function hasCommand(command: string): Promise<boolean> {
  const PATH = `${process.env['PATH'] ?? ''}:/usr/local/sbin:/usr/sbin:/sbin`;
  const r = await execa('sh', ['-c', `command -v "$0"`, command], { reject: false, env: { PATH } });
  return r.exitCode === 0;
}
