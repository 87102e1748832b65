import { access, chmod, mkdir, writeFile } from 'node:fs/promises';
import { constants } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import type { NetNamespace } from '../../src/lab/netns.js';
import { packageRoot } from '../../src/pkg.js';

export const CHROMIUM = '/usr/bin/chromium';

/** Where UI tests keep their screenshots (gitignored; not removed when the test passes). */
export function artifactsDir(name: string): string {
  return join(packageRoot(), 'test-artifacts', name);
}

/** Fails (never skips) when Debian's chromium or playwright-core is missing, saying what to install. */
export async function requireChromium(): Promise<void> {
  try {
    await access(CHROMIUM, constants.X_OK);
  } catch {
    throw new Error(`UI tests need Debian's chromium at ${CHROMIUM}: apt-get install -y chromium (scripts/setup-debian.sh installs it)`);
  }
  await import('playwright-core').catch(() => {
    throw new Error('UI tests need playwright-core: npm ci');
  });
}

/**
 * Debian's chromium, headless, driven by playwright-core over a pipe, running inside `netns` (a
 * lab host: the browser is a machine on that network, as an operator's laptop would be), with a
 * fresh profile in `dir`. Closed by the caller (t.teardown).
 */
export async function chromiumIn(netns: NetNamespace, dir: string): Promise<BrowserContext> {
  const { chromium } = await import('playwright-core');
  await mkdir(dir, { recursive: true });
  // Playwright starts the executable it is given; this one enters the namespace first.
  const wrapper = join(dir, 'chromium-in-netns');
  await writeFile(wrapper, `#!/bin/sh\nexec ip netns exec ${netns.name} ${CHROMIUM} "$@"\n`);
  await chmod(wrapper, 0o755);
  return chromium.launchPersistentContext(join(dir, 'profile'), {
    executablePath: wrapper,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1400, height: 900 },
  });
}
