import type { TftpHandler, TftpClient } from '../tftp/types.js';
import { bufferFile, type TftpFile } from '../tftp/file.js';
import { tftpAccess, type MachineSpec } from '../boot/policy.js';

export interface TftpRoutesDeps {
  /** The spec of the machine behind a request (`prefix`: the Pi folder it asks under), or why it gets nothing. */
  machine: (client: TftpClient, prefix: string | undefined) => MachineSpec | { refused: string };
  /** Files at the TFTP root: iPXE binaries, the Pi 3 `bootcode.bin`. */
  rootFiles: TftpHandler;
  /** A Pi's firmware, kernel, dtbs and initramfs: its image's rpi/ files (else bootDir/rpi). */
  piFiles: (spec: MachineSpec, file: string, client: TftpClient) => Promise<TftpFile | undefined>;
  /** The Pi's config.txt or cmdline.txt, rendered for it. */
  renderPi: (spec: MachineSpec, name: 'config.txt' | 'cmdline.txt', prefix: string) => Promise<string>;
  /** Told when a request is refused (for the log and the node's timeline). */
  onRefused?: (client: TftpClient, path: string, why: string) => void;
}

// A Pi asks for `<serial>/file` (TFTP_PREFIX=0, 8 lowercase hex digits) or `<mac>/file` with the
// MAC written dc-a6-32-01-36-c2 (TFTP_PREFIX=2); docs/boot-flow.md.
const PI_PREFIX = /^\/?([0-9a-f]{8}|[0-9a-f]{2}(?:-[0-9a-f]{2}){5})\/(.+)$/;

/**
 * The controller's TFTP namespace; every request is first mapped to its machine and checked
 * against that machine's spec (src/boot/policy.ts tftpAccess):
 *   <prefix>/config.txt, <prefix>/cmdline.txt  rendered for that Pi (pxe/rpi/*.hbs)
 *   <prefix>/<file>                            that Pi's image's rpi/<file> (else bootDir/rpi)
 *   <file>                                     bootDir/<file> or the store's iPXE loaders, then
 *                                              the Pi files (a Pi 3 ROM asks for bootcode.bin at the root)
 * `bootsig.bin` is never served: the Pi 3 ROM asks for it and expects "not found".
 */
export function tftpRoutes(deps: TftpRoutesDeps): TftpHandler {
  return async (path, client) => {
    const pi = PI_PREFIX.exec(path);
    const prefix = pi?.[1];
    const name = pi ? (pi[2] ?? '') : path.replace(/^\/+/, '');
    if (!pi && name === 'bootsig.bin') return undefined;
    const spec = deps.machine(client, prefix);
    if ('refused' in spec) {
      deps.onRefused?.(client, path, spec.refused);
      return undefined;
    }
    if (!tftpAccess(spec, { underPrefix: prefix !== undefined, name })) {
      deps.onRefused?.(client, path, `${spec.mac} is ${spec.admission}: ${spec.reason}`);
      return undefined;
    }
    if (prefix !== undefined) {
      if (name === 'config.txt' || name === 'cmdline.txt') return bufferFile(Buffer.from(await deps.renderPi(spec, name, prefix), 'utf8'));
      return deps.piFiles(spec, name, client);
    }
    return (await deps.rootFiles(name, client)) ?? (await deps.piFiles(spec, name, client));
  };
}
