import { basename } from 'node:path';
import type { RenderedFile } from '../model.js';

/**
 * keepalived.conf (keepalived 2.2.7) for the balancer pair: one VRRP instance (RFC 5798) that keeps
 * the virtual address on one of the controllers, and a check that takes it away from a controller
 * whose HAProxy is gone. Every setting is argued in docs/balancer.md ("Balancer pair (VRRP)").
 */
export const VRRP_FILES = { config: 'keepalived.conf', check: 'haproxy-alive', down: 'haproxy-down' } as const;

export interface VrrpOptions {
  /** The virtual address with its prefix, e.g. 198.18.0.100/24. */
  address: string;
  interface: string;
  /** VRRP virtual router id, 1–255. */
  routerId: number;
  /** 1–254. */
  priority: number;
  /** Where keepalived's files live (absolute); the check script is written there. */
  dir: string;
  /** The managed HAProxy: its binary and pid file. */
  haproxy: { binary: string; pidFile: string };
  /** The user keepalived runs the check as: the one it runs as (it reads /proc only). */
  scriptUser: string;
  /** Shown in keepalived's log and adverts' logs, e.g. the controller name. */
  name: string;
}

/** Seconds between VRRP adverts; the backup takes over after 3 × this + skew (RFC 5798 §6.1). */
export const ADVERT_SECONDS = 1;

export function renderVrrp(o: VrrpOptions): RenderedFile[] {
  const dir = o.dir.replace(/\/+$/, '');
  const check = `${dir}/${VRRP_FILES.check}`;
  const config = [
    '# bootfleet balancer pair (docs/balancer.md "Balancer pair (VRRP)")',
    'global_defs {',
    `    router_id ${o.name}`,
    // VRRP version 3 (RFC 5798) rather than keepalived's default 2 (RFC 3768) for IPv4: same
    // election and timers, no authentication field (it never protected anything on a shared LAN).
    '    vrrp_version 3',
    // Scripts run as this user; without it keepalived looks for a keepalived_script user.
    `    script_user ${o.scriptUser}`,
    '    enable_script_security',
    '}',
    '',
    'vrrp_script haproxy_alive {',
    `    script "${check}"`,
    '    interval 1',
    '    timeout 1',
    // Two misses in a row: one slow fork on a busy host does not move the address.
    '    fall 2',
    '    rise 2',
    '}',
    '',
    // The controller writes 1 here the moment its HAProxy child exits (BalancerService);
    // keepalived watches the file with inotify, so the address leaves without waiting for a check.
    'track_file haproxy_down {',
    `    file "${dir}/${VRRP_FILES.down}"`,
    '    weight 0',
    '}',
    '',
    'vrrp_instance bootfleet {',
    // Both start BACKUP and none preempts: a controller coming back (a restart, a restarted
    // keepalived) does not take the address from a working peer, which would cost a second move.
    '    state BACKUP',
    '    nopreempt',
    `    interface ${o.interface}`,
    `    virtual_router_id ${o.routerId}`,
    `    priority ${o.priority}`,
    `    advert_int ${ADVERT_SECONDS}`,
    '    virtual_ipaddress {',
    `        ${o.address} dev ${o.interface}`,
    '    }',
    // weight 0 (the default): a failing check puts the instance in FAULT, which gives up the address.
    '    track_file {',
    '        haproxy_down',
    '    }',
    // The script as well: it also sees an HAProxy the controller did not start itself (adopted
    // after a restart), whose exit no event reports.
    '    track_script {',
    '        haproxy_alive',
    '    }',
    '}',
  ];
  return [
    { path: VRRP_FILES.config, text: config.join('\n') + '\n' },
    { path: VRRP_FILES.check, text: checkScript(o), mode: 0o755 },
  ];
}

/**
 * Succeeds while the process named in HAProxy's pid file is HAProxy. The pid file holds the
 * master's pid; in master-worker mode the master leaves when a worker fails (HAProxy 2.6
 * configuration.txt "master-worker"), so the master covers both. Reading /proc needs no
 * permission on the other process, unlike `kill -0`.
 */
function checkScript(o: VrrpOptions): string {
  return [
    '#!/bin/sh',
    '# keepalived vrrp_script: exit 0 while the managed HAProxy runs (docs/balancer.md "Balancer pair (VRRP)")',
    `pid=$(cat ${shellQuote(o.haproxy.pidFile)} 2>/dev/null) || exit 1`,
    `[ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = ${shellQuote(basename(o.haproxy.binary).slice(0, 15))} ]`,
    '',
  ].join('\n');
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'"'"'`)}'`;
}
