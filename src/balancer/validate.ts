import { isIP } from 'node:net';
import { ConfigError } from '../errors.js';
import type { BalancerModel, BalancerSite } from './model.js';
import { serverName } from './names.js';

const SITE_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
const LABEL_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const NODE_RE = /^[A-Za-z0-9:._-]{1,64}$/;
// Printable ASCII path characters that need no quoting in any of the five config languages.
const CHECK_PATH_RE = /^\/[A-Za-z0-9._~\-/?=&%+:@,]*$/;
const COOKIE_RE = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const STATE_DIR_RE = /^\/[A-Za-z0-9._/-]*$/;
/** sun_path is 108 bytes with the NUL; the longest socket we put in stateDir is master.sock. */
const MAX_SOCKET_PATH = 107;

/** Lower-case DNS host name: dot-separated labels, no trailing dot, ≤ 253 characters. */
export function isHostName(text: string): boolean {
  return text.length <= 253 && text.split('.').every((label) => LABEL_RE.test(label));
}

/**
 * Refuses a model no balancer should be given, with every problem at once, each starting with
 * the field to fix (`sites[1].domains[0]: …`). Throws ConfigError (ERR_CONFIG_INVALID).
 */
export function validateModel(model: BalancerModel): void {
  const problems = modelProblems(model);
  if (problems.length > 0) throw new ConfigError('balancer model', problems);
}

export function modelProblems(model: BalancerModel): string[] {
  const problems: string[] = [];
  const p = (where: string, what: string): void => {
    problems.push(`${where}: ${what}`);
  };
  if (!Number.isInteger(model.generation) || model.generation < 0) p('generation', 'must be a non-negative integer');
  checkStateDir(model.paths?.stateDir, p);
  if (!Array.isArray(model.listen) || model.listen.length === 0) p('listen', 'needs at least one { address, port }');
  const endpoints = new Map<string, string>();
  const claim = (where: string, ep: { address: string; port: number }): void => {
    const key = `${ep.address}:${ep.port}`;
    const other = endpoints.get(key);
    if (other) p(where, `${key} is already used by ${other}`);
    else endpoints.set(key, where);
  };
  (model.listen ?? []).forEach((l, i) => {
    if (checkEndpoint(`listen[${i}]`, l, p)) claim(`listen[${i}]`, l);
  });
  const t = model.timeouts?.serverMs;
  if (t !== undefined && (!Number.isInteger(t) || t < 100 || t > 3_600_000)) p('timeouts.serverMs', 'must be an integer from 100 to 3600000');

  const siteIds = new Map<string, number>();
  const domains = new Map<string, string>();
  const nodeNames = new Map<string, string>();
  const nodeAddress = new Map<string, string>();
  (model.sites ?? []).forEach((site, i) => {
    const at = `sites[${i}]`;
    if (!SITE_ID_RE.test(site.id ?? '')) p(`${at}.id`, `"${site.id}" must match [a-z0-9][a-z0-9-]* (at most 63 characters)`);
    else if (siteIds.has(site.id)) p(`${at}.id`, `"${site.id}" is also sites[${siteIds.get(site.id)}]`);
    else siteIds.set(site.id, i);
    if (!Array.isArray(site.domains) || site.domains.length === 0) p(`${at}.domains`, 'needs at least one host name');
    (site.domains ?? []).forEach((d, j) => {
      if (!isHostName(d)) p(`${at}.domains[${j}]`, `"${d}" is not a lower-case host name (labels a-z 0-9 -, no trailing dot, no wildcard)`);
      else if (domains.has(d)) p(`${at}.domains[${j}]`, `"${d}" is already a domain of ${domains.get(d)}`);
      else domains.set(d, `site "${site.id}"`);
    });
    checkCheck(`${at}.check`, site.check, p);
    if (site.affinity !== undefined && !COOKIE_RE.test(site.affinity.cookie ?? '')) {
      p(`${at}.affinity.cookie`, `"${site.affinity.cookie}" must match [A-Za-z][A-Za-z0-9_]* (nginx reads it as $cookie_<name>)`);
    }
    if (site.listen !== undefined && checkEndpoint(`${at}.listen`, site.listen, p)) claim(`${at}.listen`, site.listen);
    const inSite = new Set<string>();
    (site.servers ?? []).forEach((s, j) => {
      const sat = `${at}.servers[${j}]`;
      if (!NODE_RE.test(s.node ?? '')) {
        p(`${sat}.node`, `"${s.node}" must be 1–64 characters of A-Z a-z 0-9 : . _ -`);
        return;
      }
      const name = serverName(s.node);
      const owner = nodeNames.get(name);
      if (owner !== undefined && owner !== s.node) p(`${sat}.node`, `"${s.node}" and "${owner}" both become server name ${name}`);
      nodeNames.set(name, s.node);
      if (inSite.has(s.node)) p(`${sat}.node`, `node ${s.node} is listed twice in site "${site.id}"`);
      inSite.add(s.node);
      if (isIP(s.address ?? '') === 0) p(`${sat}.address`, `"${s.address}" is not an IP address`);
      else {
        const known = nodeAddress.get(s.node);
        if (known !== undefined && known !== s.address) p(`${sat}.address`, `node ${s.node} is ${known} in another site`);
        nodeAddress.set(s.node, s.address);
      }
      if (!isPort(s.port)) p(`${sat}.port`, `${s.port} is not a port (1–65535)`);
      if (!['ready', 'drain', 'maint'].includes(s.admin)) p(`${sat}.admin`, `"${s.admin}" must be ready, drain or maint`);
      if (s.weight !== undefined && (!Number.isInteger(s.weight) || s.weight < 1 || s.weight > 256)) p(`${sat}.weight`, 'must be an integer from 1 to 256 (use admin: drain for 0)');
    });
  });
  return problems;
}

