import test from 'ava';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NodeRegistry } from '../../src/cluster/nodes.js';
import { ImageCatalog } from '../../src/controller/images.js';
import { writeManifest, type Manifest } from '../../src/images/store.js';
import { silentLogger } from '../../src/log.js';

const MAC = '52:54:00:bf:00:03';

/** A store holding tiny-web for amd64 and arm64 (manifests only: the catalog reads nothing else). */
async function store(t: import('ava').ExecutionContext): Promise<{ dir: string; nodes: NodeRegistry; catalog: ImageCatalog }> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-catalog-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  for (const [version, arch] of [['aaaaaaaaaaaa', 'amd64'], ['bbbbbbbbbbbb', 'arm64']] as const) {
    const manifest: Manifest = {
      name: 'tiny-web', version, arch, recipeHash: 'r', buildTime: '2026-01-01T00:00:00.000Z', kernelVersion: 'k',
      files: { 'root.squashfs': { sha256: version, size: 1 } },
    };
    await mkdir(join(dir, 'store', 'tiny-web', `${version}-${arch}`), { recursive: true });
    await writeManifest(join(dir, 'store', 'tiny-web', `${version}-${arch}`), manifest);
  }
  const nodes = await NodeRegistry.open(join(dir, 'state'));
  // Teardowns run last-registered first: write the registry before its folder is removed.
  t.teardown(() => nodes.flush());
  return { dir, nodes, catalog: new ImageCatalog(join(dir, 'store'), new Map(), 'tiny-web', nodes, silentLogger()) };
}

test('bootedImage: the overlay describes the build the node was handed at boot-info (arm64 by ?arch=), not the amd64 guess', async (t) => {
  const { catalog, nodes } = await store(t);
  // A node that never PXE-booted through us: its firmware is unknown, so the arch guess is amd64.
  t.is((await catalog.imageFor(MAC))?.version, 'aaaaaaaaaaaa-amd64');
  t.is((await catalog.imageFor(MAC, 'arm64'))?.version, 'bbbbbbbbbbbb-arm64');
  nodes.see(MAC, { image: 'tiny-web@bbbbbbbbbbbb-arm64' }); // what GET /api/boot records
  const booted = await catalog.bootedImage(MAC);
  t.is(booted?.name, 'tiny-web');
  t.is(booted?.version, 'bbbbbbbbbbbb-arm64');
});

test('bootedImage: without a recorded boot, or when that build is gone, it is what imageFor picks', async (t) => {
  const { catalog, nodes } = await store(t);
  t.is((await catalog.bootedImage(MAC))?.version, 'aaaaaaaaaaaa-amd64');
  nodes.see(MAC, { image: 'tiny-web@cccccccccccc-arm64' });
  t.is((await catalog.bootedImage(MAC))?.version, 'aaaaaaaaaaaa-amd64');
});
