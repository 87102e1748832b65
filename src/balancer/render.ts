import type { BalancerKind, BalancerModel, RenderedFile } from './model.js';
import { validateModel } from './validate.js';
import { renderHaproxy } from './haproxy/render.js';
import { renderNginx } from './nginx.js';
import { renderApache } from './apache.js';
import { renderPen } from './pen.js';
import { renderKeepalived } from './keepalived.js';

/**
 * The config files for one balancer kind, from the model: pure and deterministic (sites and
 * servers are sorted, so a reordered placement renders the same text). Refuses an invalid model
 * with ConfigError naming each field to fix.
 */
export function renderBalancer(kind: BalancerKind, model: BalancerModel): RenderedFile[] {
  validateModel(model);
  switch (kind) {
    case 'haproxy':
      return renderHaproxy(model);
    case 'nginx':
      return renderNginx(model);
    case 'apache':
      return renderApache(model);
    case 'pen':
      return renderPen(model);
    case 'keepalived':
      return renderKeepalived(model);
  }
}
