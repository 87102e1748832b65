import { execa } from 'execa';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FILE_MAGIC, IMAGE_SIZES, MAGIC, PAD_MAGIC, type Soc } from '../../src/flash/eeprom.js';
import { toolPath } from '../../src/flash/tools.js';

/**
 * Synthetic Pi bootloader images built from the section layout docs/flash.md describes (the one
 * `rpi-eeprom-config` reads), independent of src/flash/eeprom.ts but for its constants:
 *
 *   0        bootcode section (magic 0x55aaf00f), then a pad section up to 64 KiB
 *   64 KiB   a code section (0x55aaf44f), then pad up to `filesAt`
 *   filesAt  pubkey.bin (264 bytes), pad to the next 4 KiB
 *   …        bootconf.txt holding `config`
 *   then     `after`: 'end' (bootconf.txt is the last section; 0xff follows),
 *            'sig' (a pad section, then bootconf.sig at `sigAt`, default the next 4 KiB boundary)
 */
export interface SyntheticOptions {
  soc: Soc;
  config: string;
  after?: 'end' | 'sig';
  sigAt?: number;
  /** Put bootconf.txt below 64 KiB (outside the first-partition window) instead. */
  bootconfInReadOnly?: boolean;
  /** Leave bootconf.txt out. */
  noBootconf?: boolean;
}

export function syntheticEeprom(o: SyntheticOptions): Buffer {
  const img = Buffer.alloc(IMAGE_SIZES[o.soc], 0xff);
  let at = 0;
  at = section(img, at, MAGIC, Buffer.alloc(3000, 0xaa));
  const files: [string, Buffer][] = [['pubkey.bin', Buffer.alloc(264, 0x11)]];
  if (o.bootconfInReadOnly) {
    at = file(img, at, 'bootconf.txt', Buffer.from(o.config));
    pad(img, at, 64 * 1024);
  } else {
    pad(img, at, 64 * 1024);
  }
  at = section(img, 64 * 1024, 0x55aaf44f, Buffer.alloc(50_000, 0xcc));
  const filesAt = 128 * 1024;
  pad(img, at, filesAt);
  at = file(img, filesAt, files[0]![0], files[0]![1]);
  const confAt = next4k(at);
  pad(img, at, confAt);
  if (o.noBootconf || o.bootconfInReadOnly) return img;
  at = file(img, confAt, 'bootconf.txt', Buffer.from(o.config));
  if (o.after === 'sig') {
    const sigAt = o.sigAt ?? next4k(at);
    pad(img, at, sigAt);
    file(img, sigAt, 'bootconf.sig', Buffer.alloc(1024, 0x22));
  }
  return img;
}

export const next4k = (n: number): number => Math.ceil(n / 4096) * 4096;
const align8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Writes a section (magic, length, body) at `at`; returns where the next one starts. */
function section(img: Buffer, at: number, magic: number, body: Buffer): number {
  img.writeUInt32BE(magic, at);
  img.writeUInt32BE(body.length, at + 4);
  body.copy(img, at + 8);
  return align8(at + 8 + body.length);
}

/** A file section: 12-byte NUL-padded name, 4 unread bytes, data; length = data + 16. */
function file(img: Buffer, at: number, name: string, data: Buffer): number {
  const body = Buffer.alloc(16 + data.length, 0);
  body.write(name, 0, 'latin1');
  data.copy(body, 16);
  return section(img, at, FILE_MAGIC, body);
}

/** A pad section filling [at, to) with 0xff, if there is room for its header. */
function pad(img: Buffer, at: number, to: number): void {
  if (to - at < 8) return;
  img.writeUInt32BE(PAD_MAGIC, at);
  img.writeUInt32BE(to - at - 8, at + 4);
  img.fill(0xff, at + 8, to);
}

/** Fails (never skips) when a tool the test relies on is missing (looked up as src/flash/tools.ts runs them). */
export async function requireTools(...tools: string[]): Promise<void> {
  const script = tools.map((t) => `command -v ${t} >/dev/null || echo ${t}`).join('; ');
  const r = await execa('sh', ['-c', script], { reject: false, env: { PATH: toolPath() } });
  const missing = String(r.stdout).trim();
  if (missing) throw new Error(`missing ${missing.split('\n').join(', ')}: apt-get install mtools dosfstools fdisk util-linux (scripts/setup-debian.sh)`);
}

/** A temp dir for one card test (removed after it), once the tools that read cards back are there. */
export async function cardWorkDir(t: { teardown: (f: () => Promise<void>) => void }): Promise<string> {
  await requireTools('mkfs.fat', 'mcopy', 'mdir', 'mtype', 'fsck.fat', 'sfdisk', 'sha256sum');
  const dir = await mkdtemp(join(tmpdir(), 'bf-card-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}
