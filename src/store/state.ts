import { join } from 'node:path';
import { BootfleetError } from '../errors.js';
import { readJsonFile, writeFileAtomic } from './atomic.js';

/**
 * The controller's state store: a small key → JSON document store with a revision per key and
 * compare-and-swap writes. The file store below keeps one atomically written file per key in
 * `stateDir`; a distributed store (etcd) can implement the same interface, which is why every
 * change goes through {@link mutate}: read, change, write-if-unchanged, retry.
 */
export interface Versioned<T> {
  value: T;
  /**
   * 0 when the key does not exist yet; larger after every write (the file store counts +1, etcd
   * uses its cluster-wide revision, which may jump). Only compare it for equality.
   */
  revision: number;
}

export interface StateStore {
  get<T>(key: string): Promise<Versioned<T> | undefined>;
  /** Writes `value` if the key's revision is still `expected` (0: the key must not exist); the new revision, or a ConflictError. */
  put<T>(key: string, value: T, expected: number): Promise<number>;
  /** Calls `onChange` after every write of `key` (by this process or, for distributed stores, any). */
  watch(key: string, onChange: () => void): () => void;
}

/** A compare-and-swap write lost against another writer: read again and retry. */
export class ConflictError extends BootfleetError {
  override name = 'ConflictError';
  constructor(key: string, expected: number, actual: number) {
    super('ERR_STATE_CONFLICT', `state ${key}: expected revision ${expected}, found ${actual}`);
  }
}

/** Reads `key`, applies `change` and writes the result if nobody wrote in between; retries on conflict. */
export async function mutate<T>(store: StateStore, key: string, initial: T, change: (current: T) => T | Promise<T>, attempts = 20): Promise<Versioned<T>> {
  for (let i = 0; ; i++) {
    const current = (await store.get<T>(key)) ?? { value: initial, revision: 0 };
    const next = await change(structuredClone(current.value));
    try {
      return { value: next, revision: await store.put(key, next, current.revision) };
    } catch (err) {
      if (!(err instanceof ConflictError) || i >= attempts) throw err;
    }
  }
}

interface Envelope<T> {
  revision: number;
  value: T;
}

const KEY = /^[a-z][a-z0-9-]*$/;

/**
 * One JSON file per key under `dir` (`<key>.json`: `{revision, value}`), written atomically
 * (src/store/atomic.ts). Writes to one key are serialised in this process, so the revision check
 * and the write cannot interleave; only this process writes these files.
 */
export class FileStateStore implements StateStore {
  private readonly cache = new Map<string, Envelope<unknown>>();
  private readonly queues = new Map<string, Promise<unknown>>();
  private readonly watchers = new Map<string, Set<() => void>>();

  constructor(private readonly dir: string) {}

  async get<T>(key: string): Promise<Versioned<T> | undefined> {
    const env = await this.load<T>(key);
    return env.revision === 0 ? undefined : { value: structuredClone(env.value), revision: env.revision };
  }

  put<T>(key: string, value: T, expected: number): Promise<number> {
    const run = (this.queues.get(key) ?? Promise.resolve()).catch(() => undefined).then(async () => {
      const env = await this.load<T>(key);
      if (env.revision !== expected) throw new ConflictError(key, expected, env.revision);
      const next: Envelope<T> = { revision: expected + 1, value: structuredClone(value) };
      await writeFileAtomic(this.file(key), JSON.stringify(next, null, 1) + '\n');
      this.cache.set(key, next);
      for (const w of this.watchers.get(key) ?? []) w();
      return next.revision;
    });
    this.queues.set(key, run);
    return run;
  }

  watch(key: string, onChange: () => void): () => void {
    const set = this.watchers.get(key) ?? new Set();
    set.add(onChange);
    this.watchers.set(key, set);
    return () => set.delete(onChange);
  }

  private async load<T>(key: string): Promise<Envelope<T>> {
    if (!KEY.test(key)) throw new BootfleetError('ERR_INTERNAL', `state key ${key} is not a plain name`);
    const hit = this.cache.get(key);
    if (hit) return hit as Envelope<T>;
    const env = await readJsonFile<Envelope<T> | undefined>(this.file(key), undefined);
    const value = env ?? { revision: 0, value: undefined as T };
    this.cache.set(key, value);
    return value;
  }

  private file(key: string): string {
    return join(this.dir, `${key}.json`);
  }
}
