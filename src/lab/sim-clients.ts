/**
 * The wire simulator as a program (src/lab/sim-fleet.ts does the work): run as root inside the
 * client namespace of a lab, one process for every simulated node. src/lab/scale-lab.ts starts it
 * for test/lab/scale-1000.test.ts and `npm run bench -- scale`.
 *
 *   node --import tsx/esm src/lab/sim-clients.ts --iface eth0 --count 1000 --inflight 50 --out FILE
 *     [--first-timeout-ms 4000] [--first 0]
 *
 * Writes one JSON line per node to FILE ({mac, ip, server, file, bytes, startMs, ackMs, doneMs …}
 * or {mac, failed}) as each finishes and, last on stdout, `SIM-DONE {summary}`.
 */
import { appendFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { errorMessage } from '../errors.js';
import { DEFAULT_RETRY, simulateWire } from './sim-fleet.js';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      iface: { type: 'string', default: 'eth0' },
      count: { type: 'string', default: '1000' },
      inflight: { type: 'string', default: '50' },
      first: { type: 'string', default: '0' },
      // RFC 2131 §4.1 says 4000; the default 1000 keeps a simulation short (src/lab/sim-fleet.ts).
      'first-timeout-ms': { type: 'string' },
      out: { type: 'string' },
    },
  });
  const out = values.out;
  if (out) await writeFile(out, '');
  const { summary } = await simulateWire({
    iface: values.iface,
    count: Number(values.count),
    inflight: Number(values.inflight),
    first: Number(values.first),
    ...(values['first-timeout-ms'] ? { retry: { ...DEFAULT_RETRY, firstTimeoutMs: Number(values['first-timeout-ms']) } } : {}),
    onNode: out ? (n) => appendFile(out, `${JSON.stringify(n)}\n`) : undefined,
  });
  process.stdout.write(`SIM-DONE ${JSON.stringify(summary)}\n`);
}

await main().catch((err: unknown) => {
  process.stderr.write(`sim-clients: ${errorMessage(err)}\n`);
  process.exit(1);
});
