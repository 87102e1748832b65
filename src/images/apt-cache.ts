import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { BootfleetError, errorMessage } from '../errors.js';
import { silentLogger, type Logger } from '../log.js';
import { aptPaths, defaultCacheDir, hostDebianSources, prepareAptTree, type AptSource, type DebArch } from './apt-config.js';
import { withDirLock } from './dir-lock.js';
import { writeFileAtomic } from '../store/atomic.js';

export { defaultCacheDir, type DebArch } from './apt-config.js';

export interface FetchDebsOptions {
  arch: DebArch;
  /** Package names; meta-packages and purely virtual names are replaced by what they stand for. */
  packages: readonly string[];
  /** Default {@link defaultCacheDir}. */
  cacheDir?: string;
  /** Default: the host's Debian mirror and suites with components main + non-free-firmware. */
  sources?: AptSource[];
  /** Run `apt-get update` even if package lists are present. */
  refresh?: boolean;
  log?: Logger;
}

/** A .deb in the cache. `name` is the real package (e.g. linux-image-6.1.0-56-amd64). */
export interface FetchedDeb {
  requested: string;
  name: string;
  version: string;
  arch: string;
  path: string;
}

/**
 * Downloads the packages (not their dependencies) for `arch` into `<cacheDir>/debs` with apt and
 * a private apt configuration, and returns them in request order. A warm cache needs no
 * network: lists are fetched only when missing, when the sources changed, on `refresh`, or
 * when a package cannot be found or downloaded with the lists at hand (then once, and retried).
 * Safe to call from several processes at once (one lock per cache directory).
 */
export async function fetchDebs(opts: FetchDebsOptions): Promise<FetchedDeb[]> {
  const cacheDir = opts.cacheDir ?? defaultCacheDir();
  const log = (opts.log ?? silentLogger()).child({ sub: 'apt-cache' });
  return withDirLock(cacheDir, async () => {
    const sources = opts.sources ?? (await hostDebianSources());
    if (sources.length === 0) throw new BootfleetError('ERR_CONFIG_INVALID', 'apt-cache: no Debian sources found in /etc/apt; pass `sources`');
    const { options, changed } = await prepareAptTree(cacheDir, sources);
    const apt = new Apt(options, cacheDir, log);
    if (changed || opts.refresh || !(await apt.haveLists())) await apt.update();
    const recalled = await recallResolution(cacheDir, opts.arch, opts.packages);
    if (recalled) return recalled;
    const out: FetchedDeb[] = [];
    for (const requested of opts.packages) {
      for (const pkg of await apt.retryAfterUpdate(() => apt.resolve(requested, opts.arch, 0))) {
        out.push({ requested, name: pkg.name, version: pkg.version, arch: pkg.arch, path: await apt.retryAfterUpdate(() => apt.download(pkg)) });
      }
    }
    await rememberResolution(cacheDir, opts.arch, opts.packages, out);
    return out;
  });
}

/**
 * Resolving a package costs one `apt-cache` call or more (each reads every package list: about
 * 0.1–0.6 s), and nothing changes the answer but the lists. So a resolution is remembered under
 * `<cacheDir>/apt/resolved/`, keyed by the lists (names, sizes, times: `apt-get update` changes
 * them) and the request, and a later call with the same lists reuses it as long as its .debs are
 * still in the cache with their sizes. Answers for older lists are deleted when a new one is kept.
 */
async function recallResolution(cacheDir: string, arch: DebArch, packages: readonly string[]): Promise<FetchedDeb[] | undefined> {
  const file = join(resolvedDir(cacheDir), await resolutionName(cacheDir, arch, packages));
  const kept = await readFile(file, 'utf8').then((t) => JSON.parse(t) as Array<FetchedDeb & { size: number }>, () => undefined);
  if (!Array.isArray(kept)) return undefined;
  for (const d of kept) if ((await stat(d.path).catch(() => undefined))?.size !== d.size) return undefined;
  return kept.map(({ size: _size, ...d }) => d);
}

