import { UsageError } from '../errors.js';
import { MODEL_INFO, type CardKind, type PiModel } from './models.js';

/**
 * Card plans: which files a model's card carries, and the text of the ones we generate. Pure;
 * the inputs (a rewritten EEPROM image, paths of supplied or cached files, the listing of an
 * image's rpi/ folder) are gathered by src/flash/inputs.ts.
 */

/** A file on the card's FAT partition (root folder): copied from `path` or written from `data`. */
export type CardFile = { name: string; path: string } | { name: string; data: Uint8Array };

export interface CardPlan {
  model: PiModel;
  label: string;
  kind: CardKind;
  files: CardFile[];
  /** What the user must know or do (printed after the card is written). */
  notes: string[];
}

export type CardInputs =
  | { kind: 'eeprom-update'; recovery: string; pieeprom: Uint8Array; sig: string; bootConf: string }
  | { kind: 'bootcode'; bootcode: string }
  | { kind: 'sd-assisted'; rpiDir: string; rpiFiles: readonly string[]; controller: string; image: string };

/** OTP step for a Pi 3B without a card (docs/raspberry-pi.md §1 "Enabling"); also in docs/flash.md. */
export const PI3_OTP_NOTE = [
  'Pi 3B: this card makes it netboot as it is. To netboot with no card at all, set OTP bit 17 once:',
  '  boot Raspberry Pi OS with `program_usb_boot_mode=1` in config.txt, reboot, then',
  '  `vcgencmd otp_dump | grep 17:` must print `17:3020000a`. The bit is permanent; remove the',
  '  line afterwards. Without the card the 3B boot ROM\'s known bugs apply (docs/raspberry-pi.md §1).',
];

/** The card for `model` from `inputs`; throws if the inputs are for another card kind or lack a file. */
export function planCard(model: PiModel, inputs: CardInputs): CardPlan {
  const info = MODEL_INFO[model];
  if (inputs.kind !== info.kind) throw new UsageError(`--model ${model} needs a ${info.kind} card, not ${inputs.kind}`);
  const base = { model, label: info.label, kind: info.kind };
  switch (inputs.kind) {
    case 'eeprom-update':
      // §4 "Updating from SD": recovery.bin flashes pieeprom.upd (checked against pieeprom.sig), then renames itself recovery.000.
      return {
        ...base,
        files: [
          { name: 'recovery.bin', path: inputs.recovery },
          { name: 'pieeprom.upd', data: inputs.pieeprom },
          { name: 'pieeprom.sig', data: new TextEncoder().encode(inputs.sig) },
        ],
        notes: [
          `Put the card in the ${info.label} and power it on: the green LED blinks steadily once the EEPROM is updated (the card then holds recovery.000).`,
          'Power off, remove the card and connect Ethernet: the Pi now netboots from the controller.',
          `Bootloader config written:\n${indent(inputs.bootConf)}`,
        ],
      };
    case 'bootcode':
      return {
        ...base,
        files: [{ name: 'bootcode.bin', path: inputs.bootcode }],
        notes: [
          `Leave the card in the ${info.label}: its bootcode.bin (Debian raspi-firmware) replaces the boot ROM's network code and fetches everything else over TFTP (docs/raspberry-pi.md §1).`,
          ...(model === 'pi3' ? PI3_OTP_NOTE : []),
          ...(model === 'pi2' ? ['Pi 2B: only the v1.2 (BCM2837) board netboots this way; older 2Bs netboot only from such a card (§0, §7).'] : []),
        ],
      };
    case 'sd-assisted':
      return { ...base, files: sdAssistedFiles(model, inputs), notes: sdAssistedNotes(info.label, controllerUrl(inputs.controller)) };
  }
}

/** Firmware the 3-family boot ROM and bootcode.bin load from the card (§5 "Files to serve: Pi 3"). */
export const SD_FIRMWARE = ['bootcode.bin', 'start.elf', 'fixup.dat'] as const;

function sdAssistedFiles(model: PiModel, inputs: Extract<CardInputs, { kind: 'sd-assisted' }>): CardFile[] {
  const dtbs = MODEL_INFO[model].dtbs ?? [];
  const wanted = [...SD_FIRMWARE, 'kernel8.img', 'initramfs8', ...dtbs];
  const have = new Set(inputs.rpiFiles);
  const missing = wanted.filter((f) => !have.has(f));
  if (missing.length > 0) {
    throw new UsageError(`image ${inputs.image} has no ${missing.join(', ')} in ${inputs.rpiDir}: build it with the pi target for arm64 (targets: [pc, pi] in its recipe)`);
  }
  const controller = controllerUrl(inputs.controller);
  const enc = new TextEncoder();
  return [
    ...wanted.map((name) => ({ name, path: `${inputs.rpiDir}/${name}` })),
    { name: 'config.txt', data: enc.encode(sdConfigTxt(model, controller)) },
    { name: 'cmdline.txt', data: enc.encode(sdCmdline(controller)) },
  ];
}

/** config.txt of an SD-assisted card (§5): 64-bit kernel8.img, initramfs8 after it, the model's device tree. */
export function sdConfigTxt(model: PiModel, controller: string): string {
  const info = MODEL_INFO[model];
  return [
    `# bootfleet: SD-assisted netboot card for the ${info.label}; the initramfs fetches its root from ${controller}`,
    '[all]',
    'arm_64bit=1',
    'enable_uart=1',
    '# Debian\'s kernel carries mainline device trees (bcm2837-*).',
    'upstream_kernel=1',
    'kernel=kernel8.img',
    'initramfs initramfs8 followkernel',
    ...(info.dtbs?.[0] ? [`device_tree=${info.dtbs[0]}`] : []),
    '',
  ].join('\n');
}

/** cmdline.txt (one line, §5): the controller the initramfs asks for its boot info (initramfs README). */
export function sdCmdline(controller: string): string {
  return `console=serial0,115200 console=tty1 bootfleet.controller=${controller}\n`;
}

/**
 * `--controller` as the initramfs takes it: http(s)://host[:port][/path], no credentials, query,
 * fragment, spaces, quotes or backslashes; no trailing slash (the initramfs appends /api/…).
 */
export function controllerUrl(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new UsageError(`--controller ${s}: give the controller's URL, e.g. http://198.18.0.1:8080`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--controller ${s}: use http:// or https://`);
  if (u.username || u.password || u.search || u.hash || /[\s"'\\]/.test(s)) {
    throw new UsageError(`--controller ${s}: no credentials, query, fragment, spaces, quotes or backslashes (it goes on the kernel command line)`);
  }
  return `${u.origin}${u.pathname}`.replace(/\/+$/, '');
}

function sdAssistedNotes(label: string, controller: string): string[] {
  return [
    `Leave the card in the ${label}. It has no wired Ethernet (docs/raspberry-pi.md §7): connect a USB Ethernet adapter (SMSC95xx/LAN78xx drivers are in the initramfs).`,
    `The card's initramfs fetches the root squashfs and node overlay from ${controller}, exactly like a netbooted node.`,
  ];
}

function indent(text: string): string {
  return text.trimEnd().split('\n').map((l) => `  ${l}`).join('\n');
}
