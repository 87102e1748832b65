import { copyFile, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { stringify } from 'yaml';
import type { Lab } from './lab.js';
import type { LabProcess } from './process.js';
import type { NetNamespace } from './netns.js';
import { packageRoot } from '../pkg.js';
import { execa } from 'execa';
import type { NodeView } from '../http/api.js';

export interface LabControllerOptions {
  /** Where config, state and boot files go; default `<lab.logDir>/<name>`. */
  dir?: string;
  name?: string;
  /** The `dhcp:` section; default full mode over 198.18.0.100-199. */
  dhcp?: Record<string, unknown>;
  /** Extra top-level config (`boot`, `nodes` …); a `controller` section is merged into the lab's. */
  config?: Record<string, unknown>;
  /** Files to place in the boot dir: relative destination → source path. */
  bootFiles?: Record<string, string>;
  /** overlays/ folder (default: the package's). */
  overlaysDir?: string;
  /** Run in this namespace (default: the lab's, bound to br0). */
  netns?: NetNamespace;
  interface?: string;
  address?: string;
  httpPort?: number;
}

export interface LabController {
  process: LabProcess;
  configFile: string;
  stateDir: string;
  bootDir: string;
  httpBase: string;
  /** Runs a `bootfleet` CLI command against this controller (inside its namespace); its stdout. */
  cli: (...args: string[]) => Promise<string>;
  /** One node as `bootfleet node list --json` reports it (the real CLI), or undefined. */
  node: (mac: string) => Promise<NodeView | undefined>;
  stop: () => Promise<void>;
}

/**
 * Starts a real `bootfleet controller` process inside the lab namespace, bound to br0, with its
 * own config, state dir and boot dir, and waits until it logs "controller ready". Used by the lab
 * tests, the benchmarks and `bootfleet lab demo`.
 */
export async function startLabController(lab: Lab, opts: LabControllerOptions = {}): Promise<LabController> {
  const name = opts.name ?? 'controller';
  const dir = opts.dir ?? join(lab.logDir, name);
  const stateDir = join(dir, 'state');
  const bootDir = join(dir, 'boot');
  await mkdir(bootDir, { recursive: true });
  for (const [dest, source] of Object.entries(opts.bootFiles ?? {})) {
    await mkdir(dirname(join(bootDir, dest)), { recursive: true });
    await copyFile(source, join(bootDir, dest));
  }
  const address = opts.address ?? lab.address;
  const httpPort = opts.httpPort ?? 8080;
  const { controller: extra, ...rest } = opts.config ?? {};
  const config = {
    controller: {
      interface: opts.interface ?? lab.bridge, address, httpPort, stateDir, bootDir,
      ...(opts.overlaysDir ? { overlaysDir: opts.overlaysDir } : {}),
      ...(extra as Record<string, unknown> | undefined),
    },
    dhcp: opts.dhcp ?? { mode: 'full', range: [offset(address, 99), offset(address, 198)], leaseSeconds: 3600 },
    ...rest,
  };
  const configFile = join(dir, 'bootfleet.yaml');
  await writeFile(configFile, stringify(config));
  const root = packageRoot();
  const cli = nodeScript('cli');
  const child = lab.spawn(cli[0] ?? 'node', [...cli.slice(1), 'controller', '--config', configFile], {
    name,
    cwd: root,
    // Always debug or finer: the lab waits for the "controller ready" info line, and this log is a
    // file for whoever debugs a lab run (BOOTFLEET_LOG=warn for a quiet demo must not hide it).
    env: { BOOTFLEET_LOG: process.env['BOOTFLEET_LOG'] === 'trace' ? 'trace' : 'debug' },
    ...(opts.netns ? { netns: opts.netns } : {}),
  });
  await child.waitFor(/controller ready/, 30_000);
  // The CLI talks to the controller's admin API, which listens inside the lab namespace.
  const ns = opts.netns ?? lab.ns;
  const runCli = async (...args: string[]): Promise<string> => {
    const [file, argv] = ns.wrap(cli[0] ?? 'node', [...cli.slice(1), ...args, '--config', configFile]);
    return (await execa(file, argv, { cwd: root })).stdout;
  };
  return {
    process: child,
    configFile,
    stateDir,
    bootDir,
    httpBase: `http://${address}:${httpPort}`,
    cli: runCli,
    node: async (mac) => (JSON.parse(await runCli('node', 'list', '--json')) as { nodes: NodeView[] }).nodes.find((n) => n.mac === mac),
    stop: async () => {
      await child.stop();
    },
  };
}

/**
 * argv that runs one of our own programs (`cli`, `lab/load-client` …, a path under src/ without
 * its extension): the TypeScript source through tsx when this code runs from source (tests,
 * benchmarks), else the compiled file under dist/ (the installed package, `bootfleet demo`).
 */
export function nodeScript(module: string): string[] {
  const root = packageRoot();
  return import.meta.url.endsWith('.ts')
    ? [process.execPath, '--import', 'tsx/esm', join(root, 'src', `${module}.ts`)]
    : [process.execPath, join(root, 'dist', 'src', `${module}.js`)];
}

function offset(ip: string, n: number): string {
  const parts = ip.split('.').map(Number);
  parts[3] = (parts[3] ?? 0) + n;
  return parts.join('.');
}
