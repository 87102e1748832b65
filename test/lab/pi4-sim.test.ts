import test from 'ava';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { NetNamespace } from '../../src/lab/netns.js';
import { fetchDebs } from '../../src/images/apt-cache.js';
import { extractDebCached, debianKernel, debianBusybox } from '../../src/images/debs.js';
import { buildTestInitramfs } from '../../src/lab/test-initramfs.js';
import { piBootMenu } from '../../src/controller/dhcp-answer.js';
import { packageRoot } from '../../src/pkg.js';
import { requireLab, withLab } from '../helpers/lab.js';

interface SimFile { path: string; status: string; size: number; tsize: number; sha256: string }
interface SimResult { dhcp: { yiaddr: string; siaddr: string; option66: string; option43: string }; configTxt: string; cmdline: string; files: SimFile[] }

const sha256 = async (file: string) => createHash('sha256').update(await readFile(file)).digest('hex');

test('lab: a simulated Raspberry Pi 4 bootloader gets the Pi menu, its firmware over TFTP, and its own config.txt', async (t) => {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  const [firmwareDeb] = await fetchDebs({ arch: 'arm64', packages: ['raspi-firmware'] });
  const firmware = join(await extractDebCached(firmwareDeb?.path ?? ''), 'usr', 'lib', 'raspi-firmware');
  const kernel = await debianKernel('arm64');
  const initramfs = join(lab.logDir, 'initramfs8');
  await writeFile(initramfs, await buildTestInitramfs({ busybox: await debianBusybox('arm64') }));
  const dtb = join(kernel.dtbDir ?? '', 'broadcom', 'bcm2711-rpi-4-b.dtb');
  const served = {
    'rpi/start4.elf': join(firmware, 'start4.elf'),
    'rpi/fixup4.dat': join(firmware, 'fixup4.dat'),
    'rpi/kernel8.img': kernel.vmlinuz,
    'rpi/initramfs8': initramfs,
    'rpi/bcm2711-rpi-4-b.dtb': dtb,
  };
  const ctl = await startLabController(lab, { bootFiles: served });

  // The Pi: its own namespace on the lab LAN, no address until DHCP gives one.
  const pi = await NetNamespace.create('bf-pi');
  t.teardown(() => pi.remove());
  await lab.ns.connect(pi, { localDev: 'vpi', remoteDev: 'eth0', bridge: lab.bridge });
  const serial = '9ffefdef';
  const mac = 'dc:a6:32:01:02:03';
  await ctl.cli('node', 'add', '--serial', serial, '--model', 'pi4');
  const sim = lab.spawn(process.execPath, ['--import', 'tsx/esm', 'test/sim/pi4-bootloader.ts', JSON.stringify({ iface: 'eth0', mac, serial, dtb: 'bcm2711-rpi-4-b.dtb' })], {
    name: 'pi4-sim', netns: pi, cwd: packageRoot(),
  });
  await sim.waitFor(/"files":/, 180_000);
  const result = JSON.parse(sim.output().split('\n').find((l) => l.startsWith('{')) ?? '{}') as SimResult;

  t.is(result.dhcp.option43, piBootMenu(false).toString('hex'), 'option 43 is the "Raspberry Pi Boot" menu');
  t.is(result.dhcp.siaddr, lab.address);
  t.is(result.dhcp.option66, lab.address);
  t.regex(result.dhcp.yiaddr, /^198\.18\.0\.1\d\d$/);

  const byPath = (p: string) => result.files.filter((f) => f.path === `${serial}/${p}`);
  t.is(byPath('start4.elf')[0]?.status, 'probed', 'the start4.elf probe was aborted after one block');
  t.is(byPath('recover4.elf')[0]?.status, 'not-found');
  for (const [dest, source] of Object.entries(served)) {
    const got = byPath(dest.replace('rpi/', '')).at(-1);
    t.is(got?.status, 'ok', `${dest} fetched`);
    t.is(got?.sha256, await sha256(source), `${dest} is the file the controller serves`);
    t.is(got?.tsize, got?.size, `${dest}: tsize announced the real size`);
  }
  // config.txt is rendered for this Pi, not a shared file.
  t.regex(result.configTxt, new RegExp(`config.txt for Raspberry Pi ${serial}`));
  t.regex(result.configTxt, /^kernel=kernel8\.img$/m);
  t.regex(result.configTxt, /^initramfs initramfs8 followkernel$/m);
  t.regex(result.cmdline, new RegExp(`bootfleet.node=${serial}`));

  const me = await ctl.node(mac);
  t.like(me, { firmware: 'rpi', model: 'pi4', serial, status: 'admitted' });
  t.true(me?.events.some((e) => e.stage === 'tftp' && e.detail === `${serial}/config.txt`));
});

test('lab: an unknown Pi is held pending (no boot files) and listed; after node add it boots', async (t) => {
  await requireLab();
  t.timeout(240_000);
  const lab = await withLab(t);
  const [firmwareDeb] = await fetchDebs({ arch: 'arm64', packages: ['raspi-firmware'] });
  const firmware = join(await extractDebCached(firmwareDeb?.path ?? ''), 'usr', 'lib', 'raspi-firmware');
  const ctl = await startLabController(lab, { bootFiles: { 'rpi/start4.elf': join(firmware, 'start4.elf'), 'rpi/fixup4.dat': join(firmware, 'fixup4.dat') } });
  const pi = await NetNamespace.create('bf-pi');
  t.teardown(() => pi.remove());
  await lab.ns.connect(pi, { localDev: 'vpi', remoteDev: 'eth0', bridge: lab.bridge });
  const serial = '5eed0001';
  const run = async (name: string) => {
    const sim = lab.spawn(process.execPath, ['--import', 'tsx/esm', 'test/sim/pi4-bootloader.ts', JSON.stringify({ iface: 'eth0', mac: 'dc:a6:32:05:06:07', serial, dtb: 'bcm2711-rpi-4-b.dtb' })], {
      name, netns: pi, cwd: packageRoot(),
    });
    await sim.waitFor(/"files":/, 180_000);
    await pi.ip(['addr', 'flush', 'dev', 'eth0']);
    return (JSON.parse(sim.output().split('\n').find((l) => l.startsWith('{')) ?? '{}') as SimResult).files;
  };
  const before = await run('pi-pending');
  t.is(before.find((f) => f.path === `${serial}/start4.elf` && f.status !== 'probed')?.status, 'not-found', 'no firmware for a pending Pi');
  t.is(before.find((f) => f.path === `${serial}/config.txt`)?.status, 'not-found');
  const listing = await ctl.cli('node', 'list');
  t.regex(listing, new RegExp(`dc:a6:32:05:06:07 +\\S+ +rpi +\\S+ +${serial} +pending `), 'node list shows it pending');

  t.regex(await ctl.cli('node', 'add', '--serial', serial, '--model', 'pi4'), /^approved pi4 5eed0001/);
  const after = await run('pi-approved');
  t.is(after.filter((f) => f.path === `${serial}/start4.elf`).at(-1)?.status, 'ok');
  t.regex(await ctl.cli('node', 'list'), new RegExp(`${serial} +admitted `));
});
