import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Argv } from 'yargs';
import { UsageError } from '../errors.js';
import { formatBytes } from '../images/progress.js';
import { netbootSettings } from '../flash/bootconf.js';
import { writeCardImage } from '../flash/card-image.js';
import { checkTarget, type BlockTarget } from '../flash/device.js';
import { readBootConf } from '../flash/eeprom.js';
import { bootcodeInputs, eepromInputs, sdAssistedInputs } from '../flash/inputs.js';
import { MODEL_INFO, MODELS, parseModel } from '../flash/models.js';
import { planCard, type CardInputs, type CardPlan } from '../flash/plan.js';
import { sigTimestamp } from '../flash/sig.js';
import { writeImageToDevice } from '../flash/write-device.js';

type Out = (s: string) => void;
const stdout: Out = (s) => process.stdout.write(s);

export interface FlashOptions {
  model?: string;
  /** Write the card image to this file. */
  out?: string;
  /** Write the card to this whole-disk block device (needs `yes`). */
  device?: string;
  yes?: boolean;
  /** Pi 4/400/CM4/5: the bootloader image and recovery.bin from raspberrypi/rpi-eeprom. */
  eeprom?: string;
  recovery?: string;
  bootOrder?: string;
  tftpIp?: string;
  tftpPrefix?: number | string;
  tftpPrefixStr?: string;
  /** SD-assisted models: `name[@version]` of a built image (arm64, pi target) and the store. */
  image?: string;
  store?: string;
  controller?: string;
  /** apt cache for raspi-firmware (default $BOOTFLEET_CACHE or ~/.cache/bootfleet). */
  cacheDir?: string;
  /** Only print the bootconf.txt embedded in this bootloader image. */
  showEepromConfig?: string;
}

export interface FlashResult {
  plan: CardPlan;
  /** Size of the card image. */
  bytes: number;
  out?: string;
  device?: { target: BlockTarget; sha256: string };
}

/** The flags of `bootfleet flash`, for src/cli.ts: `.command('flash', '…', flashYargs, (a) => flashCommand(a))`. */
export function flashYargs<T>(y: Argv<T>) {
  return y
    .option('model', { type: 'string', choices: MODELS, describe: 'the Raspberry Pi model the card is for' })
    .option('out', { type: 'string', describe: 'write the card image to this file' })
    .option('device', { type: 'string', describe: 'write the card to this whole-disk block device, e.g. /dev/sdX' })
    .option('yes', { type: 'boolean', default: false, describe: 'really overwrite --device' })
    .option('eeprom', { type: 'string', describe: 'pi4/pi400/cm4/pi5: bootloader image pieeprom-*.bin (raspberrypi/rpi-eeprom)' })
    .option('recovery', { type: 'string', describe: 'pi4/pi400/cm4/pi5: recovery.bin (raspberrypi/rpi-eeprom)' })
    .option('boot-order', { type: 'string', describe: 'BOOT_ORDER to set (default 0xf12: network, SD, restart)' })
    .option('tftp-ip', { type: 'string', describe: 'TFTP_IP: the TFTP server, overriding DHCP' })
    .option('tftp-prefix', { type: 'number', choices: [0, 1, 2], describe: 'TFTP_PREFIX: per-Pi folder by 0 serial, 1 --tftp-prefix-str, 2 MAC' })
    .option('tftp-prefix-str', { type: 'string', describe: 'TFTP_PREFIX_STR, with --tftp-prefix 1' })
    .option('image', { type: 'string', describe: 'zero2w/pi3a+: built image name[@version] whose rpi/ files go on the card' })
    .option('store', { type: 'string', describe: 'image store folder (default $BOOTFLEET_STORE or ./var/images)' })
    .option('controller', { type: 'string', describe: 'zero2w/pi3a+: controller URL for the card\'s initramfs, e.g. http://198.18.0.1:8080' })
    .option('cache-dir', { type: 'string', describe: 'apt cache for raspi-firmware' })
    .option('show-eeprom-config', { type: 'string', describe: 'print the config embedded in this bootloader image and exit' });
}

/**
 * `bootfleet flash --model <m> (--out card.img | --device /dev/sdX --yes) …`: builds the model's
 * card (docs/flash.md) and writes it to a file, or to a device after the safety checks and with
 * read-back verification. `--show-eeprom-config <pieeprom.bin>` prints an image's bootconf.txt.
 */
export async function flashCommand(opts: FlashOptions, out: Out = stdout): Promise<FlashResult | undefined> {
  if (opts.showEepromConfig !== undefined) {
    const image = await readFile(opts.showEepromConfig).catch(() => {
      throw new UsageError(`--show-eeprom-config ${opts.showEepromConfig}: no such file`);
    });
    out(readBootConf(image, opts.showEepromConfig));
    return undefined;
  }
  const model = parseModel(opts.model);
  if ((opts.out === undefined) === (opts.device === undefined)) throw new UsageError('give exactly one of --out <card.img> or --device </dev/sdX>');
  // Refuse a bad device before any download or build.
  const target = opts.device !== undefined ? await checkTarget(opts.device) : undefined;
  const plan = planCard(model, await gatherInputs(model, opts));
  const work = await mkdtemp(join(tmpdir(), 'bootfleet-flash-'));
  try {
    const file = opts.out !== undefined ? resolve(opts.out) : join(work, 'card.img');
    const bytes = await writeCardImage(file, plan.files);
    out(await describe(plan, bytes, target ? `${target.path} (${target.description}, ${formatBytes(target.bytes)})` : file));
    if (!target) {
      out(`wrote ${file}\n${notes(plan)}`);
      return { plan, bytes, out: file };
    }
    if (!opts.yes) throw new UsageError(`this overwrites the start of ${target.path}, destroying what is on it; run again with --yes to write it`);
    const written = await writeImageToDevice(file, target);
    out(`wrote ${formatBytes(written.bytes)} to ${target.path} and read it back: sha256 ${written.sha256} matches\n${notes(plan)}`);
    return { plan, bytes, device: { target, sha256: written.sha256 } };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function gatherInputs(model: ReturnType<typeof parseModel>, opts: FlashOptions): Promise<CardInputs> {
  switch (MODEL_INFO[model].kind) {
    case 'eeprom-update':
      return eepromInputs({
        model,
        ...(opts.eeprom !== undefined ? { eeprom: opts.eeprom } : {}),
        ...(opts.recovery !== undefined ? { recovery: opts.recovery } : {}),
        settings: netbootSettings(opts),
        ts: sigTimestamp(),
      });
    case 'bootcode':
      return bootcodeInputs(opts.cacheDir !== undefined ? { cacheDir: opts.cacheDir } : {});
    case 'sd-assisted':
      return sdAssistedInputs(opts);
  }
}

async function describe(plan: CardPlan, bytes: number, target: string): Promise<string> {
  const lines = [`${plan.label} (${plan.model}): ${plan.kind} card, ${formatBytes(bytes)} (MBR, one FAT32 partition) -> ${target}`];
  for (const f of plan.files) {
    const size = 'data' in f ? f.data.length : (await stat(f.path)).size;
    lines.push(`  ${f.name.padEnd(28)} ${formatBytes(size).padStart(10)}${'path' in f ? `  from ${f.path}` : ''}`);
  }
  return lines.join('\n') + '\n';
}

function notes(plan: CardPlan): string {
  return plan.notes.map((n) => `${n}\n`).join('');
}
