#!/usr/bin/env node
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { BootfleetError, ConfigError, errorMessage } from './errors.js';
// flash's flags are declared by its module (the flash libraries are small; no network stack).
import { flashYargs } from './commands/flash.js';

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
    .command('node <action> [mac]', 'nodes: list what booted; add (approve) a machine; forget one', (y) =>
      config(y)
        .positional('action', { choices: ['list', 'add', 'forget'] as const, demandOption: true })
        .positional('mac', { type: 'string', describe: 'forget: the node\'s MAC' })
        .option('json', { type: 'boolean', default: false, describe: 'list: print JSON' })
        .option('serial', { type: 'string', describe: 'add: a Raspberry Pi\'s serial, last 8 hex digits' })
        .option('mac', { type: 'string', describe: 'add: the machine\'s MAC (a PC, or a Pi that asks under its MAC)' })
        .option('model', { type: 'string', describe: 'add: pi3, pi3b+, pi4, pi400, cm4, pi5, zero2w, pi3a+' })
        .option('hostname', { type: 'string', describe: 'add: its hostname (a DNS label)' })
        .option('image', { type: 'string', describe: 'add: the image it boots, name[@version]' })
        .example('$0 node add --serial 9ffefdef --model pi4 --hostname web1', 'approve a Pi 4 by its serial')
        .example('$0 node add --mac 52:54:00:12:34:56', 'approve a PC (with policy.admit.pc: approve)'),
      async (a) => {
        const node = await import('./commands/node.js');
        if (a.action === 'list') return void (await node.nodeListCommand({ config: a.config, json: a.json }));
        if (a.action === 'forget') {
          const mac = a.mac;
          if (!mac) throw new BootfleetError('ERR_USAGE', 'node forget needs the node\'s MAC: bootfleet node forget 52:54:00:12:34:56');
          return node.nodeForgetCommand({ config: a.config, mac });
        }
        if (!a.serial && !a.mac) throw new BootfleetError('ERR_USAGE', 'node add needs --mac <MAC> or --serial <8 hex digits>');
        await node.nodeAddCommand({
          config: a.config,
          ...(a.serial ? { serial: a.serial } : {}), ...(a.mac ? { mac: a.mac } : {}), ...(a.model ? { model: a.model } : {}),
          ...(a.hostname ? { hostname: a.hostname } : {}), ...(a.image ? { image: a.image } : {}),
        });
      })
    .command('image <action> [target]', 'build and manage boot images (recipes in images/, overlays in overlays/)', (y) =>
      y.positional('action', { choices: ['build', 'list', 'inspect', 'rm'] as const, demandOption: true })
        .positional('target', { type: 'string', describe: 'build: a recipe file (images/tiny-web.yaml); inspect/rm: name[@version]' })
        .option('arch', { type: 'string', choices: ['amd64', 'arm64'], describe: 'build only this architecture' })
        .option('store', { type: 'string', describe: 'image store folder (default $BOOTFLEET_STORE or ./var/images)' })
        .option('state-dir', { type: 'string', describe: 'controller state folder, for the in-use check of rm' })
        .option('json', { type: 'boolean', default: false }),
      async (a) => {
        const image = await import('./commands/image.js');
        const need = (what: string): string => {
          if (!a.target) throw new BootfleetError('ERR_USAGE', `image ${a.action} needs ${what}`);
          return a.target;
        };
        const store = a.store ? { store: a.store } : {};
        switch (a.action) {
          case 'build':
            await image.imageBuildCommand({ recipe: need('a recipe file, e.g. images/tiny-web.yaml'), ...(a.arch ? { arch: a.arch } : {}), ...store });
            break;
          case 'list':
            await image.imageListCommand({ json: a.json, ...store });
            break;
          case 'inspect':
            await image.imageInspectCommand({ ref: need('an image name[@version]'), ...store });
            break;
          case 'rm':
            await image.imageRmCommand({ ref: need('an image name[@version]'), ...store, ...(a.stateDir ? { stateDir: a.stateDir } : {}) });
            break;
        }
      })
    .command('flash', 'write a card that gets a Raspberry Pi onto the network (EEPROM update, bootcode.bin, or SD-assisted boot)', (y) => flashYargs(y),
      async (a) => {
        await (await import('./commands/flash.js')).flashCommand(a);
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
