import { UsageError } from '../errors.js';
import type { Soc } from './eeprom.js';

/**
 * What each Pi model needs on a card to end up netbooting from the controller
 * (docs/raspberry-pi.md §0 model matrix, §1, §2/§3, §7). Pure data.
 */
export type CardKind =
  /** Pi 4/400/CM4/5: recovery.bin + pieeprom.upd + pieeprom.sig set BOOT_ORDER in the EEPROM (§4 "Updating from SD"). */
  | 'eeprom-update'
  /** Pi 2/3B/3B+: only bootcode.bin, which replaces the ROM's network boot code (§1 "Enabling"). */
  | 'bootcode'
  /** No wired Ethernet (§7): firmware, kernel, dtb and initramfs on the card; the root comes over HTTP. */
  | 'sd-assisted';

export const MODELS = ['pi2', 'pi3', 'pi3b+', 'pi3a+', 'zero2w', 'pi4', 'pi400', 'cm4', 'pi5'] as const;
export type PiModel = (typeof MODELS)[number];

export interface ModelInfo {
  label: string;
  kind: CardKind;
  /** eeprom-update: the SoC the bootloader image must be for (§4: 512 KiB 2711, 2 MiB 2712). */
  soc?: Soc;
  /**
   * sd-assisted: device trees to copy from the image's rpi/ folder; the first is named in
   * config.txt (`device_tree=`). Debian ships upstream (bcm2837-*) names; the image build also
   * writes the downstream bcm2710-* aliases (§0 "DTB naming").
   */
  dtbs?: readonly string[];
}

export const MODEL_INFO: Readonly<Record<PiModel, ModelInfo>> = {
  pi2: { label: 'Raspberry Pi 2B v1.2', kind: 'bootcode' },
  pi3: { label: 'Raspberry Pi 3B', kind: 'bootcode' },
  'pi3b+': { label: 'Raspberry Pi 3B+', kind: 'bootcode' },
  'pi3a+': { label: 'Raspberry Pi 3A+', kind: 'sd-assisted', dtbs: ['bcm2837-rpi-3-a-plus.dtb', 'bcm2710-rpi-3-a-plus.dtb'] },
  zero2w: { label: 'Raspberry Pi Zero 2 W', kind: 'sd-assisted', dtbs: ['bcm2837-rpi-zero-2-w.dtb', 'bcm2710-rpi-zero-2-w.dtb'] },
  pi4: { label: 'Raspberry Pi 4B', kind: 'eeprom-update', soc: 2711 },
  pi400: { label: 'Raspberry Pi 400', kind: 'eeprom-update', soc: 2711 },
  cm4: { label: 'Raspberry Pi Compute Module 4', kind: 'eeprom-update', soc: 2711 },
  pi5: { label: 'Raspberry Pi 5', kind: 'eeprom-update', soc: 2712 },
};

/** The model for a `--model` value; throws naming the accepted ones. */
export function parseModel(s: string | undefined): PiModel {
  const m = MODELS.find((x) => x === s?.toLowerCase());
  if (!m) throw new UsageError(`--model ${s ?? '(missing)'}: use one of ${MODELS.join(', ')}`);
  return m;
}
