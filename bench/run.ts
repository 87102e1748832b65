/**
 * `npm run bench -- <name>`: runs one benchmark from bench/<name>.ts. Each prints its figures and,
 * as its last line, `<name>_ratio_vs_<peer>: X` (ours over the well-known peer, run side by side).
 */
const benches: Record<string, () => Promise<{ main: () => Promise<void> }>> = {
  tftp: () => import('./tftp.js'),
  pxe: () => import('./pxe.js'),
  image: () => import('./image.js'),
  failover: () => import('./failover.js'),
  placement: () => import('./placement.js'),
  rollout: () => import('./rollout.js'),
  takeover: () => import('./takeover.js'),
  scale: () => import('./scale.js'),
};

const name = process.argv[2] ?? '';
const load = benches[name];
if (!load) {
  console.error(`usage: npm run bench -- <${Object.keys(benches).join('|')}>`);
  process.exit(2);
}
await (await load()).main();
