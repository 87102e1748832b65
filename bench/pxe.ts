/**
 * PXE boot time, ours vs dnsmasq, side by side: `npm run bench -- pxe` (as root).
 *
 * Each run makes a fresh lab (namespace, bridge, one QEMU node with its iPXE NIC ROM, TCG) and
 * times QEMU start → the initramfs marker on the serial console. "ours": `bootfleet controller`
 * in full mode. "dnsmasq": a default dnsmasq (DHCP only, the boot filename pointing at the same
 * iPXE script) plus busybox httpd serving the same files, so the only difference is how the
 * DHCP side treats iPXE (the IPv6 RA and option 175.176 levers in DESIGN.md "Boot speed").
 * Runs alternate. Prints medians and, last, `pxe_ratio_vs_dnsmasq: X` (ours / dnsmasq).
 * Env: PXE_BENCH_RUNS (default 3).
 */
import { writeFile, mkdir, copyFile, chmod } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import { startLabController } from '../src/lab/lab-controller.js';
import { buildTestInitramfs, INITRAMFS_MARKER } from '../src/lab/test-initramfs.js';
import { debianKernel, debianBusybox } from '../src/images/debs.js';

const CMDLINE = 'console=ttyS0 panic=-1 quiet';
const marker = new RegExp(INITRAMFS_MARKER);

interface Files { kernel: string; initrd: string }

export async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the PXE benchmark makes namespaces and taps: run it as root');
  const runs = Number(process.env['PXE_BENCH_RUNS'] ?? 3);
  const kernel = await debianKernel('amd64');
  const initrdBytes = await buildTestInitramfs({ busybox: await debianBusybox('amd64') });
  const times = { bootfleet: [] as number[], dnsmasq: [] as number[] };
  for (let i = 0; i < runs; i++) {
    times.bootfleet.push(await timed('bootfleet', kernel.vmlinuz, initrdBytes, bootWithBootfleet));
    times.dnsmasq.push(await timed('dnsmasq', kernel.vmlinuz, initrdBytes, bootWithDnsmasq));
  }
  const ours = median(times.bootfleet);
  const theirs = median(times.dnsmasq);
  console.log(`\nQEMU (TCG) iPXE ROM → initramfs marker, ${runs} alternating runs each, kernel ${kernel.version}`);
  console.log('server      median_s  runs_s');
  console.log(`bootfleet   ${ours.toFixed(2).padStart(8)}  ${times.bootfleet.map((t) => t.toFixed(2)).join(' ')}`);
  console.log(`dnsmasq     ${theirs.toFixed(2).padStart(8)}  ${times.dnsmasq.map((t) => t.toFixed(2)).join(' ')}`);
  console.log(`pxe_ratio_vs_dnsmasq: ${(ours / theirs).toFixed(2)}`);
}

type Setup = (lab: Lab, files: Files) => Promise<void>;

async function timed(name: string, vmlinuz: string, initrd: Buffer, setup: Setup): Promise<number> {
  const lab = await Lab.create();
  try {
    const files = { kernel: vmlinuz, initrd: join(lab.logDir, 'initrd.img') };
    await writeFile(files.initrd, initrd);
    await setup(lab, files);
    const started = performance.now();
    const node = await lab.addNode({ arch: 'x86_64' });
    await node.waitFor(marker, 180_000);
    const seconds = (performance.now() - started) / 1000;
    console.log(`${name}: ${seconds.toFixed(2)} s`);
    return seconds;
  } finally {
    await lab.destroy();
  }
}

async function bootWithBootfleet(lab: Lab, files: Files): Promise<void> {
  await startLabController(lab, {
    bootFiles: { vmlinuz: files.kernel, 'initrd.img': files.initrd },
    config: { boot: { default: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline: CMDLINE } } },
  });
}

/** dnsmasq as people set it up for iPXE: a range and a boot filename; files on a web server. */
async function bootWithDnsmasq(lab: Lab, files: Files): Promise<void> {
  const www = join(lab.logDir, 'www');
  await mkdir(www, { recursive: true });
  await copyFile(files.kernel, join(www, 'vmlinuz'));
  await copyFile(files.initrd, join(www, 'initrd.img'));
  const base = `http://${lab.address}:8080`;
  await writeFile(join(www, 'boot.ipxe'), `#!ipxe\nkernel ${base}/vmlinuz ${CMDLINE}\ninitrd ${base}/initrd.img\nboot\n`);
  await chmod(www, 0o755);
  lab.spawn('busybox', ['httpd', '-f', '-p', `${lab.address}:8080`, '-h', www], { name: 'httpd' });
  const dnsmasq = lab.spawn('dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=br0', '--bind-interfaces',
    `--dhcp-leasefile=${join(lab.logDir, 'dnsmasq.leases')}`, '--dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,1h',
    `--dhcp-boot=${base}/boot.ipxe`, '--log-dhcp',
  ], { name: 'dnsmasq' });
  await dnsmasq.waitFor(/DHCP, IP range/, 10_000);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}
