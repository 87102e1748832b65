import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { BootfleetError, UsageError } from '../errors.js';
import type { Logger } from '../log.js';
import { defaultCacheDir, fetchDebs } from '../images/apt-cache.js';
import { defaultStore } from '../images/build.js';
import { extractDebCached } from '../images/debs.js';
import { parseRef, readManifest } from '../images/store.js';
import { rewriteBootConf, type NetbootSettings } from './bootconf.js';
import { imageSoc, readBootConf, writeBootConf } from './eeprom.js';
import { MODEL_INFO, type PiModel } from './models.js';
import type { CardInputs } from './plan.js';
import { eepromSig } from './sig.js';

/**
 * Gathers what a card plan needs (src/flash/plan.ts) from files, the apt cache and the image
 * store. The only I/O around the pure plan and EEPROM code.
 */

/**
 * Pi 4/400/CM4/5: reads the user's bootloader image, checks it is for the model's SoC, rewrites
 * its bootconf.txt with `settings` (keeping the user's other keys) and signs the result
 * (docs/raspberry-pi.md §4).
 */
export async function eepromInputs(opts: { model: PiModel; eeprom?: string; recovery?: string; settings: NetbootSettings; ts: number }): Promise<Extract<CardInputs, { kind: 'eeprom-update' }>> {
  const info = MODEL_INFO[opts.model];
  const soc = info.soc ?? 2711;
  const where = soc === 2711 ? 'firmware-2711/' : 'firmware-2712/';
  if (!opts.eeprom) throw new UsageError(`--model ${opts.model} needs --eeprom <pieeprom-*.bin>: a bootloader image from raspberrypi/rpi-eeprom ${where} (Debian does not package it)`);
  if (!opts.recovery) throw new UsageError(`--model ${opts.model} needs --recovery <recovery.bin>: the one from raspberrypi/rpi-eeprom ${where}`);
  const image = await readInput(opts.eeprom, '--eeprom');
  const got = imageSoc(image, `--eeprom ${opts.eeprom}`);
  if (got !== soc) {
    throw new UsageError(`--eeprom ${opts.eeprom} is a BCM${got} (${got === 2711 ? 'Pi 4/400/CM4' : 'Pi 5'}) image, but the ${info.label} needs a BCM${soc} one from rpi-eeprom ${where}`);
  }
  const recovery = await readInput(opts.recovery, '--recovery');
  if (recovery.length === image.length && recovery.equals(image)) throw new UsageError(`--recovery ${opts.recovery} is the bootloader image itself; give recovery.bin`);
  const old = readBootConf(image, `--eeprom ${opts.eeprom}`);
  const bootConf = rewriteBootConf(old, opts.settings);
  const pieeprom = writeBootConf(image, bootConf, `--eeprom ${opts.eeprom}`);
  return { kind: 'eeprom-update', recovery: opts.recovery, pieeprom, sig: eepromSig(pieeprom, { ts: opts.ts, targetSoc: soc }), bootConf };
}

/** Pi 2/3: Debian's bootcode.bin (raspi-firmware, non-free-firmware) from the apt cache. */
export async function bootcodeInputs(opts: { cacheDir?: string; log?: Logger } = {}): Promise<Extract<CardInputs, { kind: 'bootcode' }>> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const [deb] = await fetchDebs({ arch: 'arm64', packages: ['raspi-firmware'], cacheDir, ...(opts.log ? { log: opts.log } : {}) });
  if (!deb) throw new BootfleetError('ERR_COMMAND_FAILED', 'raspi-firmware did not resolve (it is in the non-free-firmware component)');
  const bootcode = join(await extractDebCached(deb.path, cacheDir), 'usr', 'lib', 'raspi-firmware', 'bootcode.bin');
  await readInput(bootcode, 'raspi-firmware');
  return { kind: 'bootcode', bootcode };
}

/** SD-assisted: the rpi/ folder of the newest (or the named) arm64 build of `image` in the store. */
export async function sdAssistedInputs(opts: { image?: string; store?: string; controller?: string }): Promise<Extract<CardInputs, { kind: 'sd-assisted' }>> {
  if (!opts.image) throw new UsageError('this model needs --image <name[@version]>: a built image with the pi target, e.g. --image tiny-web');
  if (!opts.controller) throw new UsageError('this model needs --controller <url>: where the card\'s initramfs fetches its root, e.g. http://198.18.0.1:8080');
  const { name, version } = parseRef(opts.image);
  const store = opts.store ?? defaultStore();
  const found = await readManifest(store, name, version, 'arm64');
  const rpiDir = join(found.dir, 'rpi');
  const rpiFiles = await readdir(rpiDir).catch(() => [] as string[]);
  return { kind: 'sd-assisted', rpiDir, rpiFiles, controller: opts.controller, image: `${name}@${found.id}` };
}

async function readInput(path: string, flag: string): Promise<Buffer> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) throw new UsageError(`${flag} ${path}: no such file`);
  if (st.size === 0) throw new UsageError(`${flag} ${path} is empty`);
  return readFile(path);
}
