import type { ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectEtcd, type EtcdConnection } from '../../src/store/etcd/connect.js';
import { startLocalEtcd, type EtcdCluster } from '../../src/lab/etcd.js';
import type { StoreConfig } from '../../src/config.js';

/** An etcd of `count` members on 127.0.0.1 for this test, stopped (and its data removed) at teardown. */
export async function localEtcd(t: ExecutionContext, count = 1): Promise<{
  etcd: EtcdCluster;
  dir: string;
  connect: (prefix?: string, timeoutSeconds?: number) => Promise<EtcdConnection>;
  config: (prefix?: string, timeoutSeconds?: number) => StoreConfig;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'bootfleet-etcd-'));
  const connections: EtcdConnection[] = [];
  const started: EtcdCluster[] = [];
  t.teardown(async () => {
    for (const c of connections) c.close();
    for (const e of started) await e.stop();
    if (t.passed) await rm(dir, { recursive: true, force: true });
    else t.log(`etcd data and logs: ${dir}`);
  });
  const etcd = await startLocalEtcd(dir, count);
  started.push(etcd);
  const endpoints = etcd.endpoints;
  const config = (prefix = '/bootfleet/', timeoutSeconds = 5): StoreConfig => ({ kind: 'etcd', endpoints, prefix, leaseTtlSeconds: 2, dialTimeoutSeconds: timeoutSeconds });
  return {
    etcd,
    dir,
    config,
    connect: async (prefix, timeoutSeconds) => {
      const c = await connectEtcd(config(prefix, timeoutSeconds));
      connections.push(c);
      return c;
    },
  };
}

/** Polls `check` every 50 ms until it is true; fails after `timeoutMs` (a hang guard, not a performance claim). */
export async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
