import type { LabProcess } from './process.js';

/** What a load client (src/lab/load-client.ts) counted: its last STATS line and every FAIL line. */
export interface LoadStats {
  ok: number;
  failed: number;
  failures: string[];
}

/** Stops a running load client and reads its counts (none printed yet: zero). */
export async function stopLoad(p: LabProcess): Promise<LoadStats> {
  await p.stop(10_000);
  const lines = p.output().split('\n');
  const stats = lines.filter((l) => l.startsWith('STATS ')).at(-1);
  const parsed = stats ? (JSON.parse(stats.slice(6)) as { ok: number; failed: number }) : { ok: 0, failed: 0 };
  return { ok: parsed.ok, failed: parsed.failed, failures: lines.filter((l) => l.startsWith('FAIL ')) };
}
