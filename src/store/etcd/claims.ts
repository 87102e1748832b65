import type { AddressClaims, ClaimResult } from '../../dhcp/claims.js';
import { BootfleetError } from '../../errors.js';
import { unavailable, type EtcdConnection } from './connect.js';

interface Claim {
  mac: string;
  /** Epoch ms: controllers compare it with their own clocks, so keep them in sync (NTP). */
  until: number;
}

/**
 * DHCP address claims in etcd: key `<prefix>dhcp/<ip>` = {mac, until}, written by a
 * compare-and-swap on the key's revision (create if absent), so of two controllers claiming one
 * address for different MACs at once exactly one succeeds. A claim by the same MAC extends it
 * (renewals, OFFER then ACK); an expired one is taken over.
 */
export class EtcdAddressClaims implements AddressClaims {
  constructor(private readonly conn: EtcdConnection, private readonly now: () => number = Date.now) {}

  async claim(ip: string, mac: string, until: number): Promise<ClaimResult> {
    const ns = this.conn.ns;
    const key = `dhcp/${ip}`;
    for (let attempt = 0; attempt < 10; attempt++) {
      try {
        const kv = (await ns.get(key).exec()).kvs[0];
        const current = kv ? (JSON.parse(kv.value.toString('utf8')) as Claim) : undefined;
        if (current && current.mac !== mac && current.until > this.now()) return { ok: false, mac: current.mac, until: current.until };
        const next: Claim = { mac, until: current?.mac === mac ? Math.max(current.until, until) : until };
        const compare = kv ? ns.if(key, 'Mod', '==', kv.mod_revision) : ns.if(key, 'Create', '==', 0);
        if ((await compare.then(ns.put(key).value(JSON.stringify(next))).commit()).succeeded) return { ok: true };
      } catch (err) {
        throw unavailable(this.conn.endpoints, err);
      }
      // Someone wrote the key in between: read it again.
    }
    throw new BootfleetError('ERR_STATE_CONFLICT', `dhcp claim of ${ip}: still contended after 10 attempts`);
  }

  async release(ip: string, mac: string): Promise<void> {
    const ns = this.conn.ns;
    const key = `dhcp/${ip}`;
    try {
      const kv = (await ns.get(key).exec()).kvs[0];
      if (!kv || (JSON.parse(kv.value.toString('utf8')) as Claim).mac !== mac) return;
      // Only if nobody wrote it since: a claim made in between stays.
      await ns.if(key, 'Mod', '==', kv.mod_revision).then(ns.delete().key(key)).commit();
    } catch (err) {
      throw unavailable(this.conn.endpoints, err);
    }
  }
}
