/**
 * PXE boot time, ours vs dnsmasq (default and tuned), side by side: `npm run bench -- pxe` (as root).
 *
 * Each run makes a fresh lab (namespace, bridge, one QEMU node with its iPXE NIC ROM, TCG) and
 * times QEMU start → the initramfs marker on the serial console. Contenders, all serving the
 * same kernel and initramfs:
 * - "bootfleet": `bootfleet controller` in full mode.
 * - "dnsmasq": a default dnsmasq (DHCP only, the boot filename pointing at an iPXE script) plus
 *   busybox httpd serving the files.
 * - "dnsmasq-levers": the same given the controller's two levers (docs/boot-flow.md "Boot speed"):
 *   option 175 sub-option 176 (`no-pxedhcp` = 1) forced into its answers to iPXE, and a
 *   router-lifetime-0 RA answering the node's router solicitation, sent by our own responder
 *   (bench/pxe-ra-responder.ts) because dnsmasq cannot send a prefix-less RA.
 * - "dnsmasq-tuned": the levers plus `--no-ping`, which drops dnsmasq's 3 s ICMP check of each
 *   new address (our server does not make it), so this is dnsmasq at its fastest.
 * Runs alternate. Prints medians (also of the time until iPXE starts the kernel, where the
 * servers differ), then `pxe_ratio_vs_dnsmasq: X` and, last, `pxe_ratio_vs_dnsmasq_tuned: X`
 * (ours / theirs, whole boot). Env: PXE_BENCH_RUNS (default 5: Linux's own boot under TCG
 * varies by seconds with the machine's load).
 */
import { writeFile, mkdir, copyFile, chmod, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Lab } from '../src/lab/lab.js';
import type { QemuNode } from '../src/lab/qemu.js';
import { startLabController } from '../src/lab/lab-controller.js';
import { buildTestInitramfs, INITRAMFS_MARKER } from '../src/lab/test-initramfs.js';
import { debianKernel, debianBusybox } from '../src/images/debs.js';
import { packageRoot } from '../src/pkg.js';

const CMDLINE = 'console=ttyS0 panic=-1 quiet';
const marker = new RegExp(INITRAMFS_MARKER);

interface Files { kernel: string; initrd: string }
type Setup = (lab: Lab, files: Files) => Promise<void>;

const contenders: { name: string; setup: Setup }[] = [
  { name: 'bootfleet', setup: bootWithBootfleet },
  { name: 'dnsmasq', setup: (lab, files) => bootWithDnsmasq(lab, files, { levers: false, noPing: false }) },
  { name: 'dnsmasq-levers', setup: (lab, files) => bootWithDnsmasq(lab, files, { levers: true, noPing: false }) },
  { name: 'dnsmasq-tuned', setup: (lab, files) => bootWithDnsmasq(lab, files, { levers: true, noPing: true }) },
];

export async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('the PXE benchmark makes namespaces and taps: run it as root');
  const runs = Number(process.env['PXE_BENCH_RUNS'] ?? 5);
  const kernel = await debianKernel('amd64');
  const initrdBytes = await buildTestInitramfs({ busybox: await debianBusybox('amd64') });
  const results = new Map(contenders.map((c) => [c.name, [] as Timing[]]));
  for (let i = 0; i < runs; i++) {
    for (const c of contenders) results.get(c.name)?.push(await timed(c.name, kernel.vmlinuz, initrdBytes, c.setup));
  }
  const medianOf = (name: string, key: keyof Timing): number => median((results.get(name) ?? []).map((r) => r[key]));
  console.log(`\nQEMU (TCG) iPXE ROM → initramfs marker, ${runs} alternating runs each, kernel ${kernel.version}`);
  console.log('(to_kernel: until iPXE has the initrd and starts the kernel; the rest is Linux booting, the same for all)');
  console.log('server          median_s  to_kernel_s  runs_s');
  for (const c of contenders) {
    const runsText = (results.get(c.name) ?? []).map((r) => r.total.toFixed(2)).join(' ');
    console.log(`${c.name.padEnd(14)} ${medianOf(c.name, 'total').toFixed(2).padStart(9)}  ${medianOf(c.name, 'toKernel').toFixed(2).padStart(11)}  ${runsText}`);
  }
  const ours = medianOf('bootfleet', 'total');
  console.log(`pxe_ratio_vs_dnsmasq: ${(ours / medianOf('dnsmasq', 'total')).toFixed(2)}`);
  console.log(`pxe_ratio_vs_dnsmasq_tuned: ${(ours / medianOf('dnsmasq-tuned', 'total')).toFixed(2)}`);
}

/** Seconds from QEMU start to the initramfs marker, and to iPXE's "initrd.img... ok" (NaN if not seen). */
interface Timing { total: number; toKernel: number }

