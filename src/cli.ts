#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BootfleetError, ConfigError, errorMessage } from './errors.js';

/**
 * The command table. Each command lives in src/commands/<name>.ts and is imported lazily so
 * `bootfleet node list` does not load the DHCP stack. This file is the only place that turns
 * errors into exit codes: 1 for a failure the message explains, 2 for wrong usage, 70 for a bug.
 */
const config = (y: Argv) => y.option('config', { alias: 'c', type: 'string', default: 'bootfleet.yaml', describe: 'controller config file' });

async function main(argv: string[]): Promise<void> {
  await yargs(argv)
    .scriptName('bootfleet')
    .command('controller', 'run the controller: DHCP, TFTP and HTTP boot services', config, async (a) => {
      await (await import('./commands/controller.js')).controllerCommand({ config: a.config });
    })
    .command('node <action>', 'nodes the controller has seen', (y) =>
      config(y)
        .positional('action', { choices: ['list'] as const, demandOption: true })
        .option('json', { type: 'boolean', default: false, describe: 'print JSON' }),
      async (a) => {
        await (await import('./commands/node.js')).nodeListCommand({ config: a.config, json: a.json });
      })
    .command('lab <action>', 'the virtual lab: a namespace, a controller and QEMU nodes on one machine', (y) =>
      y.positional('action', { choices: ['demo'] as const, demandOption: true })
        .option('nodes', { type: 'number', default: 2, describe: 'QEMU nodes to boot' })
        .option('keep', { type: 'boolean', default: false, describe: 'keep the lab running until Ctrl-C' }),
      async (a) => {
        await (await import('./commands/lab.js')).labDemoCommand({ nodes: a.nodes, keep: a.keep });
      })
    .demandCommand(1, 'name a command; see --help')
    .strict()
    .fail((msg, err) => {
      throw err ?? new BootfleetError('ERR_USAGE', msg);
    })
    .help()
    .parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  if (err instanceof ConfigError) {
    process.stderr.write(`bootfleet: ${err.message}\n`);
    process.exit(1);
  }
  if (err instanceof BootfleetError) {
    process.stderr.write(`bootfleet: ${err.message}\n`);
    process.exit(err.code === 'ERR_USAGE' ? 2 : 1);
  }
  process.stderr.write(`bootfleet: internal error: ${errorMessage(err)}\n${err instanceof Error ? err.stack ?? '' : ''}\n`);
  process.exit(70);
});