async function rememberResolution(cacheDir: string, arch: DebArch, packages: readonly string[], debs: readonly FetchedDeb[]): Promise<void> {
  const name = await resolutionName(cacheDir, arch, packages);
  const lists = name.split('-')[0] ?? '';
  const withSizes = await Promise.all(debs.map(async (d) => ({ ...d, size: (await stat(d.path)).size })));
  await writeFileAtomic(join(resolvedDir(cacheDir), name), JSON.stringify(withSizes) + '\n');
  for (const old of await readdir(resolvedDir(cacheDir)).catch(() => [])) {
    if (old.endsWith('.json') && !old.startsWith(`${lists}-`)) await rm(join(resolvedDir(cacheDir), old), { force: true });
  }
}

function resolvedDir(cacheDir: string): string {
  return join(aptPaths(cacheDir).root, 'resolved');
}

/** `<lists hash>-<request hash>.json`. */
async function resolutionName(cacheDir: string, arch: DebArch, packages: readonly string[]): Promise<string> {
  const dir = aptPaths(cacheDir).lists;
  const lists = createHash('sha256');
  for (const name of (await readdir(dir).catch(() => [])).sort()) {
    if (name === 'lock' || name === 'partial') continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st?.isFile()) lists.update(`${name}\0${st.size}\0${st.mtimeMs}\n`);
  }
  const request = createHash('sha256').update(JSON.stringify({ arch, packages })).digest('hex').slice(0, 16);
  return `${lists.digest('hex').slice(0, 16)}-${request}.json`;
}

interface Candidate {
  name: string;
  version: string;
  arch: string;
  filename: string;
  size: number;
}

/** apt-get / apt-cache pointed at the private tree; one instance per fetchDebs call. */
class Apt {
  private updated = false;

  constructor(private readonly options: string[], private readonly cacheDir: string, private readonly log: Logger) {}

  async haveLists(): Promise<boolean> {
    const names = await readdir(aptPaths(this.cacheDir).lists).catch(() => []);
    return names.some((n) => n.includes('_Packages'));
  }

  async update(): Promise<void> {
    this.updated = true;
    this.log.info('apt-get update (private lists)');
    await this.run('apt-get', ['-q', 'update']);
  }

