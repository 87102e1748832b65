/**
 * A client loop for lab tests, benchmarks and the demo, run inside a lab namespace: requests `url` with each
 * Host in turn (round robin) from `concurrency` workers, each waiting `pauseMs` between its
 * requests (0: as fast as the answers come), until SIGTERM or `durationMs`. Every request that
 * does not come back 2xx with the site's expected text is a failure, printed as it happens:
 *   FAIL <host> <status or error> started=<epoch ms the request was sent>
 * (`aborted`: the answer had begun and the connection was cut before its end)
 * and every second, and at the end, a summary line:
 *   STATS {"ok":n,"failed":n,"byHost":{…}}
 *
 * node dist/src/lab/load-client.js '<json {url, hosts, expect?, concurrency?, pauseMs?, durationMs?}>'
 * (from source: node --import tsx/esm src/lab/load-client.ts …; nodeScript('lab/load-client') picks).
 */
import { Agent, request } from 'node:http';

interface Args {
  url: string;
  hosts: string[];
  /** Host → a text the answer must contain. */
  expect?: Record<string, string>;
  concurrency?: number;
  pauseMs?: number;
  durationMs?: number;
  /** Reuse connections (keep-alive), as browsers do. Default true. */
  keepAlive?: boolean;
}

const args = JSON.parse(process.argv[2] ?? '{}') as Args;
const agent = new Agent({ keepAlive: args.keepAlive ?? true, maxSockets: args.concurrency ?? 4 });
const stats = { ok: 0, failed: 0, byHost: {} as Record<string, { ok: number; failed: number }> };
let stopping = false;
let next = 0;

function once(host: string): Promise<void> {
  return new Promise((resolve) => {
    const per = (stats.byHost[host] ??= { ok: 0, failed: 0 });
    const started = Date.now();
    const fail = (why: string): void => {
      stats.failed++;
      per.failed++;
      process.stdout.write(`FAIL ${host} ${why} started=${started}\n`);
      resolve();
    };
    const req = request(args.url, { agent, headers: { host }, timeout: 15_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const want = args.expect?.[host];
        if ((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300 && (want === undefined || body.includes(want))) {
          stats.ok++;
          per.ok++;
          resolve();
        } else fail(`${res.statusCode} ${body.slice(0, 80).replace(/\s+/g, ' ')}`);
      });
      res.on('error', (e) => fail(e.message));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => fail(e.message));
    req.end();
  });
}

async function worker(): Promise<void> {
  while (!stopping) {
    const host = args.hosts[next++ % args.hosts.length] ?? '';
    await once(host);
    if (args.pauseMs) await new Promise((r) => setTimeout(r, args.pauseMs));
  }
}

const report = (): void => void process.stdout.write(`STATS ${JSON.stringify(stats)}\n`);
const timer = setInterval(report, 1000);
process.on('SIGTERM', () => {
  stopping = true;
});
if (args.durationMs) setTimeout(() => (stopping = true), args.durationMs);
await Promise.all(Array.from({ length: args.concurrency ?? 4 }, () => worker()));
clearInterval(timer);
report();
process.stdout.write('DONE\n');
process.exit(0);
