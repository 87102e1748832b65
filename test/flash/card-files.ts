import { execa } from 'execa';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PARTITION_OFFSET } from '../../src/flash/card-image.js';
import { toolPath } from '../../src/flash/tools.js';

/** Reading a card back with independent tools: mtools (mdir, mtype, mcopy), fsck.fat, sfdisk. */
const env = { MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C' };
const img = (card: string): string => `${card}@@${PARTITION_OFFSET}`;

/** Long names of the files in the card's root folder, sorted (mdir -b prints ::/<name>). */
export async function cardNames(card: string): Promise<string[]> {
  const r = await execa('mdir', ['-b', '-i', img(card), '::/'], { env });
  return String(r.stdout).split('\n').map((l) => l.trim().replace(/^::\//, '')).filter(Boolean).sort();
}

export async function cardText(card: string, name: string): Promise<string> {
  return String((await execa('mtype', ['-i', img(card), `::/${name}`], { env, stripFinalNewline: false })).stdout);
}

/** Copies a file out of the card (binary-safe) to `dest`. */
export async function cardCopyOut(card: string, name: string, dest: string): Promise<string> {
  await execa('mcopy', ['-n', '-i', img(card), `::/${name}`, dest], { env });
  return dest;
}

/** `fsck.fat -n` on the partition (copied out, since fsck.fat takes no offset); throws on any error. */
export async function fsckCard(card: string, work: string): Promise<string> {
  const fh = await open(card, 'r');
  const { size } = await fh.stat();
  const part = Buffer.alloc(size - PARTITION_OFFSET);
  await fh.read(part, 0, part.length, PARTITION_OFFSET);
  await fh.close();
  const file = join(work, 'partition.img');
  await writeFile(file, part);
  return String((await execa('fsck.fat', ['-n', file], { env: { PATH: toolPath() } })).stdout);
}

export async function sfdiskDump(card: string): Promise<string> {
  return String((await execa('sfdisk', ['-d', card], { env: { PATH: toolPath() } })).stdout);
}

/** The card's partition table is one FAT32 (LBA) partition at sector 2048, and fsck.fat finds no error. */
export async function checkDisk(card: string, work: string): Promise<void> {
  const table = await sfdiskDump(card);
  if (!/label: dos/.test(table) || !/start=\s*2048, size=\s*\d+, type=c/.test(table)) throw new Error(`unexpected partition table:\n${table}`);
  await fsckCard(card, work);
}

/** What sha256sum prints for `file` (an independent check of our hashing). */
export async function sha256sum(file: string): Promise<string> {
  return String((await execa('sha256sum', [file])).stdout).split(' ')[0] ?? '';
}
