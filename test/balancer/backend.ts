import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

/** A tiny web node for balancer tests: it names itself and the Host it was asked for. */
export interface BackendOptions {
  name: string;
  port?: number;
  address?: string;
  healthPath?: string;
  healthStatus?: number;
  healthText?: string;
  /** listen() backlog (default 511). */
  backlog?: number;
  /** Drop the connection of every non-health request without answering (a node dying mid-request). */
  hangUp?: boolean;
}

export interface Backend {
  readonly name: string;
  readonly port: number;
  /** Requests per Host header, health checks excluded. */
  readonly hits: Map<string, number>;
  health: { status: number; text: string };
  /** Health checks seen, with the Host they carried. */
  readonly checks: string[];
  /** Methods of the non-health requests seen. */
  readonly methods: string[];
  close(): Promise<void>;
}

export async function startBackend(opts: BackendOptions): Promise<Backend> {
  const sockets = new Set<Socket>();
  const hits = new Map<string, number>();
  const checks: string[] = [];
  const methods: string[] = [];
  const health = { status: opts.healthStatus ?? 200, text: opts.healthText ?? 'OK' };
  const healthPath = opts.healthPath ?? '/health';
  const server: Server = createServer((req, res) => {
    const host = req.headers.host ?? '';
    if (req.url === healthPath) {
      checks.push(host);
      res.writeHead(health.status, { 'content-type': 'text/plain' });
      res.end(health.text);
      return;
    }
    hits.set(host, (hits.get(host) ?? 0) + 1);
    methods.push(req.method ?? '');
    if (opts.hangUp) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'x-node': opts.name });
    res.end(`${opts.name} ${host} ${req.url}\n`);
  });
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: opts.port ?? 0, host: opts.address ?? '127.0.0.1', backlog: opts.backlog ?? 511 }, resolve);
  });
  return {
    name: opts.name,
    port: (server.address() as AddressInfo).port,
    hits,
    health,
    checks,
    methods,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      }),
  };
}
