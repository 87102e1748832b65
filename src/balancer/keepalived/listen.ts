import type { BalancerListen } from '../model.js';

/**
 * The balancer's frontends from the config (pure): `balancer.listen`, else port 80 on the virtual
 * address when there is one (balancer.vip), else on the controller's address. A frontend on the
 * virtual address is `floating`: HAProxy binds it while the address is on the other controller.
 */
export function balancerListen(o: { listen?: string[] | undefined; vipAddress?: string | undefined; controllerAddress: string }): BalancerListen[] {
  const vip = o.vipAddress?.split('/')[0];
  const listen = o.listen ?? [`${vip ?? o.controllerAddress}:80`];
  return listen.map((l) => {
    const [address = '', port = '80'] = l.split(':');
    return { address, port: Number(port), ...(vip !== undefined && address === vip ? { floating: true } : {}) };
  });
}
