import { BootfleetError } from '../errors.js';
import { POWER_DRIVERS, type PowerDriver } from './types.js';

/** `rollout.power` and friends (docs/configuration.md). */
export interface PowerConfig {
  power: PowerDriver;
  /** `command` driver: a shell command; BOOTFLEET_MAC, BOOTFLEET_IP and BOOTFLEET_HOSTNAME are set. */
  command?: string;
  /** `ssh` driver: the user it logs in as. */
  sshUser: string;
}

export interface PowerTarget {
  mac: string;
  ip: string | undefined;
  hostname: string;
}

/** A process to run: the program, its arguments and extra environment. */
export interface PowerCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
}

/** The node label that picks a node's own driver (`bootfleet node set <mac> --label power=ssh`). */
export const POWER_LABEL = 'power';

/** The driver for a node: its `power` label when that names one, else `rollout.power`. */
export function powerOf(labels: Readonly<Record<string, string>>, config: PowerConfig): PowerDriver {
  const own = labels[POWER_LABEL];
  return own !== undefined && (POWER_DRIVERS as readonly string[]).includes(own) ? (own as PowerDriver) : config.power;
}

/**
 * The command that reboots a node with the ssh or command driver (the agent driver needs none: the
 * controller changes the node's reboot token and its agent reboots). ssh runs non-interactively
 * (BatchMode: a key, never a password prompt) and gives up connecting after 10 s; `reboot`
 * returns before the node goes down, or the connection drops, both count as asked.
 */
export function powerCommand(driver: Exclude<PowerDriver, 'agent'>, target: PowerTarget, config: PowerConfig): PowerCommand {
  if (driver === 'ssh') {
    if (!target.ip) throw new BootfleetError('ERR_USAGE', `cannot reboot ${target.hostname} (${target.mac}) over ssh: the controller knows no address for it`);
    return { file: 'ssh', args: ['-o', 'BatchMode=yes', '-o', 'ConnectTimeout=10', `${config.sshUser}@${target.ip}`, 'reboot'], env: {} };
  }
  if (!config.command) throw new BootfleetError('ERR_USAGE', `rollout.power is command but rollout.command is not set: give the command that power-cycles a node (docs/configuration.md)`);
  return {
    file: 'sh',
    args: ['-c', config.command],
    env: { BOOTFLEET_MAC: target.mac, BOOTFLEET_IP: target.ip ?? '', BOOTFLEET_HOSTNAME: target.hostname },
  };
}
