import test from 'ava';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startLabController } from '../../src/lab/lab-controller.js';
import { NetNamespace } from '../../src/lab/netns.js';
import { requireLab, withLab } from '../helpers/lab.js';

/** A udhcpc run in `ns` that quits once bound; returns the address it was given. */
async function lease(ns: NetNamespace, dir: string): Promise<string> {
  const script = join(dir, `udhcpc-${ns.name}.sh`);
  const log = join(dir, `udhcpc-${ns.name}.log`);
  await writeFile(script, '#!/bin/sh\n[ "$1" = bound ] && echo "$ip" >> "$UDHCPC_LOG"\nexit 0\n');
  await chmod(script, 0o755);
  await ns.exec('udhcpc', ['-i', 'eth0', '-f', '-q', '-n', '-t', '5', '-T', '1', '-s', script], { env: { UDHCPC_LOG: log }, timeout: 30_000 });
  return (await readFile(log, 'utf8')).trim().split('\n').at(-1) ?? '';
}

test('lab: leases survive a controller restart, and the controller answers DHCP on its interface only', async (t) => {
  await requireLab();
  t.timeout(120_000);
  const lab = await withLab(t);
  const client = await NetNamespace.create('bf-cli');
  t.teardown(() => client.remove());
  await lab.ns.connect(client, { localDev: 'vcli', remoteDev: 'eth0', bridge: lab.bridge });
  // A second interface on the controller's host that is NOT controller.interface: a client
  // there must get nothing, or a real deployment would hand out addresses on the wrong network.
  const stranger = await NetNamespace.create('bf-str');
  t.teardown(() => stranger.remove());
  await lab.ns.connect(stranger, { localDev: 'vstr', remoteDev: 'eth0', localCidr: '198.19.0.1/24' });

  const dir = join(lab.logDir, 'ctl');
  const first = await startLabController(lab, { dir });
  const ip = await lease(client, lab.logDir);
  t.regex(ip, /^198\.18\.0\.1\d\d$/);
  await t.throwsAsync(lease(stranger, lab.logDir), undefined, 'no answer on the other interface');

  await first.stop();
  const leases = JSON.parse(await readFile(join(first.stateDir, 'leases.json'), 'utf8')) as { leases: Array<{ ip: string; state: string }> };
  t.true(leases.leases.some((l) => l.ip === ip && l.state === 'bound'), 'leases.json holds the bound lease after stop');

  await startLabController(lab, { dir, name: 'controller-2' });
  t.is(await lease(client, lab.logDir), ip, 'the same client gets the same address after the restart');
});
