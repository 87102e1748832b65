import test, { type ExecutionContext } from 'ava';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { clusterLab } from '../helpers/cluster-lab.js';
import { requireLab } from '../helpers/lab.js';
import { artifactsDir, chromiumIn, requireChromium } from '../helpers/browser.js';
import { imageBuildCommand } from '../../src/commands/image.js';
import { packageRoot } from '../../src/pkg.js';

// Issue 11, the web UI, in a real browser: Debian's chromium (driven by playwright-core) runs on
// a host of the lab network and uses the controller's admin listener. It logs in with the admin
// token, approves a pending PC (a QEMU tiny-web node) on the Fleet page, adds a site with content
// through the form, assigns it to the node and sees it served through the balancer, sees the
// Balancer graphs, and starts a rollout on the Images page and follows it. A screenshot of each
// page is kept in test-artifacts/ui/ (gitignored).

const ADMIN = 'http://198.18.0.1:8081';

/**
 * The UI's own accessibility rules, checked in the live DOM of a page (browser code, as a string:
 * this project type-checks without the DOM library): every visible input has a label, every
 * button and link a name, actions are buttons (no clickable divs), tables have column headers,
 * one h1, a page language.
 */
const A11Y_PROBLEMS = `(() => {
  const out = [];
  const visible = (el) => el.offsetParent !== null;
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (el.type === 'hidden' || !visible(el)) continue;
    if ((el.labels ? el.labels.length : 0) === 0 && !el.getAttribute('aria-label') && !el.getAttribute('aria-labelledby')) out.push('unlabelled ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('button, a[href]')) {
    if (!(el.getAttribute('aria-label') || el.textContent || '').trim()) out.push('nameless ' + el.outerHTML.slice(0, 80));
  }
  for (const el of document.querySelectorAll('[onclick], div[data-action], span[data-action]')) out.push('not a button: ' + el.outerHTML.slice(0, 80));
  for (const table of document.querySelectorAll('table:not([role="presentation"])')) {
    if (table.querySelectorAll('thead th[scope="col"]').length === 0) out.push('a table without column headers');
  }
  const h1 = document.querySelectorAll('h1').length;
  if (h1 !== 1) out.push(h1 + ' h1 headings');
  if (!document.documentElement.lang) out.push('no lang on <html>');
  return out;
})()`;

async function checkAccessible(t: ExecutionContext, page: Page, name: string): Promise<void> {
  t.deepEqual(await page.evaluate<string[]>(A11Y_PROBLEMS), [], `${name}: accessibility`);
  // Keyboard: on a fresh load the first Tab lands on the skip link, which moves focus to the main content.
  await page.reload();
  await page.keyboard.press('Tab');
  t.is(await page.evaluate<string>('document.activeElement.textContent'), 'Skip to content', `${name}: skip link first`);
  await page.keyboard.press('Enter');
  t.is(await page.evaluate<string>('document.activeElement.id'), 'main', `${name}: skip link moves focus to main`);
}

/** A second tiny-web build (one more file in its root) to roll out to. */
async function buildSecondVersion(dir: string, store: string): Promise<string> {
  await mkdir(join(dir, 'recipes'), { recursive: true });
  await cp(join(packageRoot(), 'overlays', 'tiny-web'), join(dir, 'overlays', 'tiny-web'), { recursive: true });
  await mkdir(join(dir, 'overlays', 'ui-v2', 'etc'), { recursive: true });
  await writeFile(join(dir, 'overlays', 'ui-v2', 'etc', 'bootfleet-ui-test'), 'version 2\n');
  const recipe = (await readFile(join(packageRoot(), 'images', 'tiny-web.yaml'), 'utf8')).replace('overlays: [tiny-web]', 'overlays: [tiny-web, ui-v2]');
  await writeFile(join(dir, 'recipes', 'tiny-web.yaml'), recipe);
  const result = await imageBuildCommand({ recipe: join(dir, 'recipes', 'tiny-web.yaml'), arch: 'amd64', store }, () => undefined);
  const build = result.builds[0];
  if (!build) throw new Error('the second tiny-web build produced nothing');
  return `tiny-web@${build.id}`;
}

