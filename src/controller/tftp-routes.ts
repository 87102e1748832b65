import type { TftpHandler, TftpClient } from '../tftp/types.js';
import { bufferFile, type TftpFile } from '../tftp/file.js';

/** Per-node files rendered at request time: a Pi's config.txt and cmdline.txt. */
export type PiFileRenderer = (name: 'config.txt' | 'cmdline.txt', pi: { serial: string; client: TftpClient }) => Promise<string>;

export interface TftpRoutesDeps {
  /** Files at the TFTP root: iPXE binaries, the Pi 3 `bootcode.bin`. */
  rootFiles: TftpHandler;
  /** Pi firmware, kernel, dtbs and initramfs for the Pi with this prefix (its image's rpi/ files). */
  piFiles: (file: string, pi: { prefix: string; client: TftpClient }) => Promise<TftpFile | undefined>;
  renderPi: PiFileRenderer;
  /** Told which Pi (by serial or MAC prefix) is fetching what, for its boot timeline. */
  onPiRequest?: (pi: { prefix: string; client: TftpClient; file: string }) => void;
  /** Whether this client may have boot files: a Pi must be enrolled; other machines always may. */
  admit: (pi: { prefix: string; client: TftpClient }) => Promise<boolean>;
}

// Generic firmware every Pi 3 ROM needs before it asks under its serial, so it is never held
// back: without it a pending Pi 3 would never reveal its serial to be approved.
const ALWAYS_SERVED = new Set(['bootcode.bin']);

// A Pi asks for `<serial>/file` (TFTP_PREFIX=0, 8 lowercase hex digits) or `<mac>/file` with the
// MAC written dc-a6-32-01-36-c2 (TFTP_PREFIX=2); pi-netboot.md §2.
const PI_PREFIX = /^\/?([0-9a-f]{8}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5})\/(.+)$/;

export function isPiPath(path: string): boolean {
  return PI_PREFIX.test(path);
}

/**
 * The controller's TFTP namespace:
 *   <prefix>/config.txt, <prefix>/cmdline.txt  rendered for that Pi (pxe/rpi/*.hbs)
 *   <prefix>/<file>                            that Pi's image's rpi/<file> (else bootDir/rpi)
 *   <file>                                     bootDir/<file>, then bootDir/rpi/<file> (Pi 3 ROM
 *                                              asks for bootcode.bin at the root)
 * `bootsig.bin` is never served: the Pi 3 ROM asks for it and expects "not found" (§1).
 */
export function tftpRoutes(deps: TftpRoutesDeps): TftpHandler {
  return async (path, client) => {
    const pi = PI_PREFIX.exec(path);
    if (pi) {
      const [, prefix = '', file = ''] = pi;
      deps.onPiRequest?.({ prefix, client, file });
      if (!(await deps.admit({ prefix, client }))) return undefined;
      if (file === 'config.txt' || file === 'cmdline.txt') {
        return bufferFile(Buffer.from(await deps.renderPi(file, { serial: prefix, client }), 'utf8'));
      }
      return deps.piFiles(file, { prefix, client });
    }
    const name = path.replace(/^\/+/, '');
    if (name === 'bootsig.bin') return undefined;
    if (!ALWAYS_SERVED.has(name) && !(await deps.admit({ prefix: '', client }))) return undefined;
    // A Pi 3 ROM asks for bootcode.bin before it has a prefix.
    return (await deps.rootFiles(name, client)) ?? (await deps.piFiles(name, { prefix: '', client }));
  };
}
