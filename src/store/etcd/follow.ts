import type { IKeyValue, Namespace, Watcher } from 'etcd3';

export interface FollowHandlers {
  put: (kv: IKeyValue) => void;
  delete: (kv: IKeyValue) => void;
  /**
   * After the watch (re)connects: events missed while it was down are replayed by etcd from the
   * last revision seen, unless that history was compacted; re-reading the range covers that.
   */
  resync?: () => void;
}

/**
 * Follows a key or a prefix under `ns` for as long as the returned function is not called. A
 * watch that fails for good (an `error` event: compacted history, the cluster gone too long) is
 * made again a second later rather than left dead.
 */
export type FollowRange = { key: string } | { prefix: string };

export function follow(ns: Namespace, range: FollowRange, h: FollowHandlers): () => void {
  let watcher: Watcher | undefined;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const start = (): void => {
    const builder = ns.watch();
    const b = 'key' in range ? builder.key(range.key) : builder.prefix(range.prefix);
    b.create().then((w) => {
      if (stopped) return void w.cancel();
      watcher = w;
      w.on('put', (kv) => h.put(kv));
      w.on('delete', (kv) => h.delete(kv));
      w.on('connected', () => h.resync?.());
      w.on('error', () => {
        void w.cancel();
        retry();
      });
      h.resync?.();
    }, retry);
  };
  const retry = (): void => {
    if (stopped) return;
    timer = setTimeout(start, 1000);
    timer.unref();
  };
  start();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    void watcher?.cancel();
  };
}
