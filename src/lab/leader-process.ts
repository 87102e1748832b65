// A process that only campaigns for leadership on etcd and prints every change, so a test can
// kill it by PID (a crash: no goodbye, its lease renewals just stop).
// Usage: node --import tsx/esm src/lab/leader-process.ts <name> <ttlSeconds> <endpoint>... (nodeScript('lab/leader-process'))
import { connectEtcd } from '../store/etcd/connect.js';
import { EtcdLeadership } from '../store/etcd/leadership.js';
import { createLogger } from '../log.js';

const [name = 'x', ttl = '2', ...endpoints] = process.argv.slice(2);
const conn = await connectEtcd({ kind: 'etcd', endpoints, prefix: '/bootfleet/', leaseTtlSeconds: Number(ttl), dialTimeoutSeconds: 5 });
const leadership = new EtcdLeadership(conn, name, Number(ttl), createLogger({ level: 'warn' }));
leadership.onChange((leading) => process.stdout.write(`${leading ? 'leading' : 'following'} ${name}\n`));
process.stdout.write(`campaigning ${name}\n`);
process.on('SIGTERM', () => void leadership.stop().then(() => process.exit(0)));
