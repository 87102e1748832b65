import { readFile } from 'node:fs/promises';
import { BootfleetError } from '../../errors.js';

/** Applets the tiny root cannot do without (init, its rcS, the web service, the boot report). */
const REQUIRED = ['init', 'sh', 'mount', 'httpd', 'wget', 'udhcpc', 'ip', 'hostname', 'switch_root'];

/**
 * The applet names compiled into a busybox binary, read from its sorted, NUL-separated name
 * table ("[\0[[\0acpid\0…") instead of running `busybox --list`: an arm64 binary cannot run on
 * an amd64 build host without an emulator, and reading the table gives both arches one code path.
 */
export async function busyboxApplets(binary: string): Promise<string[]> {
  const bytes = await readFile(binary);
  const start = bytes.indexOf(Buffer.from('[\0[[\0', 'latin1'));
  if (start < 0) throw new BootfleetError('ERR_COMMAND_FAILED', `${binary}: no applet table found; is it busybox?`);
  const names: string[] = [];
  for (let at = start; ;) {
    const end = bytes.indexOf(0, at);
    const name = bytes.subarray(at, end).toString('latin1');
    // The table is sorted; the first empty or out-of-order string is past its end.
    if (end < 0 || name === '' || !/^[\w.[-]+$/.test(name) || (names.length > 0 && name < (names.at(-1) ?? ''))) break;
    names.push(name);
    at = end + 1;
  }
  const missing = REQUIRED.filter((a) => !names.includes(a));
  if (missing.length > 0) throw new BootfleetError('ERR_COMMAND_FAILED', `${binary}: busybox lacks applets ${missing.join(', ')}`);
  return names;
}
