/**
 * Helpers for the DHCP namespace tests: a server namespace with bridge br0 (198.18.0.1/24), a
 * client namespace on that bridge, optionally a third namespace on a second server interface;
 * the server and raw clients run as child processes inside the namespaces (a socket belongs to
 * the namespace of the process that creates it). Everything is removed in t.teardown. The raw
 * packet builders (clientPacket) need no namespace and serve the unit tests too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { ExecutionContext } from 'ava';
import { NetNamespace } from '../../src/lab/netns.js';
import { encodePacket, decodePacket, BootOp, BROADCAST_FLAG, type DhcpPacket } from '../../src/dhcp/packet.js';
import { Opt, MessageType, encodeIp, encodeString, encodeU8, type MessageTypeCode } from '../../src/dhcp/options.js';
import { macToBytes } from '../../src/net/addr.js';
import type { DhcpEvent, DhcpStats } from '../../src/dhcp/types.js';
import type { ServerFixtureArgs } from './fixtures/server.js';

const here = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(here, '..', '..');
const NODE = [process.execPath, '--import', 'tsx/esm'];

export interface Lab {
  server: NetNamespace;
  client: NetNamespace;
  /** Reached through the server's second interface `vo0` (198.19.0.1/24); client side `eth0` 198.19.0.2. */
  other?: NetNamespace;
}

/** Builds the namespaces; the client's interface is `eth0` with no address. */
export async function makeLab(t: ExecutionContext, opts: { other?: boolean } = {}): Promise<Lab> {
  const server = await NetNamespace.create('bfd');
  t.teardown(() => server.remove());
  const client = await NetNamespace.create('bfc');
  t.teardown(() => client.remove());
  await server.addBridge('br0', '198.18.0.1/24');
  await server.connect(client, { localDev: 'vc0', remoteDev: 'eth0', bridge: 'br0' });
  if (!opts.other) return { server, client };
  const other = await NetNamespace.create('bfo');
  t.teardown(() => other.remove());
  await server.connect(other, { localDev: 'vo0', remoteDev: 'eth0', localCidr: '198.19.0.1/24', remoteCidr: '198.19.0.2/24' });
  return { server, client, other };
}

export interface ServerHandle {
  proc: ChildProcess;
  events: DhcpEvent[];
  waitForEvent(pred: (e: DhcpEvent) => boolean, timeoutMs?: number): Promise<DhcpEvent>;
  stats(): Promise<DhcpStats>;
  stop(): Promise<void>;
}

/** Starts test/dhcp/fixtures/server.ts inside `ns` and waits for "ready". */
export async function startServer(t: ExecutionContext, ns: NetNamespace, args: ServerFixtureArgs): Promise<ServerHandle> {
  const proc = spawn('ip', ['netns', 'exec', ns.name, ...NODE, join(here, 'fixtures', 'server.ts'), JSON.stringify(args)], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  t.teardown(() => {
    if (proc.exitCode === null && proc.signalCode === null && proc.pid) process.kill(proc.pid, 'SIGKILL');
  });
  const events: DhcpEvent[] = [];
  const listeners = new Set<(line: string) => void>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    if (line.startsWith('event ')) events.push(JSON.parse(line.slice(6)) as DhcpEvent);
    for (const l of listeners) l(line);
  });
  const nextLine = (pred: (line: string) => boolean, timeoutMs: number, what: string) =>
    new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        listeners.delete(on);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      }, timeoutMs);
      const on = (line: string) => {
        if (!pred(line)) return;
        clearTimeout(timer);
        listeners.delete(on);
        resolve(line);
      };
      listeners.add(on);
    });
  const first = await nextLine((l) => l === 'ready' || l.startsWith('error '), 20_000, 'the server to start');
  if (first !== 'ready') throw new Error(`server failed to start: ${first}`);
  return {
    proc,
    events,
    async waitForEvent(pred, timeoutMs = 10_000) {
      const seen = events.find(pred);
      if (seen) return seen;
      const line = await nextLine((l) => l.startsWith('event ') && pred(JSON.parse(l.slice(6)) as DhcpEvent), timeoutMs, 'a DHCP event');
      return JSON.parse(line.slice(6)) as DhcpEvent;
    },
    async stats() {
      const reply = nextLine((l) => l.startsWith('stats '), 5_000, 'stats');
      proc.stdin!.write('stats\n');
      return JSON.parse((await reply).slice(6)) as DhcpStats;
    },
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export interface RawReply {
  from: string;
  port: number;
  packet: DhcpPacket;
}

/** Runs fixtures/client.ts in `ns`: sends `sends`, returns the replies received within listenMs. */
export async function rawClient(
  ns: NetNamespace,
  args: { interface?: string; bindPort?: number; sends: Array<{ to?: string; port?: number; data: Buffer }>; listenMs?: number; stopAfter?: number; pauseEvery?: number },
): Promise<RawReply[]> {
  const json = JSON.stringify({
    interface: args.interface ?? 'eth0',
    bindPort: args.bindPort ?? 68,
    listenMs: args.listenMs ?? 2000,
    stopAfter: args.stopAfter,
    pauseEvery: args.pauseEvery,
    sends: args.sends.map((s) => ({ to: s.to ?? '255.255.255.255', port: s.port ?? 67, data: s.data.toString('base64') })),
  });
  // The JSON goes in on stdin when large (thousands of packets exceed the argument size limit).
  const r = await execa('ip', ['netns', 'exec', ns.name, ...NODE, join(here, 'fixtures', 'client.ts'), json.length > 100_000 ? '-' : json], { cwd: ROOT, timeout: 120_000, ...(json.length > 100_000 ? { input: json } : {}) });
  const replies = JSON.parse(r.stdout) as Array<{ from: string; port: number; data: string }>;
  return replies.map((x) => ({ from: x.from, port: x.port, packet: decodePacket(Buffer.from(x.data, 'base64')) }));
}

/** A client message as a PXE ROM or plain client would send it. */
export function clientPacket(
  type: MessageTypeCode,
  mac: string,
  opts: { xid?: number; vendorClass?: string; requested?: string; serverId?: string; ciaddr?: string; broadcast?: boolean } = {},
): Buffer {
  const options = new Map<number, Buffer>([[Opt.MessageType, encodeU8(type)]]);
  if (opts.vendorClass) options.set(Opt.VendorClass, encodeString(opts.vendorClass));
  if (opts.requested) options.set(Opt.RequestedIp, encodeIp(opts.requested));
  if (opts.serverId) options.set(Opt.ServerId, encodeIp(opts.serverId));
  const chaddr = Buffer.alloc(16);
  macToBytes(mac).copy(chaddr);
  return encodePacket({
    op: BootOp.Request, htype: 1, hlen: 6, hops: 0, xid: opts.xid ?? 0x1000, secs: 0,
    flags: opts.broadcast === false ? 0 : BROADCAST_FLAG,
    ciaddr: opts.ciaddr ?? '0.0.0.0', yiaddr: '0.0.0.0', siaddr: '0.0.0.0', giaddr: '0.0.0.0',
    chaddr, sname: '', file: '', options,
  });
}

export { MessageType, Opt };

/** The message type of a reply packet (option 53). */
export function typeOf(p: DhcpPacket): number | undefined {
  return p.options.get(Opt.MessageType)?.[0];
}

/** Whether `cmd` is on PATH (interop tests skip without it). */
export async function have(cmd: string): Promise<boolean> {
  return (await execa('sh', ['-c', `command -v ${cmd}`], { reject: false })).exitCode === 0;
}