  /** Runs `fn`; if it fails and the lists were not refreshed in this call, refreshes and retries once. */
  async retryAfterUpdate<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (this.updated) throw err;
      this.log.info({ err: errorMessage(err) }, 'retrying with fresh package lists');
      await this.update();
      return fn();
    }
  }

  /** The real package(s) behind `name` for `arch`: arch-specific, then `all`, then a provider. */
  async resolve(name: string, arch: DebArch, depth: number): Promise<Candidate[]> {
    if (depth > 4) throw new BootfleetError('ERR_COMMAND_FAILED', `apt-cache: meta-package chain too deep at ${name}`);
    const fields = (await this.show(`${name}:${arch}`)) ?? (await this.show(`${name}:all`));
    if (!fields) {
      const provider = await this.provider(name, arch);
      if (!provider) throw new BootfleetError('ERR_COMMAND_FAILED', `apt-cache: no package "${name}" for ${arch} in the Debian lists under ${this.cacheDir}/apt`);
      return this.resolve(provider, arch, depth + 1);
    }
    if (isMeta(fields)) {
      const deps = firstAlternatives(fields.get('Depends') ?? '');
      const nested = await Promise.all(deps.map((d) => this.resolve(d, arch, depth + 1)));
      return nested.flat();
    }
    return [candidate(name, fields)];
  }

  /** Path of the cached .deb, downloading it (pinned to the resolved version) if needed. */
  async download(pkg: Candidate): Promise<string> {
    const dir = join(this.cacheDir, 'debs');
    const target = join(dir, basename(pkg.filename));
    const have = await stat(target).catch(() => undefined);
    if (have?.size === pkg.size) return target;
    await mkdir(dir, { recursive: true });
    const tmp = await mkdtemp(join(dir, '.download-'));
    try {
      this.log.info({ pkg: `${pkg.name}:${pkg.arch}=${pkg.version}` }, 'apt-get download');
      await this.run('apt-get', ['-q', 'download', `${pkg.name}:${pkg.arch}=${pkg.version}`], tmp);
      const got = (await readdir(tmp)).filter((n) => n.endsWith('.deb'));
      if (got.length !== 1 || !got[0]) throw new BootfleetError('ERR_COMMAND_FAILED', `apt-get download ${pkg.name} left ${got.length} files`);
      await rename(join(tmp, got[0]), target);
      return target;
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  /** Fields of the candidate version, or undefined if apt knows no such package. */
  private async show(spec: string): Promise<Map<string, string> | undefined> {
    const r = await execa('apt-cache', [...this.options, 'show', '--no-all-versions', spec], { reject: false, env: { LC_ALL: 'C' } });
    if (r.exitCode !== 0) {
      if (/No packages found|Unable to locate|has no installation candidate|purely virtual/i.test(String(r.stderr))) return undefined;
      throw new BootfleetError('ERR_COMMAND_FAILED', `apt-cache show ${spec} failed: ${String(r.stderr).trim()}`);
    }
    // `apt-cache show <pkg>:arm64` of an arch-all Multi-Arch: foreign package (Debian 13's
    // ipxe, say) exits 0 with no record at all: that is "not for this arch", try :all.
    const stanza = String(r.stdout).split(/\n\n/)[0] ?? '';
    return stanza.trim() === '' ? undefined : parseStanza(stanza);
  }

  /** The alphabetically first real package that Provides a purely virtual `name`. */
  private async provider(name: string, arch: DebArch): Promise<string | undefined> {
    const r = await execa('apt-cache', [...this.options, 'showpkg', `${name}:${arch}`], { reject: false, env: { LC_ALL: 'C' } });
    const section = String(r.stdout).split('Reverse Provides:')[1] ?? '';
    const names = [...section.matchAll(/^(\S+?)(?::\S+)? \S+/gm)].map((m) => m[1] ?? '').filter(Boolean);
    return names.sort()[0];
  }

  private async run(file: string, args: string[], cwd?: string): Promise<void> {
    try {
      await execa(file, [...this.options, ...args], { cwd, env: { LC_ALL: 'C' } });
    } catch (err) {
      const stderr = (err as { stderr?: unknown }).stderr;
      throw new BootfleetError('ERR_COMMAND_FAILED', `${file} ${args.join(' ')} failed: ${String(stderr ?? errorMessage(err)).trim()}`, { cause: err });
    }
  }
}

function parseStanza(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  let key: string | undefined;
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && key) fields.set(key, `${fields.get(key) ?? ''}\n${line.trim()}`);
    else {
      const m = /^([\w-]+):\s*(.*)$/.exec(line);
      if (m?.[1]) fields.set((key = m[1]), m[2] ?? '');
    }
  }
  return fields;
}

/** Debian marks meta-packages in the synopsis ("… (meta-package)") or by section. */
function isMeta(fields: Map<string, string>): boolean {
  const synopsis = (fields.get('Description') ?? '').split('\n')[0] ?? '';
  return /\(meta-?package\)/i.test(synopsis) || fields.get('Section') === 'metapackages';
}

/** "a (>= 1) | b, c:any" → ["a", "c"]. */
function firstAlternatives(depends: string): string[] {
  return depends
    .split(',')
    .map((d) => (d.split('|')[0] ?? '').trim().split(/[\s(:]/)[0] ?? '')
    .filter(Boolean);
}

function candidate(requested: string, f: Map<string, string>): Candidate {
  const name = f.get('Package');
  const version = f.get('Version');
  const arch = f.get('Architecture');
  const filename = f.get('Filename');
  const size = Number(f.get('Size'));
  if (!name || !version || !arch || !filename || !Number.isFinite(size)) {
    throw new BootfleetError('ERR_COMMAND_FAILED', `apt-cache show ${requested}: incomplete record`);
  }
  return { name, version, arch, filename, size };
}
