/**
 * Site placement at scale: `npm run bench -- placement`. 10,000 sites (loads 1–20, skewed to
 * small, one in ten with 2 replicas) on 1,000 nodes (weights 1, 2 and 4). Times the initial
 * placement (median of several runs), then kills one node (the most loaded) and re-places: moved
 * replicas vs the minimum possible (the replicas that were on the dead node); then the same for
 * 50 other nodes in turn. Last line `placement_moves_over_minimum: X`, the worst of those ratios
 * (bar ≤ 1.1); `placement_ms` bar < 200 on the 2-core machine.
 */
import { availableParallelism, loadavg } from 'node:os';
import { placeSites, type PlacementInput, type PlacementNode, type PlacementSite } from '../src/cluster/placement.js';

const SITES = 10_000;
const NODES = 1_000;
const RUNS = 9;

export async function main(): Promise<void> {
  const random = lcg(9);
  const nodes: PlacementNode[] = Array.from({ length: NODES }, (_, i) => ({ id: mac(i), weight: [1, 2, 4][Math.floor(random() * 3)] ?? 1 }));
  const sites: PlacementSite[] = Array.from({ length: SITES }, (_, i) => ({
    id: `site-${i}.example`,
    load: 1 + Math.floor(20 * random() ** 3),
    replicas: random() < 0.1 ? 2 : 1,
  }));
  const input: PlacementInput = { nodes, sites, current: {} };

  placeSites(input); // warm up the JIT once, like a long-running controller
  const times: number[] = [];
  const cpuTimes: number[] = [];
  let first = placeSites(input);
  for (let r = 0; r < RUNS; r++) {
    const cpu = process.cpuUsage();
    const started = performance.now();
    first = placeSites(input);
    times.push(performance.now() - started);
    const used = process.cpuUsage(cpu);
    cpuTimes.push((used.user + used.system) / 1000);
  }
  const replicas = sites.reduce((n, s) => n + s.replicas, 0);
  const loadTotal = sites.reduce((n, s) => n + s.load, 0);
  console.log(`\n${SITES} sites (${replicas} replicas, total load ${loadTotal}) on ${NODES} nodes (weights 1/2/4), epsilon 0.25`);
  console.log(`initial placement, ${RUNS} runs: median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)}, max ${Math.max(...times).toFixed(1)}; CPU median ${median(cpuTimes).toFixed(1)} ms (all threads, GC included)`);
  console.log(`load average over the last minute: ${loadavg()[0]?.toFixed(2)} on ${availableParallelism()} CPUs (other jobs make wall time longer)`);
  console.log(`unplaced: ${first.unplaced.length}, moves: ${first.moves.length} (all new-site: ${first.moves.every((m) => m.reason === 'new-site')})`);
  report('after initial placement', first);
  const again = median(Array.from({ length: 5 }, () => timed(() => placeSites({ ...input, current: first.assignments }))));
  console.log(`placing again from that layout (nothing to do): median ${again.toFixed(1)} ms`);

  const dead = mostLoaded(first.loads);
  const minimum = Object.values(first.assignments).filter((on) => on.includes(dead)).length;
  const survivors = nodes.filter((n) => n.id !== dead);
  const after = placeSites({ nodes: survivors, sites, current: first.assignments });
  const repairMs = median(Array.from({ length: 5 }, () => timed(() => placeSites({ nodes: survivors, sites, current: first.assignments }))));
  const moved = after.moves.filter((m) => m.to !== undefined).length;
  const reasons = countBy(after.moves.map((m) => m.reason));
  console.log(`\nkill ${dead} (the most loaded node, ${minimum} replicas on it):`);
  console.log(`moved replicas: ${moved} (minimum possible ${minimum}); by reason ${JSON.stringify(reasons)}; median ${repairMs.toFixed(1)} ms`);
  report('after the node died', after);

  // The same from the initial layout for 50 other nodes, one at a time: the worst case counts.
  let sweepMoved = 0;
  let sweepMinimum = 0;
  let worst = 0;
  for (const node of nodes.filter((_, i) => i % 20 === 7)) {
    const had = Object.values(first.assignments).filter((on) => on.includes(node.id)).length;
    const result = placeSites({ nodes: nodes.filter((n) => n !== node), sites, current: first.assignments });
    const movedHere = result.moves.filter((m) => m.to !== undefined).length;
    sweepMoved += movedHere;
    sweepMinimum += had;
    if (had > 0) worst = Math.max(worst, movedHere / had);
  }
  console.log(`each of 50 other nodes killed in turn: ${sweepMoved} replicas moved for ${sweepMinimum} on the dead nodes, worst ratio ${worst.toFixed(3)}`);
  console.log(`placement_ms: ${median(times).toFixed(1)}`);
  console.log(`placement_moves_over_minimum: ${Math.max(moved / minimum, worst).toFixed(3)}`);
}

function report(label: string, result: ReturnType<typeof placeSites>): void {
  let loadOverCap = 0;
  let loadOverFair = 0;
  for (const [node, load] of Object.entries(result.loads)) {
    loadOverCap = Math.max(loadOverCap, load / (result.caps[node] ?? 1));
    loadOverFair = Math.max(loadOverFair, load / (result.fair[node] ?? 1));
  }
  console.log(`${label}: max load/cap ${loadOverCap.toFixed(3)}, max load/fair share ${loadOverFair.toFixed(3)}`);
}

function timed(run: () => unknown): number {
  const started = performance.now();
  run();
  return performance.now() - started;
}

function mostLoaded(loads: Record<string, number>): string {
  return Object.entries(loads).reduce((best, e) => (e[1] > best[1] ? e : best), ['', -1] as [string, number])[0];
}

function countBy(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

function mac(i: number): string {
  return `52:54:00:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}`;
}

/** A small seeded generator so every run places the same fleet. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}
