import { execa } from 'execa';
import { BootfleetError, errorMessage } from '../errors.js';

/** Debian package of each external tool we run, for the "install it" message. */
const PACKAGE: Record<string, string> = {
  'mkfs.fat': 'dosfstools', mcopy: 'mtools', mdir: 'mtools', blockdev: 'util-linux',
};

/**
 * Runs `file args…` and returns stdout; a missing tool or a failure becomes an
 * ERR_COMMAND_FAILED naming the command, its stderr and the package to install.
 */
export async function run(file: string, args: readonly string[], env: Record<string, string> = {}): Promise<string> {
  try {
    const r = await execa(file, args, { env: { LC_ALL: 'C', ...env } });
    return String(r.stdout);
  } catch (err) {
    const e = err as { code?: string; stderr?: unknown };
    if (e.code === 'ENOENT') {
      throw new BootfleetError('ERR_COMMAND_FAILED', `${file} not found: install ${PACKAGE[file] ?? 'it'} (apt-get install ${PACKAGE[file] ?? file})`, { cause: err });
    }
    throw new BootfleetError('ERR_COMMAND_FAILED', `${file} ${args.join(' ')} failed: ${String(e.stderr ?? errorMessage(err)).trim()}`, { cause: err });
  }
}
