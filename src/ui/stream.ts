import type { RequestHandler, Response } from 'express';
import type { AppDeps } from '../http/app.js';
import { nodeViews } from '../http/api.js';
import { siteViews } from '../http/sites.js';
import { imagesView } from './views.js';

/** How often the state is compared with what was last sent (so at most one event a second). */
const TICK_MS = 1000;
/** A comment line this often keeps proxies and browsers from timing an idle stream out. */
const KEEPALIVE_MS = 15_000;

/** What the stream sends as `event: state`: the fleet, the sites and the images, as the admin API shows them. */
export function streamState(deps: AppDeps): Record<string, unknown> {
  const nodes = nodeViews(deps);
  return {
    generation: deps.cluster.current.generation,
    nodes,
    sites: siteViews(deps),
    images: imagesView(deps.images?.() ?? [], nodes).images,
    ...(deps.rollout ? { rollout: deps.rollout() ?? null } : {}),
  };
}

/**
 * One state computation for every open stream of an app: while anyone listens, once a second
 * the state is rendered and, when it differs from the last one sent, sent to all (cluster
 * generation, node states and heartbeats, balancer figures, rollout progress all show up as a
 * difference). Nothing runs while nobody listens.
 */
export class StreamHub {
  private readonly clients = new Set<Response>();
  private timer: NodeJS.Timeout | undefined;
  private last = '';
  private quietSince = Date.now();

  constructor(private readonly state: () => unknown) {}

  get listeners(): number {
    return this.clients.size;
  }

  add(res: Response): void {
    this.clients.add(res);
    const text = JSON.stringify(this.state());
    if (this.clients.size === 1) this.last = text;
    send(res, text);
    this.timer ??= setInterval(() => this.tick(), TICK_MS);
    this.timer.unref();
  }

  remove(res: Response): void {
    this.clients.delete(res);
    if (this.clients.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  private tick(): void {
    const text = JSON.stringify(this.state());
    if (text !== this.last) {
      this.last = text;
      this.quietSince = Date.now();
      for (const res of this.clients) send(res, text);
    } else if (Date.now() - this.quietSince >= KEEPALIVE_MS) {
      this.quietSince = Date.now();
      for (const res of this.clients) res.write(': keepalive\n\n');
    }
  }
}

function send(res: Response, json: string): void {
  res.write(`event: state\ndata: ${json}\n\n`);
}

/**
 * GET /api/stream: server-sent events (text/event-stream), `event: state` with {@link streamState}
 * at once and then whenever it changes, at most once a second. `?once` sends the first event and
 * ends (for scripts and tests). Admin.
 */
export function eventStream(deps: AppDeps): RequestHandler {
  const hub = new StreamHub(() => streamState(deps));
  return (req, res) => {
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      // A reverse proxy (nginx) must pass events on as they come, not buffer them.
      'X-Accel-Buffering': 'no',
    });
    res.write('retry: 2000\n\n');
    if (req.query['once'] !== undefined) {
      send(res, JSON.stringify(streamState(deps)));
      res.end();
      return;
    }
    hub.add(res);
    req.on('close', () => hub.remove(res));
  };
}