function checkStateDir(dir: string | undefined, p: (where: string, what: string) => void): void {
  if (typeof dir !== 'string' || !STATE_DIR_RE.test(dir)) {
    p('paths.stateDir', `"${dir}" must be an absolute path of A-Z a-z 0-9 . _ - / (it is written into configs unquoted)`);
  } else if (`${dir.replace(/\/+$/, '')}/master.sock`.length > MAX_SOCKET_PATH) {
    p('paths.stateDir', `is too long for a unix socket path (${MAX_SOCKET_PATH} bytes with /master.sock)`);
  }
}

function checkEndpoint(where: string, ep: { address: string; port: number } | undefined, p: (where: string, what: string) => void): boolean {
  let ok = true;
  if (isIP(ep?.address ?? '') === 0) {
    p(`${where}.address`, `"${ep?.address}" is not an IP address`);
    ok = false;
  }
  if (!isPort(ep?.port)) {
    p(`${where}.port`, `${ep?.port} is not a port (1–65535)`);
    ok = false;
  }
  return ok;
}

function checkCheck(where: string, check: BalancerSite['check'] | undefined, p: (where: string, what: string) => void): void {
  if (!check) {
    p(where, 'is required ({ path, status })');
    return;
  }
  if (!CHECK_PATH_RE.test(check.path ?? '')) p(`${where}.path`, `"${check.path}" must start with / and use only A-Z a-z 0-9 . _ ~ - / ? = & % + : @ ,`);
  if (!Number.isInteger(check.status) || check.status < 100 || check.status > 599) p(`${where}.status`, `${check.status} is not an HTTP status (100–599)`);
  // Printable ASCII only: every renderer then escapes the text byte by byte the same way.
  if (check.text !== undefined && !/^[\x20-\x7e]{1,200}$/.test(check.text)) p(`${where}.text`, 'must be 1–200 printable ASCII characters');
  const iv = check.intervalMs;
  if (iv !== undefined && (!Number.isInteger(iv) || iv < 200 || iv > 60_000)) p(`${where}.intervalMs`, 'must be an integer from 200 to 60000');
}

function isPort(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}
