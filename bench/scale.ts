/**
 * Scale-out: `sudo npm run bench -- scale`. Three etcd members and two real controllers
 * (`store.kind: etcd`, both serving the same DHCP range on one LAN; src/lab/scale-lab.ts) and
 * the wire simulator (src/lab/sim-clients.ts): 1,000 PXE BIOS machines from one process, each
 * DISCOVER → OFFER → REQUEST → ACK on the wire and then a TFTP read of the whole iPXE loader
 * (undionly.kpxe, 74 KB) from its own ACKed address, at most 50 booting at once. Prints boots per
 * second (ACK and TFTP done, first DISCOVER to last transfer), then kills the leading controller
 * by PID and prints the time until the other leads (as `-- takeover`). Then the same simulated
 * machines against dnsmasq (one process: DHCP and its built-in TFTP server, `--no-ping` as our
 * server does not ping either) in a fresh lab, and the ratio of boots per second. Last line:
 * `scale_duplicate_addresses: N` (addresses ACKed to two MACs on our side; the bar is 0).
 * Env: SCALE_BENCH_COUNT (1000), SCALE_BENCH_INFLIGHT (50), SCALE_BENCH_TTL (5 s),
 * SCALE_BENCH_RETRY_MS (the simulated clients' first retransmission wait, default 1000; RFC 2131
 * says 4000), SCALE_BENCH_DNSMASQ=0 to skip the dnsmasq run.
 */
import { chmod, copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import { BIOS_LOADER, SCALE_RANGE, addSimHost, runSimulator, scaleLabOptions, startScaleLab } from '../src/lab/scale-lab.js';
import type { SimSummary } from '../src/lab/sim-fleet.js';
import { killLeaderAndTime } from '../src/lab/takeover.js';

export async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the scale benchmark makes network namespaces: run it as root');
  const count = Number(process.env['SCALE_BENCH_COUNT'] ?? 1000);
  const inflight = Number(process.env['SCALE_BENCH_INFLIGHT'] ?? 50);
  const ttl = Number(process.env['SCALE_BENCH_TTL'] ?? 5);
  const retry = process.env['SCALE_BENCH_RETRY_MS'];
  const simOpts = { count, inflight, ...(retry ? { firstTimeoutMs: Number(retry) } : {}) };

  const ours = await withLab(async (lab) => {
    const { controllers: [a, b], sim } = await startScaleLab(lab, { leaseTtlSeconds: ttl });
    const run = await runSimulator(lab, sim, simOpts);
    report('bootfleet (2 controllers, 3 etcd members)', run.summary);
    const takeover = await killLeaderAndTime(a, b);
    console.log(`takeover: ctl-a (leader) killed by PID after the run, ctl-b leads ${takeover.toFixed(2)} s later (store.leaseTtlSeconds ${ttl})`);
    return run.summary;
  });

  if (process.env['SCALE_BENCH_DNSMASQ'] !== '0') {
    const theirs = await withLab(async (lab) => {
      await startDnsmasq(lab);
      const sim = await addSimHost(lab);
      const run = await runSimulator(lab, sim, simOpts);
      report('dnsmasq (1 process, --no-ping)', run.summary);
      return run.summary;
    });
    console.log(`scale_boots_ratio_vs_dnsmasq: ${(ours.bootsPerSecond / theirs.bootsPerSecond).toFixed(2)}`);
  }
  console.log(`scale_duplicate_addresses: ${ours.duplicates}`);
}

async function withLab<T>(body: (lab: Lab) => Promise<T>): Promise<T> {
  const lab = await Lab.create(scaleLabOptions);
  try {
    return await body(lab);
  } finally {
    await lab.destroy();
  }
}

function report(who: string, s: SimSummary): void {
  console.log(`\n${who}: ${s.booted}/${s.count} booted (DHCP ACK + TFTP of the loader), ${s.failed} failed, ${s.duplicates} duplicate addresses`);
  console.log(`  ${s.seconds.toFixed(1)} s, ${s.bootsPerSecond.toFixed(1)} boots/s; per node DISCOVER→ACK p50 ${s.ackMs.p50} ms p95 ${s.ackMs.p95} ms, DISCOVER→TFTP done p50 ${s.doneMs.p50} ms p95 ${s.doneMs.p95} ms`);
  console.log(`  answered by: ${Object.entries(s.byServer).map(([k, v]) => `${k} ${v}`).join(', ')}`);
}

/** dnsmasq on br0 serving the same range and the same loader over its own TFTP server. */
async function startDnsmasq(lab: Lab): Promise<void> {
  const root = join(lab.logDir, 'tftp');
  await mkdir(root, { recursive: true });
  await copyFile(BIOS_LOADER, join(root, 'undionly.kpxe'));
  await chmod(root, 0o755);
  const dnsmasq = lab.spawn('dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=br0', '--bind-interfaces',
    '--log-facility=-', `--dhcp-leasefile=${join(lab.logDir, 'dnsmasq.leases')}`,
    `--dhcp-range=${SCALE_RANGE[0]},${SCALE_RANGE[1]},255.255.248.0,1h`, '--dhcp-lease-max=4096', '--no-ping',
    '--dhcp-boot=undionly.kpxe', '--enable-tftp', `--tftp-root=${root}`, '--tftp-max=256',
  ], { name: 'dnsmasq' });
  await dnsmasq.waitFor(/DHCP, IP range/, 10_000);
}
