/**
 * The wire simulator: ONE process speaking for many netbooting machines, on a real LAN (a lab
 * namespace's eth0), through real DHCP and TFTP. Each simulated node has its own MAC
 * (52:54:00:cc:xx:xx, src/lab/dhcp-sim.ts simMac), gets an address by DHCP as a PXE BIOS ROM does
 * (src/lab/sim-dhcp-client.ts) and reads the boot file it was given over TFTP from the server the
 * ACK named, from a socket bound to its ACKed address (src/lab/sim-tftp-client.ts): the
 * controller maps a TFTP request to its machine by that source address. The namespace must own
 * the whole DHCP range for that (an AnyIP route, `ip route add local <range> dev lo`, as
 * src/lab/scale-lab.ts sets up): one route instead of an `ip addr add` per node, which cost the
 * simulator more CPU than the rest of a boot. At most `inflight` nodes boot at
 * once; the next starts when one finishes. The program around it: src/lab/sim-clients.ts.
 */
import { openInterfaceSocket } from '../dhcp/socket.js';
import { errorMessage } from '../errors.js';
import { simMac, duplicateAddresses } from './dhcp-sim.js';
import { DhcpClients, type RetryPolicy } from './sim-dhcp-client.js';
import { tftpFetch } from './sim-tftp-client.js';

/** One simulated node's boot; times are ms since the run started. */
export type NodeBoot =
  | { mac: string; ip: string; server: string; file: string; bytes: number; startMs: number; ackMs: number; doneMs: number; discovers: number; naks: number; tftpRequests: number }
  | { mac: string; failed: string; ip?: string; server?: string };

export interface SimSummary {
  count: number;
  booted: number;
  failed: number;
  /** Addresses ACKed to more than one MAC (each extra holder once). */
  duplicates: number;
  /** MACs per answering controller (option 54 of the ACK). */
  byServer: Record<string, number>;
  /** First DISCOVER to the last TFTP transfer done. */
  seconds: number;
  bootsPerSecond: number;
  /** DISCOVER→ACK and DISCOVER→TFTP done, per node: median and 95th percentile, ms. */
  ackMs: { p50: number; p95: number };
  doneMs: { p50: number; p95: number };
}

export interface SimOptions {
  iface: string;
  count: number;
  inflight: number;
  /** First MAC index (simMac), so two runs can use different MACs. */
  first?: number;
  retry?: RetryPolicy;
  onNode?: (n: NodeBoot) => void | Promise<void>;
}

/**
 * Shortened from RFC 2131 §4.1's 4 s first wait (a simulation of 1,000 boots must not spend
 * minutes on one lost packet); doubling per resend as the RFC says.
 */
export const DEFAULT_RETRY: RetryPolicy = { firstTimeoutMs: 1000, tries: 4, rounds: 12 };
const TFTP_RETRY = { timeoutMs: 1000, tries: 5 };

export async function simulateWire(opts: SimOptions): Promise<{ nodes: NodeBoot[]; summary: SimSummary }> {
  const socket = await openInterfaceSocket(opts.iface, 68);
  const dhcp = new DhcpClients(socket);
  const retry = opts.retry ?? DEFAULT_RETRY;
  const t0 = performance.now();
  const since = (): number => Math.round(performance.now() - t0);
  const nodes: NodeBoot[] = [];
  const boot = async (i: number): Promise<NodeBoot> => {
    const mac = simMac((opts.first ?? 0) + i);
    const startMs = since();
    const got = await dhcp.acquire(mac, retry);
    if ('failed' in got) return { mac, failed: `DHCP: ${got.failed}` };
    const ackMs = since();
    if (!got.file) return { mac, failed: 'the ACK names no boot file', ip: got.ip, server: got.server };
    let lastError = '';
    for (let attempt = 1; attempt <= 5; attempt++) {
      try {
        const t = await tftpFetch(got.ip, got.tftpServer, got.file, TFTP_RETRY);
        return { mac, ip: got.ip, server: got.server, file: got.file, bytes: t.bytes, startMs, ackMs, doneMs: since(), discovers: got.discovers, naks: got.naks, tftpRequests: t.requests + attempt - 1 };
      } catch (err) {
        lastError = errorMessage(err);
        await new Promise((r) => setTimeout(r, 500 * attempt)); // "Server busy" and losses: back off, ask again
      }
    }
    return { mac, failed: `TFTP: ${lastError}`, ip: got.ip, server: got.server };
  };
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.count) {
      const n = await boot(next++);
      nodes.push(n);
      await opts.onNode?.(n);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(opts.inflight, opts.count) }, worker));
  } finally {
    socket.close();
  }
  return { nodes, summary: summarize(nodes, opts.count) };
}

export function summarize(nodes: readonly NodeBoot[], count: number): SimSummary {
  const ok = nodes.flatMap((n) => ('failed' in n ? [] : [n]));
  const byServer: Record<string, number> = {};
  for (const n of ok) byServer[n.server] = (byServer[n.server] ?? 0) + 1;
  const seconds = ok.length === 0 ? 0 : (Math.max(...ok.map((n) => n.doneMs)) - Math.min(...ok.map((n) => n.startMs))) / 1000;
  return {
    count,
    booted: ok.length,
    failed: count - ok.length,
    duplicates: duplicateAddresses(ok.map((n) => n.ip)),
    byServer,
    seconds,
    bootsPerSecond: seconds > 0 ? ok.length / seconds : 0,
    ackMs: spread(ok.map((n) => n.ackMs - n.startMs)),
    doneMs: spread(ok.map((n) => n.doneMs - n.startMs)),
  };
}

function spread(values: number[]): { p50: number; p95: number } {
  const s = [...values].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p95: at(0.95) };
}
