import { mkdtemp, writeFile, mkdir, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { AddressInfo } from 'node:net';
import { createApp, type AppDeps } from '../../src/http/app.js';
import { NodeRegistry } from '../../src/cluster/nodes.js';
import { Templates } from '../../src/render/templates.js';
import { silentLogger } from '../../src/log.js';

/**
 * The real HTTP app on an ephemeral loopback port, with a temp boot dir holding `vmlinuz`,
 * `initrd.img` and a symlink `escape` pointing outside it. `over` replaces any dependency.
 */
export async function withApp(over: Partial<AppDeps> = {}): Promise<{ base: string; deps: AppDeps; close: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-http-'));
  const bootDir = join(dir, 'boot');
  await mkdir(bootDir);
  await writeFile(join(bootDir, 'vmlinuz'), Buffer.alloc(10000, 7));
  await writeFile(join(bootDir, 'initrd.img'), 'initrd');
  await writeFile(join(dir, 'secret'), 'outside');
  await symlink(join(dir, 'secret'), join(bootDir, 'escape'));
  const deps: AppDeps = {
    log: silentLogger(),
    nodes: await NodeRegistry.open(join(dir, 'state')),
    templates: new Templates(resolve('pxe')),
    bootDir,
    httpBase: 'http://198.18.0.1:8080',
    bootTargetFor: () => ({ kernel: 'vmlinuz', initrd: ['initrd.img'], cmdline: 'console=ttyS0' }),
    health: () => ({ dhcp: true, tftp: true, http: true }),
    imageFor: async () => undefined,
    enrolled: async () => [],
    imageDir: () => undefined,
    hostnameFor: (mac) => `node-${mac.replaceAll(':', '')}`,
    nodeOverlay: async () => Buffer.alloc(0),
    ...over,
  };
  const server = createApp(deps).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as AddressInfo;
  return { base: `http://127.0.0.1:${port}`, deps, close: () => new Promise((r) => server.close(() => r())) };
}
