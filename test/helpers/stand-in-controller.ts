import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * A stand-in for the controller's node routes, for tests of the node initramfs: static files
 * from `www` (the boot info is the file `api/boot/<mac>`; once a download was cut on purpose, a
 * file `<path>.after-cut` beside one is served for it instead, so a test can change the boot
 * info at exactly that moment), HTTP Range answered with 206 and
 * Content-Range (416 past the end) like the controller's file routes, event POSTs accepted,
 * and every request written as one `REQUEST {json}` line so a test can check what the node
 * sent. Run in a lab namespace as a script:
 *   node --import tsx/esm test/helpers/stand-in-controller.ts <www> <host> <port> [secret] [cut-path=bytes]
 * It prints `LISTENING <port>` once bound.
 */
export interface StandInOptions {
  www: string;
  /** When set, every request except GET /api/boot/… needs `Authorization: Bearer <secret>`, else 403. */
  secret?: string;
  /**
   * Paths whose first GET gets the full-length headers and only this many body bytes, then the
   * socket is destroyed mid-body: a real cut connection, not an HTTP error.
   */
  cut?: Record<string, number>;
  /** Like `cut`, but the connection stays open and silent after the bytes (a stalled transfer). */
  stall?: Record<string, number>;
  /** Answer every GET with the whole file (200), ignoring Range, like a server without range support. */
  noRanges?: boolean;
  /** Receives each `REQUEST {json}` line. */
  log: (line: string) => void;
}

/** One request as the stand-in saw it. */
export interface RequestRecord {
  method: string;
  path: string;
  range: string | null;
  authorization: string | null;
  status: number;
  /** The body of a POST. */
  body?: string;
  /** Body bytes sent before the connection was cut on purpose. */
  cutAfter?: number;
}

export function standInController(opts: StandInOptions): Server {
  const cutDone = new Set<string>();
  return createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      void answer(req, res, Buffer.concat(chunks).toString('utf8')).catch(() => res.destroy());
    });
  });

  async function answer(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/');
    const rec: RequestRecord = {
      method: req.method ?? '', path, range: req.headers.range ?? null, authorization: req.headers.authorization ?? null, status: 0,
      ...(req.method === 'POST' ? { body } : {}),
    };
    const done = (status: number, data?: Buffer | string, headers: Record<string, string | number> = {}): void => {
      rec.status = status;
      opts.log(`REQUEST ${JSON.stringify(rec)}`);
      res.writeHead(status, headers).end(data);
    };
    const open = req.method === 'GET' && path.startsWith('/api/boot/');
    if (opts.secret !== undefined && !open && rec.authorization !== `Bearer ${opts.secret}`) return done(403, 'node secret missing or wrong\n');
    if (req.method === 'POST') return done(200, 'ok\n');
    if (req.method !== 'GET') return done(405);

    const file = join(opts.www, normalize(path));
    if (!file.startsWith(opts.www)) return done(404);
    const later = cutDone.size > 0 ? await readFile(`${file}.after-cut`).catch(() => undefined) : undefined;
    const data = later ?? (await readFile(file).catch(() => undefined));
    if (!data) return done(404);

    const cut = opts.cut?.[path] ?? opts.stall?.[path];
    if (cut !== undefined && !cutDone.has(path)) {
      cutDone.add(path);
      rec.status = 200;
      rec.cutAfter = cut;
      opts.log(`REQUEST ${JSON.stringify(rec)}`);
      res.writeHead(200, { 'content-length': data.length });
      // Destroyed once the bytes are handed to the kernel: the client sees a short body, then EOF.
      res.write(data.subarray(0, cut), () => (opts.cut?.[path] === undefined ? undefined : res.socket?.destroy()));
      return;
    }
    const range = opts.noRanges ? null : /^bytes=(\d+)-$/.exec(rec.range ?? '');
    if (!range) return done(200, data, { 'content-length': data.length, 'accept-ranges': 'bytes' });
    const start = Number(range[1]);
    if (start >= data.length) return done(416, undefined, { 'content-range': `bytes */${data.length}` });
    done(206, data.subarray(start), { 'content-length': data.length - start, 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` });
  }
}

/** Parses the `REQUEST {json}` lines out of a stand-in's output. */
export function requestsIn(output: string): RequestRecord[] {
  return [...output.matchAll(/^REQUEST (\{.*\})$/gm)].map((m) => JSON.parse(m[1] ?? '{}') as RequestRecord);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [www, host, port, secret, ...cuts] = process.argv.slice(2);
  if (!www || !host || !port) throw new Error('usage: stand-in-controller.ts <www> <host> <port> [secret|-] [path=bytes …]');
  const cut = Object.fromEntries(cuts.map((c) => [c.slice(0, c.lastIndexOf('=')), Number(c.slice(c.lastIndexOf('=') + 1))]));
  const server = standInController({ www, ...(secret && secret !== '-' ? { secret } : {}), cut, log: (l) => console.log(l) });
  server.listen(Number(port), host, () => {
    const address = server.address();
    console.log(`LISTENING ${typeof address === 'object' && address ? address.port : port}`);
  });
}