/**
 * iPXE's "initrd.img... ok" (both set-ups load the kernel, then initrd.img, then boot), up to the
 * "o": the kernel resets the serial port so quickly that the "k" is sometimes lost.
 */
const INITRD_LOADED = /initrd\.img\.\.\.[\s\d%.]*o/;

async function timed(name: string, vmlinuz: string, initrd: Buffer, setup: Setup): Promise<Timing> {
  const lab = await Lab.create();
  let passed = false;
  try {
    const files = { kernel: vmlinuz, initrd: join(lab.logDir, 'initrd.img') };
    await writeFile(files.initrd, initrd);
    await setup(lab, files);
    const started = performance.now();
    const node = await lab.addNode({ arch: 'x86_64' });
    const booted = node.waitFor(marker, 180_000);
    const toKernel = await firstSeen(node, INITRD_LOADED, started, booted);
    await booted;
    const total = (performance.now() - started) / 1000;
    console.log(`${name}: ${total.toFixed(2)} s (kernel started after ${toKernel.toFixed(2)} s)`);
    passed = true;
    return { total, toKernel };
  } finally {
    await lab.destroy();
    if (passed) await rm(lab.logDir, { recursive: true, force: true });
    else console.error(`${name}: logs kept in ${lab.logDir}`);
  }
}

/**
 * Seconds after `started` at which `pattern` shows on the console, polled every 20 ms; NaN if
 * `until` settles first. Matched on the text without line breaks and terminal escapes, because
 * SeaBIOS's serial console wraps lines at 80 columns wherever iPXE's progress output left the
 * cursor, so a break can fall anywhere in a line.
 */
async function firstSeen(node: QemuNode, pattern: RegExp, started: number, until: Promise<unknown>): Promise<number> {
  let settled = false;
  until.then(() => (settled = true), () => (settled = true));
  // eslint-disable-next-line no-control-regex -- removing terminal escapes and breaks is the point
  const flat = (): string => node.output().replace(/\x1b\[[0-9;?]*[A-Za-z]|\x1bc|[\r\n\b]/g, '');
  while (!settled) {
    if (pattern.test(flat())) return (performance.now() - started) / 1000;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return NaN;
}

async function bootWithBootfleet(lab: Lab, files: Files): Promise<void> {
  await startLabController(lab, {
    bootFiles: { vmlinuz: files.kernel, 'initrd.img': files.initrd },
    config: { boot: { default: { kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline: CMDLINE } } },
  });
}

interface DnsmasqTuning {
  /** 175.176 forced in answers to iPXE (user class "iPXE", as the controller matches it) and a lifetime-0 RA. */
  levers: boolean;
  /** `--no-ping`: offer a new address at once instead of pinging it for 3 s first. */
  noPing: boolean;
}

/** dnsmasq as people set it up for iPXE: a range and a boot filename; files on a web server. */
async function bootWithDnsmasq(lab: Lab, files: Files, tuning: DnsmasqTuning): Promise<void> {
  const www = join(lab.logDir, 'www');
  await mkdir(www, { recursive: true });
  await copyFile(files.kernel, join(www, 'vmlinuz'));
  await copyFile(files.initrd, join(www, 'initrd.img'));
  const base = `http://${lab.address}:8080`;
  await writeFile(join(www, 'boot.ipxe'), `#!ipxe\nkernel ${base}/vmlinuz ${CMDLINE}\ninitrd ${base}/initrd.img\nboot\n`);
  await chmod(www, 0o755);
  lab.spawn('busybox', ['httpd', '-f', '-p', `${lab.address}:8080`, '-h', www], { name: 'httpd' });
  const levers = tuning.levers ? ['--dhcp-userclass=set:ipxe,iPXE', '--dhcp-option-force=tag:ipxe,encap:175,176,1b'] : [];
  if (tuning.noPing) levers.push('--no-ping');
  const dnsmasq = lab.spawn('dnsmasq', [
    '--no-daemon', '--conf-file=/dev/null', '--port=0', '--user=root', '--interface=br0', '--bind-interfaces',
    `--dhcp-leasefile=${join(lab.logDir, 'dnsmasq.leases')}`, '--dhcp-range=198.18.0.100,198.18.0.199,255.255.255.0,1h',
    `--dhcp-boot=${base}/boot.ipxe`, '--log-dhcp', ...levers,
  ], { name: 'dnsmasq' });
  await dnsmasq.waitFor(/DHCP, IP range/, 10_000);
  if (tuning.levers) {
    const root = packageRoot();
    const ra = lab.spawn(process.execPath, ['--import', 'tsx/esm', join(root, 'bench', 'pxe-ra-responder.ts'), lab.bridge], { name: 'ra', cwd: root });
    await ra.waitFor(/^ready$/m, 30_000);
  }
}

/** Median of the numbers that are not NaN (NaN if none). */
function median(values: number[]): number {
  const s = values.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}