test('lab: the web UI in Chromium: log in, approve a pending PC, add a site and assign it (served through the balancer), graphs, start a rollout and follow it', async (t) => {
  await requireLab();
  await requireChromium();
  t.timeout(2_400_000);
  const shots = artifactsDir('ui');
  await mkdir(shots, { recursive: true });
  const c = await clusterLab(t, {
    nodes: 0,
    config: { policy: { admit: { pc: 'approve' } }, admin: { listen: ['198.18.0.1:8081'] } },
  });
  const token = (await readFile(join(c.ctl.stateDir, 'admin-token'), 'utf8')).trim();
  const browser = await chromiumIn(c.client, join(c.lab.logDir, 'chromium'));
  t.teardown(() => browser.close());
  const page = browser.pages()[0] ?? (await browser.newPage());
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(`page error: ${err.message}`));
  page.on('console', (m) => {
    if (/Content.Security.Policy|Uncaught/i.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
  t.log(`screenshots: ${shots}`);

  // 1. Log in: a page asked for without a session goes to the login form.
  await page.goto(`${ADMIN}/ui/fleet`);
  t.is(new URL(page.url()).pathname, '/login');
  await checkAccessible(t, page, 'login');
  await shot('1-login');
  await page.getByLabel('Admin token').fill('0'.repeat(64));
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.getByRole('alert').filter({ hasText: 'not the admin token' }).waitFor();
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.waitForURL(`${ADMIN}/ui/fleet`);
  const cookie = (await browser.cookies()).find((k) => k.name === 'bootfleet_session');
  t.like(cookie, { httpOnly: true, sameSite: 'Strict', path: '/' });
  await page.locator('#live-state[data-state="live"]').waitFor({ timeout: 30_000 });

  // 2. A PC that needs approval powers on: it shows up on the open Fleet page without a reload.
  await page.evaluate('window.notReloaded = true');
  const qemu = await c.lab.addNode({ arch: 'x86_64', memoryMiB: 256, reboot: true });
  const mac = qemu.mac ?? '';
  const row = page.locator(`#node-${mac.replace(/:/g, '-')}`);
  await row.and(page.locator('[data-state="pending"]')).waitFor({ timeout: 300_000 });
  t.true(await page.evaluate<boolean>('window.notReloaded === true'), 'the node appeared by a live update');
  await checkAccessible(t, page, 'fleet');
  // Approve it with the keyboard.
  const approve = row.getByRole('button', { name: /^Approve / });
  await approve.focus();
  await page.keyboard.press('Enter');
  await page.locator('#flash').filter({ hasText: `Approved ${mac}` }).waitFor();
  t.true((await c.ctl.node(mac))?.status === 'admitted', 'the controller approved it');
  // It boots at its next try (SeaBIOS retries a failed network boot) and becomes ready.
  await row.and(page.locator('[data-state="ready"]')).waitFor({ timeout: 900_000 });
  const hostname = (await c.ctl.node(mac))?.hostname ?? mac;
  await row.locator('ol.timeline li.reached', { hasText: 'ready' }).waitFor();
  await shot('2-fleet');

  // 3. Add a site with content through the form (a single index.html), and assign it to the node.
  await page.getByRole('link', { name: 'Sites' }).click();
  await page.waitForURL(`${ADMIN}/ui/sites`);
  await page.getByLabel('Name', { exact: true }).fill('hello');
  await page.getByLabel('Domains').fill('hello.example');
  await page.getByLabel('Content').setInputFiles({ name: 'index.html', mimeType: 'text/html', buffer: Buffer.from('<h1>hello from the web UI</h1>\n') });
  await page.getByRole('button', { name: 'Add site' }).click();
  await page.locator('#flash').filter({ hasText: 'Added site hello' }).waitFor();
  const site = page.locator('#site-hello');
  await site.waitFor();
  await page.getByLabel('Assign hello to').selectOption(mac);
  await site.getByRole('button', { name: 'Assign' }).click();
  await site.getByRole('button', { name: `Unpin hello from ${hostname}` }).waitFor();
  t.deepEqual((await c.sites()).find((s) => s.name === 'hello')?.pinned, [mac], 'pinned to the node');
  await c.waitUntil('hello answers through the balancer', async () => (await c.get('hello.example')).body.includes('hello from the web UI'));
  await site.locator('.health', { hasText: 'healthy' }).waitFor({ timeout: 60_000 });
  await checkAccessible(t, page, 'sites');
  await shot('3-sites');

  // 4. Traffic shows on the Balancer page's graphs and in its table.
  for (let i = 0; i < 30; i++) await c.get('hello.example');
  await page.getByRole('link', { name: 'Balancer' }).click();
  await page.waitForURL(`${ADMIN}/ui/balancer`);
  await page.locator('#site-charts figure[data-key="hello"] canvas').waitFor({ timeout: 60_000 });
  await page.locator('#node-charts figure canvas').first().waitFor();
  await c.waitUntil('the rate table shows the requests', async () => {
    for (let i = 0; i < 5; i++) await c.get('hello.example');
    const text = await page.locator('tr[data-site="hello"] td').first().textContent();
    return text !== null && text !== '0.0/s';
  }, 120_000);
  await checkAccessible(t, page, 'balancer');
  await shot('4-balancer');

  t.deepEqual(errors, [], 'no script errors and no Content-Security-Policy violations so far');

  // 5. Images: both versions, which node runs which; start a rollout to the new one and follow it.
  const target = await buildSecondVersion(join(c.lab.logDir, 'v2'), join(c.lab.logDir, 'store'));
  await page.getByRole('link', { name: 'Images' }).click();
  await page.waitForURL(`${ADMIN}/ui/images`);
  await page.locator(`tr[data-image="${target}"]`).waitFor({ timeout: 60_000 });
  await page.locator('tr[data-image] td', { hasText: hostname }).waitFor();
  await checkAccessible(t, page, 'images');
  await page.reload(); // the start form's image list is read when the page loads
  await page.getByLabel('Image', { exact: true }).selectOption(target);
  await page.getByRole('button', { name: 'Start rollout' }).click();
  // One node serving "hello" alone: rebooting it would leave the site with no healthy replica, so
  // the controller refuses before touching it, and the page says why.
  const flash = page.locator('#flash');
  await flash.filter({ hasText: /no healthy replica of hello/ }).waitFor();
  t.not((await c.ctl.node(mac))?.image, target, 'the node was not touched');
  // Without the site nothing needs the node's replica: remove it (the page asks first) and start again.
  page.once('dialog', (d) => void d.accept());
  await page.getByRole('link', { name: 'Sites' }).click();
  await page.waitForURL(`${ADMIN}/ui/sites`);
  await page.getByRole('button', { name: 'Remove hello' }).click();
  await page.locator('#flash').filter({ hasText: 'Removed hello.' }).waitFor();
  await page.getByRole('link', { name: 'Images' }).click();
  await page.waitForURL(`${ADMIN}/ui/images`);
  await page.getByLabel('Image', { exact: true }).selectOption(target);
  await page.getByLabel('Only these nodes (optional)').fill(hostname);
  await page.getByRole('button', { name: 'Start rollout' }).click();
  await flash.filter({ hasText: /Rollout to/ }).waitFor();
  await shot('5-images');
  const said = (await flash.textContent()) ?? '';
  t.regex(said, new RegExp(`Rollout to ${target} started`));
  t.deepEqual((JSON.parse(await c.ctl.cli('rollout', 'status', '--json')) as { nodes: Array<{ mac: string }> }).nodes.map((n) => n.mac), [mac], 'the rollout takes the nodes the form named');
  const rolloutRow = page.locator(`#rollout-body tr[data-mac="${mac}"]`);
  await rolloutRow.waitFor({ timeout: 60_000 });
  const phases = new Set<string>();
  const until = Date.now() + 900_000;
  while (Date.now() < until) {
    const phase = (await rolloutRow.getAttribute('data-phase')) ?? '';
    phases.add(phase);
    if (phase === 'done' || phase === 'failed' || phase === 'rolled-back') break;
    await page.waitForTimeout(500);
  }
  t.log(`rollout phases seen: ${[...phases].join(' → ')}`);
  await shot('6-rollout');
  t.true(phases.size >= 2, 'the node went through phases, shown live');
  t.is(await rolloutRow.getAttribute('data-phase'), 'done');
  t.is((await c.ctl.node(mac))?.image, target, 'the node runs the new image');
  t.deepEqual(errors, [], 'no script errors and no Content-Security-Policy violations');
});
