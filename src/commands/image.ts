import { join, resolve } from 'node:path';
import { readJsonFile } from '../store/atomic.js';
import { buildImage, defaultStore, type BuildResult } from '../images/build.js';
import { formatBytes, formatStage, type Stage, type StageReport } from '../images/progress.js';
import { LiveLine, buildStatus } from './live-line.js';
import { bootSetBytes, layerPath, listImages, parseRef, readManifest, removeImage, type StoredImage } from '../images/store.js';
import { UsageError } from '../errors.js';

type Out = (s: string) => void;
const stdout: Out = (s) => process.stdout.write(s);

/** `bootfleet image build <recipe> [--arch a] [--store dir]`: one progress line per stage, then the stored refs. */
export async function imageBuildCommand(opts: { recipe: string; arch?: string; store?: string; freshBase?: boolean }, out: Out = stdout, live = new LiveLine(process.stdout, out === stdout ? undefined : false)): Promise<BuildResult> {
  if (opts.arch !== undefined && opts.arch !== 'amd64' && opts.arch !== 'arm64') throw new UsageError(`--arch ${opts.arch}: use amd64 or arm64`);
  // On a terminal a status line shows the running stage and its time; the stage lines are the same either way.
  let running: { stage: string; arch: string; since: number } | undefined;
  let done = 0;
  const redraw = (): void => {
    if (running) live.update(buildStatus(running.stage, running.arch, (Date.now() - running.since) / 1000, done));
  };
  const ticker = live.enabled ? setInterval(redraw, 1000) : undefined;
  const progress = Object.assign((r: StageReport) => {
    done += 1;
    running = undefined;
    if (live.enabled) live.print(formatStage(r));
    else out(formatStage(r) + '\n');
  }, {
    start: (stage: Stage, arch: string) => {
      running = { stage, arch, since: Date.now() };
      redraw();
    },
  });
  let result: BuildResult;
  try {
    result = await buildImage({
      recipe: opts.recipe,
      ...(opts.arch ? { arch: opts.arch } : {}),
      ...(opts.store ? { store: opts.store } : {}),
      ...(opts.freshBase ? { freshBase: true } : {}),
      progress,
    });
  } finally {
    if (ticker) clearInterval(ticker);
    live.done();
  }
  for (const b of result.builds) {
    const size = bootSetBytes(b.manifest);
    out(`built ${result.recipe.name}@${b.id} (${formatBytes(size)}) in ${b.dir}\n`);
  }
  return result;
}

/** `bootfleet image list [--json]`: every boot set in the store, newest build first per name. */
export async function imageListCommand(opts: { store?: string; json: boolean }, out: Out = stdout): Promise<void> {
  const images = await listImages(storeOf(opts.store));
  if (opts.json) {
    out(JSON.stringify({ images: images.map((i) => ({ ref: `${i.manifest.name}@${i.id}`, ...i.manifest, files: undefined, size: sizeOf(i) })) }, null, 2) + '\n');
    return;
  }
  if (images.length === 0) {
    out(`no images in ${storeOf(opts.store)}; build one with: bootfleet image build images/tiny-web.yaml\n`);
    return;
  }
  const rows = images.map((i) => [`${i.manifest.name}@${i.id}`, i.manifest.arch, i.manifest.kernelVersion, formatBytes(sizeOf(i)), i.manifest.buildTime.replace('T', ' ').slice(0, 19)]);
  const header = ['IMAGE', 'ARCH', 'KERNEL', 'SIZE', 'BUILT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd() + '\n';
  out(line(header) + rows.map(line).join(''));
}

/** `bootfleet image inspect <name[@version]>`: the manifest as JSON (layers with their files), plus where it lives. */
export async function imageInspectCommand(opts: { ref: string; store?: string }, out: Out = stdout): Promise<StoredImage> {
  const { name, version } = parseRef(opts.ref);
  const image = await readManifest(storeOf(opts.store), name, version);
  const layers = image.manifest.layers?.map((l) => ({ ...l, file: layerPath(storeOf(opts.store), l) }));
  out(JSON.stringify({ ref: `${name}@${image.id}`, dir: image.dir, ...image.manifest, ...(layers ? { layers } : {}), size: bootSetBytes(image.manifest) }, null, 2) + '\n');
  return image;
}

/**
 * `bootfleet image rm <name@version>`: refuses while a node in `<stateDir>/nodes.json` runs it.
 * A node's `image` may be `name@<version>`, `name@<version>-<arch>`, or `name` alone (the newest
 * build, so the newest cannot be removed while such a node exists).
 */
export async function imageRmCommand(opts: { ref: string; store?: string; stateDir?: string }, out: Out = stdout): Promise<void> {
  const { name, version } = parseRef(opts.ref);
  if (version === undefined) throw new UsageError(`image rm needs a version: ${name}@<version> (see bootfleet image list)`);
  const store = storeOf(opts.store);
  const latest = await readManifest(store, name).catch(() => undefined);
  const users = await nodeImages(resolve(opts.stateDir ?? 'var'));
  const removed = await removeImage(store, name, version, {
    inUse: (n, id) => {
      const [hex] = id.split('-');
      const wanted = new Set([`${n}@${id}`, `${n}@${hex}`, ...(latest?.id === id ? [n] : [])]);
      const macs = users.filter((u) => wanted.has(u.image)).map((u) => u.mac);
      return macs.length > 0 ? `node${macs.length > 1 ? 's' : ''} ${macs.join(', ')}` : undefined;
    },
  });
  const freed = removed.freedLayers.length === 0 ? '' : ` and ${removed.freedLayers.length} layer${removed.freedLayers.length > 1 ? 's' : ''} no other build uses (${formatBytes(removed.freedLayers.reduce((n, l) => n + l.size, 0))})`;
  out(`removed ${name}@${removed.id}${freed}\n`);
}

/** `{ mac, image }` of every node record that names an image; tolerant of records without the field. */
async function nodeImages(stateDir: string): Promise<Array<{ mac: string; image: string }>> {
  const data = await readJsonFile<unknown>(join(stateDir, 'nodes.json'), { nodes: [] });
  const nodes = (data as { nodes?: unknown }).nodes;
  if (!Array.isArray(nodes)) return [];
  return nodes.flatMap((n: unknown) => {
    const r = n as { mac?: unknown; image?: unknown } | null;
    return r && typeof r.image === 'string' ? [{ mac: typeof r.mac === 'string' ? r.mac : '?', image: r.image }] : [];
  });
}

function storeOf(store: string | undefined): string {
  return store ? resolve(store) : defaultStore();
}

function sizeOf(i: StoredImage): number {
  return bootSetBytes(i.manifest);
}
