import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { errorMessage } from '../errors.js';
import type { ContentStore } from '../cluster/content.js';
import type { SiteContent } from '../cluster/model.js';

export interface PeerContentOptions {
  content: ContentStore;
  /** Admin bases of the other live controllers (store.kind etcd). */
  peers: () => string[];
  adminToken: string;
  log: Logger;
}

/**
 * With several controllers, a site's content is uploaded through one of them and the others get
 * it on first use: the tar is fetched from a peer (`GET /api/sites/<name>/content/<version>`, with
 * the admin token every controller shares) and kept only if its sha256 is the one the shared
 * cluster state names, so a peer can hand over nothing else (docs/scale-out.md).
 */
export function peerContent(o: PeerContentOptions): (site: string, content: SiteContent) => Promise<boolean> {
  const inFlight = new Map<string, Promise<boolean>>();
  return (site, content) => {
    const key = `${site}@${content.version}`;
    let p = inFlight.get(key);
    if (!p) {
      p = fetchOnce(o, site, content).finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
}

async function fetchOnce(o: PeerContentOptions, site: string, content: SiteContent): Promise<boolean> {
  if (await stat(o.content.file(site, content.version)).then(() => true, () => false)) return true;
  for (const peer of o.peers()) {
    try {
      const res = await fetch(`${peer}/api/sites/${site}/content/${content.version}`, {
        headers: { authorization: `Bearer ${o.adminToken}` },
        signal: AbortSignal.timeout(120_000),
      });
      if (!res.ok) continue;
      const tar = Buffer.from(await res.arrayBuffer());
      const sha256 = createHash('sha256').update(tar).digest('hex');
      if (sha256 !== content.sha256) {
        o.log.warn({ site, version: content.version, peer, sha256 }, 'site content from a peer controller does not match the cluster state: refused');
        continue;
      }
      await o.content.put(site, tar);
      o.log.info({ site, version: content.version, peer, bytes: tar.length }, 'site content fetched from a peer controller');
      return true;
    } catch (err) {
      o.log.debug({ site, peer, err: errorMessage(err) }, 'peer controller did not hand over site content');
    }
  }
  return false;
}
