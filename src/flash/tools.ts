import { execa } from 'execa';
import { BootfleetError, errorMessage } from '../errors.js';

/** Debian package of each external tool we run, for the "install it" message. */
const PACKAGE: Record<string, string> = {
  'mkfs.fat': 'dosfstools', mcopy: 'mtools', mdir: 'mtools', blockdev: 'util-linux',
};

/**
 * PATH for our tools: mkfs.fat and blockdev live in /usr/sbin, which is not on an ordinary user's
 * PATH on Debian, yet building a card image needs no root.
 */
export function toolPath(): string {
  return [process.env['PATH'], '/usr/sbin', '/sbin'].filter(Boolean).join(':');
}

/**
 * Runs `file args…` (found on {@link toolPath}) and returns stdout; a missing tool or a failure becomes an
 * ERR_COMMAND_FAILED naming the command, its stderr and the package to install.
 */
export async function run(file: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const r = await execa(file, args, { env: { LC_ALL: 'C', PATH: toolPath(), ...env } });
    return String(r.stdout);
  } catch (err) {
    const e = err as { code?: string; stderr?: unknown };
    if (e.code === 'ENOENT') {
      throw new BootfleetError('ERR_COMMAND_FAILED', `${file} not found: install ${PACKAGE[file] ?? 'it'} (apt-get install ${PACKAGE[file] ?? file})`, { cause: err });
    }
    throw new BootfleetError('ERR_COMMAND_FAILED', `${file} ${args.join(' ')} failed: ${String(e.stderr ?? errorMessage(err)).trim()}`, { cause: err });
  }
}
