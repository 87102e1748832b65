import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** Debian architectures bootfleet builds boot sets for. */
export type DebArch = 'amd64' | 'arm64';
export const DEB_ARCHES: readonly DebArch[] = ['amd64', 'arm64'];

/** One `deb` line of our private sources list. */
export interface AptSource {
  uri: string;
  suites: string[];
  components: string[];
  signedBy?: string;
}

/** The cache root: `$BOOTFLEET_CACHE`, else `~/.cache/bootfleet` (never inside the git tree). */
export function defaultCacheDir(): string {
  return process.env['BOOTFLEET_CACHE'] || join(homedir(), '.cache', 'bootfleet');
}

/** Components we need: `main` plus `non-free-firmware` for raspi-firmware. */
export const DEFAULT_COMPONENTS = ['main', 'non-free-firmware'];

/**
 * The host's Debian sources (deb822 `/etc/apt/sources.list.d/debian.sources`, else one-line
 * `deb` entries of `/etc/apt/sources.list`), with our components instead of the host's. We
 * only read the host's configuration, to learn which mirror and release it uses.
 */
export async function hostDebianSources(components = DEFAULT_COMPONENTS): Promise<AptSource[]> {
  const deb822 = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => undefined);
  const found = deb822 !== undefined ? parseDeb822(deb822) : parseOneLine(await readFile('/etc/apt/sources.list', 'utf8').catch(() => ''));
  return found.map((s) => ({ ...s, components }));
}

function parseDeb822(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const field = (name: string): string | undefined =>
      new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(stanza.replace(/^#.*$/gm, ''))?.[1]?.trim();
    const types = field('Types')?.split(/\s+/) ?? [];
    const uri = field('URIs')?.split(/\s+/)[0];
    if (!types.includes('deb') || !uri || field('Enabled') === 'no') continue;
    const signedBy = field('Signed-By');
    out.push({ uri, suites: field('Suites')?.split(/\s+/) ?? [], components: [], ...(signedBy?.startsWith('/') ? { signedBy } : {}) });
  }
  return out;
}

function parseOneLine(text: string): AptSource[] {
  const out: AptSource[] = [];
  for (const line of text.split('\n')) {
    const m = /^deb\s+(?:\[([^\]]*)\]\s+)?(\S+)\s+(\S+)/.exec(line.trim());
    if (!m?.[2] || !m[3]) continue;
    const signedBy = /signed-by=(\S+)/.exec(m[1] ?? '')?.[1];
    out.push({ uri: m[2], suites: [m[3]], components: [], ...(signedBy ? { signedBy } : {}) });
  }
  return out;
}

/** Renders the private sources list; every line serves all our architectures. */
export function renderSourcesList(sources: readonly AptSource[]): string {
  const lines: string[] = [];
  for (const s of sources) {
    const opts = [`arch=${DEB_ARCHES.join(',')}`, ...(s.signedBy ? [`signed-by=${s.signedBy}`] : [])];
    for (const suite of s.suites) lines.push(`deb [${opts.join(' ')}] ${s.uri} ${suite} ${s.components.join(' ')}`);
  }
  return lines.join('\n') + '\n';
}

/** Paths of the private apt tree under `<cacheDir>/apt`. */
export function aptPaths(cacheDir: string): { root: string; sourcesList: string; lists: string } {
  const root = join(cacheDir, 'apt');
  return { root, sourcesList: join(root, 'etc', 'sources.list'), lists: join(root, 'state', 'lists') };
}

/**
 * Creates the private apt tree and returns the `-o` options that point apt at it and only at it:
 * our sources list (no host sources.list.d), our empty dpkg status (host-installed packages do
 * not affect resolution), our lists and caches, and both architectures without touching dpkg's
 * foreign-architecture list. Returns whether the sources list changed (then lists are stale).
 */
export async function prepareAptTree(cacheDir: string, sources: readonly AptSource[]): Promise<{ options: string[]; changed: boolean }> {
  const { root, sourcesList, lists } = aptPaths(cacheDir);
  for (const d of ['etc/sources.list.d', 'etc/preferences.d', 'state/lists/partial', 'cache/archives/partial']) {
    await mkdir(join(root, d), { recursive: true });
  }
  await writeFile(join(root, 'state', 'status'), '', { flag: 'a' });
  const wanted = renderSourcesList(sources);
  const before = await readFile(sourcesList, 'utf8').catch(() => '');
  if (before !== wanted) await writeFile(sourcesList, wanted);
  const o = (kv: string): string[] => ['-o', kv];
  const options = [
    ...o(`Dir::Etc::SourceList=${sourcesList}`),
    ...o(`Dir::Etc::SourceParts=${join(root, 'etc', 'sources.list.d')}`),
    ...o(`Dir::Etc::Preferences=${join(root, 'etc', 'preferences')}`),
    ...o(`Dir::Etc::PreferencesParts=${join(root, 'etc', 'preferences.d')}`),
    ...o(`Dir::State=${join(root, 'state')}`),
    ...o(`Dir::State::Lists=${lists}`),
    ...o(`Dir::State::status=${join(root, 'state', 'status')}`),
    ...o(`Dir::Cache=${join(root, 'cache')}`),
    // Debian's docker images blank these out; the binary cache makes each apt-cache call ~4x faster.
    ...o('Dir::Cache::pkgcache=pkgcache.bin'),
    ...o('Dir::Cache::srcpkgcache=srcpkgcache.bin'),
    ...o(`APT::Architecture=${process.arch === 'arm64' ? 'arm64' : 'amd64'}`),
    ...DEB_ARCHES.flatMap((a) => o(`APT::Architectures::=${a}`)),
    ...o('Acquire::Languages=none'),
    // The cache may live under a home directory the _apt sandbox user cannot enter.
    ...o('APT::Sandbox::User=root'),
  ];
  return { options, changed: before !== wanted };
}
