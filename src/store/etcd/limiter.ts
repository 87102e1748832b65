import { BootfleetError } from '../../errors.js';

/** Why a task was turned away instead of run. */
export type Refusal = 'queue full' | 'waited too long';

export interface LimiterOptions {
  /** Tasks running at once. */
  concurrency: number;
  /** Tasks waiting beyond those; more are refused at once. */
  queue: number;
  /** A task still waiting after this long is refused when its turn comes (its caller has retried by then). */
  maxWaitMs: number;
  /** Told of each refusal (the owner logs it, rate-limited). */
  onRefused?: (why: Refusal, state: { running: number; waiting: number }) => void;
  now?: () => number;
}

interface Waiting {
  since: number;
  start: () => void;
  refuse: (why: Refusal) => void;
}

/**
 * A bounded concurrency gate: at most `concurrency` tasks run, at most `queue` wait in order, and
 * the rest are refused with ERR_STORE_BUSY instead of piling up. Pure bookkeeping around the
 * tasks it is given; no timers of its own.
 */
export class Limiter {
  private running = 0;
  private readonly waiting: Waiting[] = [];
  private readonly now: () => number;

  constructor(private readonly opts: LimiterOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** Tasks running and waiting now. */
  get state(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waiting.length };
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.opts.concurrency) await this.turn();
    else this.running++;
    try {
      return await task();
    } finally {
      this.next();
    }
  }

  /** Waits for a slot (handed over by next(), already counted as running), or is refused. */
  private turn(): Promise<void> {
    return new Promise((resolve, reject) => {
      const refuse = (why: Refusal): void => {
        this.opts.onRefused?.(why, this.state);
        reject(new BootfleetError('ERR_STORE_BUSY', `etcd request not sent: ${why} (${this.opts.concurrency} running, ${this.waiting.length} waiting)`));
      };
      if (this.waiting.length >= this.opts.queue) return refuse('queue full');
      this.waiting.push({ since: this.now(), start: resolve, refuse });
    });
  }

  /** A task ended: its slot goes to the oldest waiter still worth running. */
  private next(): void {
    for (let w = this.waiting.shift(); w; w = this.waiting.shift()) {
      if (this.now() - w.since <= this.opts.maxWaitMs) return w.start();
      w.refuse('waited too long');
    }
    this.running--;
  }
}
