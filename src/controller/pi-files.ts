import type { Templates } from '../render/templates.js';
import type { PiBoot } from '../config.js';

/** Renders a Pi's config.txt or cmdline.txt (pxe/rpi/*.hbs) for the Pi with this serial. */
export function renderPiFile(templates: Templates, name: 'config.txt' | 'cmdline.txt', ctx: { serial: string; httpBase: string; boot: PiBoot }): Promise<string> {
  return templates.render(`rpi/${name}.hbs`, {
    serial: ctx.serial,
    model: 'raspberry-pi',
    controllerUrl: ctx.httpBase,
    kernel: ctx.boot.kernel,
    initramfs: ctx.boot.initramfs,
    deviceTree: ctx.boot.deviceTree,
    cmdline: ctx.boot.cmdline,
  });
}
