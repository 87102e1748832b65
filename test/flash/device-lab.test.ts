import test, { type ExecutionContext } from 'ava';
import { execa } from 'execa';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { flashCommand } from '../../src/commands/flash.js';
import { PARTITION_OFFSET } from '../../src/flash/card-image.js';
import { hashPrefix } from '../../src/flash/write-device.js';
import { cardNames, cardText } from './card-files.js';
import { requireTools, syntheticEeprom } from './helpers.js';

const quiet = (): void => undefined;

/** A temp dir with a pi4 EEPROM card's inputs; removed after the test. */
async function setup(t: ExecutionContext): Promise<{ dir: string; args: { model: string; eeprom: string; recovery: string } }> {
  if (process.getuid?.() !== 0) throw new Error('device tests need root (losetup, mount): run `sudo npm test`');
  await requireTools('losetup', 'mount', 'umount', 'blockdev', 'mkfs.fat', 'mcopy', 'mdir');
  const dir = await mkdtemp(join(tmpdir(), 'bf-dev-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const eeprom = join(dir, 'pieeprom.bin');
  await writeFile(eeprom, syntheticEeprom({ soc: 2711, config: '[all]\n' }));
  await writeFile(join(dir, 'recovery.bin'), 'recovery');
  return { dir, args: { model: 'pi4', eeprom, recovery: join(dir, 'recovery.bin') } };
}

/** A loop device over a new `mib` MiB file; detached in teardown (after any unmount registered later runs first). */
async function loopDevice(t: ExecutionContext, dir: string, mib: number, partscan = false): Promise<string> {
  const file = join(dir, 'disk.raw');
  const fh = await open(file, 'w');
  await fh.truncate(mib * 1024 * 1024);
  await fh.close();
  const dev = String((await execa('losetup', ['-f', '--show', ...(partscan ? ['-P'] : []), file])).stdout).trim();
  t.teardown(async () => {
    await execa('losetup', ['-d', dev], { reject: false });
  });
  return dev;
}

test('writing to a loop device: refused without --yes, then written and verified by reading back', async (t) => {
  const { dir, args } = await setup(t);
  const dev = await loopDevice(t, dir, 80);
  let said = '';
  await t.throwsAsync(flashCommand({ ...args, device: dev }, (s) => (said += s)), { message: new RegExp(`overwrites the start of ${dev}.*--yes`) });
  t.regex(said, new RegExp(`eeprom-update card, 64\\.0 MiB .*-> ${dev} \\(loop device on ${dir}/disk\\.raw`));
  t.regex(said, /pieeprom\.upd/);
  t.is(await hashPrefix(dev, 1024 * 1024), await hashPrefix('/dev/zero', 1024 * 1024), 'nothing written without --yes');

  said = '';
  const r = await flashCommand({ ...args, device: dev, yes: true }, (s) => (said += s));
  t.regex(said, /read it back: sha256 [0-9a-f]{64} matches/);
  t.is(await hashPrefix(dev, r?.bytes ?? 0), r?.device?.sha256 ?? 'no sha256');
  // Independent read-back: mtools straight from the device.
  t.deepEqual(await cardNames(dev), ['pieeprom.sig', 'pieeprom.upd', 'recovery.bin']);
  t.is(await cardText(dev, 'recovery.bin'), 'recovery');
});

test('a device with a mounted partition is refused, and left untouched', async (t) => {
  const { dir, args } = await setup(t);
  const dev = await loopDevice(t, dir, 80, true);
  await flashCommand({ ...args, device: dev, yes: true }, quiet);
  await execa('partx', ['-u', dev], { reject: false });
  await execa('udevadm', ['settle'], { reject: false });
  const mnt = join(dir, 'mnt');
  await mkdir(mnt);
  const part = `${dev}p1`;
  await mountReadOnly(t, part, dir, mnt);
  t.teardown(async () => {
    await execa('umount', [mnt], { reject: false });
  });
  const before = await hashPrefix(dev, PARTITION_OFFSET + 1024 * 1024);
  await t.throwsAsync(flashCommand({ ...args, device: dev, yes: true, tftpIp: '198.18.0.9' }, quiet),
    { message: new RegExp(`refusing to write ${dev}: ${part} is mounted on ${mnt}`) });
  t.is(await hashPrefix(dev, PARTITION_OFFSET + 1024 * 1024), before);
  await t.throwsAsync(flashCommand({ ...args, device: part, yes: true }, quiet), { message: new RegExp(`${part}: it is a partition; give the whole disk, /dev/${dev.slice(5)}`) });
});

/**
 * Mounts the card's FAT partition read-only; on a kernel without vfat (some CI/container
 * kernels), puts a squashfs into that partition and mounts it instead: the refusal under test
 * does not depend on the filesystem.
 */
async function mountReadOnly(t: ExecutionContext, part: string, dir: string, mnt: string): Promise<void> {
  const fat = await execa('mount', ['-o', 'ro', part, mnt], { reject: false });
  if (fat.exitCode === 0) return;
  if (!/unknown filesystem type/.test(String(fat.stderr))) throw new Error(`mount ${part}: ${String(fat.stderr)}`);
  t.log('this kernel has no vfat; mounting a squashfs in the partition instead');
  await requireTools('mksquashfs');
  const content = join(dir, 'content');
  await mkdir(content);
  await writeFile(join(content, 'hello'), 'hi');
  await execa('mksquashfs', [content, join(dir, 'p1.sqfs'), '-quiet', '-noappend']);
  const data = await readFile(join(dir, 'p1.sqfs'));
  const fh = await open(part, 'r+');
  await fh.write(data, 0, data.length, 0);
  await fh.sync();
  await fh.close();
  await execa('mount', ['-t', 'squashfs', '-o', 'ro', part, mnt]);
}

test('a regular file or a missing path given as --device is refused before anything is built', async (t) => {
  const { dir, args } = await setup(t);
  const file = join(dir, 'not-a-disk.img');
  await writeFile(file, Buffer.alloc(1024));
  await t.throwsAsync(flashCommand({ ...args, device: file, yes: true }, quiet), { message: /it is not a block device \(to write a card image file use --out\)/ });
  await t.throwsAsync(flashCommand({ ...args, device: join(dir, 'nope'), yes: true }, quiet), { message: /no such device/ });
});
