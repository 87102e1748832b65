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
    .command('controller', 'run the controller: DHCP, TFTP and HTTP boot services', (y) =>
      config(y)
        .example('sudo $0 controller', 'run with ./bootfleet.yaml (logs on stderr; BOOTFLEET_LOG=debug for more)')
        .example('sudo $0 controller --config /etc/bootfleet/bootfleet.yaml', 'what the systemd unit runs (contrib/bootfleet.service)'),
    async (a) => {
      await (await import('./commands/controller.js')).controllerCommand({ config: a.config });
    })
    .command('node <action> [mac]', 'nodes: list, approve, drain, undrain, maintenance, reboot, forget, add (approve ahead of boot), set', (y) =>
      config(y)
        .positional('action', { choices: ['list', 'add', 'approve', 'drain', 'undrain', 'maintenance', 'reboot', 'forget', 'set'] as const, demandOption: true })
        .positional('mac', { type: 'string', describe: 'the node\'s MAC (add: use --mac or --serial)' })
        .option('json', { type: 'boolean', default: false, describe: 'list: print JSON' })
        .option('serial', { type: 'string', describe: 'add: a Raspberry Pi\'s serial, last 8 hex digits' })
        .option('model', { type: 'string', describe: 'add: pi3, pi3b+, pi4, pi400, cm4, pi5, zero2w, pi3a+' })
        .option('hostname', { type: 'string', describe: 'add/approve: its hostname (a DNS label)' })
        .option('image', { type: 'string', describe: 'add/approve: the image it boots, name[@version]' })
        .option('weight', { type: 'number', describe: 'set: capacity weight (a Pi 4 = 1)' })
        .option('label', { type: 'string', array: true, describe: 'set: key=value labels' })
        .example('$0 node list', 'every node, its state, sites and boot stages')
        .example('$0 node add --serial 9ffefdef --model pi4 --hostname web1', 'approve a Pi 4 by its serial before it boots')
        .example('$0 node approve 52:54:00:12:34:56', 'approve a pending machine')
        .example('$0 node drain 52:54:00:12:34:56', 'move its sites away (no failed requests)'),
      async (a) => {
        const node = await import('./commands/node.js');
        const mac = (): string => {
          if (!a.mac) throw new BootfleetError('ERR_USAGE', `node ${a.action} needs the node's MAC: bootfleet node ${a.action} 52:54:00:12:34:56`);
          return a.mac;
        };
        switch (a.action) {
          case 'list':
            return void (await node.nodeListCommand({ config: a.config, json: a.json }));
          case 'forget':
            return node.nodeForgetCommand({ config: a.config, mac: mac() });
          case 'approve':
            return node.nodeApproveCommand({ config: a.config, mac: mac(), ...(a.hostname ? { hostname: a.hostname } : {}), ...(a.image ? { image: a.image } : {}) });
          case 'drain':
          case 'undrain':
          case 'maintenance':
            return node.nodeAdminCommand({ config: a.config, mac: mac(), admin: a.action === 'undrain' ? 'active' : a.action === 'drain' ? 'drain' : 'maintenance' });
          case 'reboot':
            return node.nodeRebootCommand({ config: a.config, mac: mac() });
          case 'set':
            return node.nodeSetCommand({ config: a.config, mac: mac(), ...(a.weight !== undefined ? { weight: a.weight } : {}), ...(a.label ? { labels: a.label } : {}) });
          case 'add':
            if (!a.serial && !a.mac) throw new BootfleetError('ERR_USAGE', 'node add needs --mac <MAC> or --serial <8 hex digits>');
            await node.nodeAddCommand({
              config: a.config,
              ...(a.serial ? { serial: a.serial } : {}), ...(a.mac ? { mac: a.mac } : {}), ...(a.model ? { model: a.model } : {}),
              ...(a.hostname ? { hostname: a.hostname } : {}), ...(a.image ? { image: a.image } : {}),
            });
        }
      })
    .command('site <action> [name] [folder]', 'sites: add, deploy content, list, scale, remove', (y) =>
      config(y)
        .positional('action', { choices: ['add', 'deploy', 'list', 'scale', 'rm'] as const, demandOption: true })
        .positional('name', { type: 'string', describe: 'the site\'s name' })
        .positional('folder', { type: 'string', describe: 'deploy: the folder holding its files' })
        .option('domain', { type: 'string', array: true, describe: 'add: a domain it answers (repeat for more)' })
        .option('content', { type: 'string', describe: 'add: deploy this folder as its first content' })
        .option('weight', { type: 'number', describe: 'add: expected load (1 for an ordinary site)' })
        .option('min-replicas', { type: 'number', describe: 'add/scale: nodes that always serve it' })
        .option('max-replicas', { type: 'number', describe: 'add/scale: nodes it may get when overloaded' })
        .option('capacity', { type: 'number', describe: 'add/scale: requests/s one node serves before help is added' })
        .option('health-path', { type: 'string', describe: 'add: path the balancer checks (default /)' })
        .option('health-status', { type: 'number', describe: 'add: status it must answer (default 200)' })
        .option('health-text', { type: 'string', describe: 'add: text the page must contain' })
        .option('affinity-cookie', { type: 'string', describe: 'add: keep a visitor on one node with this cookie' })
        .option('json', { type: 'boolean', default: false, describe: 'list: print JSON' })
        .example('$0 site add shop --domain shop.example --content ./shop --min-replicas 2', 'a site on two nodes')
        .example('$0 site deploy shop ./shop', 'new content, no reboot')
        .example('$0 site list', 'where each site runs and its request rate'),
      async (a) => {
        const site = await import('./commands/site.js');
        const name = (): string => {
          if (!a.name) throw new BootfleetError('ERR_USAGE', `site ${a.action} needs the site's name: bootfleet site ${a.action} shop`);
          return a.name;
        };
        const num = (v: number | undefined, key: string): Record<string, number> => (v === undefined ? {} : { [key]: v });
        switch (a.action) {
          case 'list':
            return void (await site.siteListCommand({ config: a.config, json: a.json }));
          case 'rm':
            return site.siteRmCommand({ config: a.config, name: name() });
          case 'deploy':
            if (!a.folder) throw new BootfleetError('ERR_USAGE', 'site deploy needs the folder: bootfleet site deploy shop ./shop');
            return void (await site.siteDeployCommand({ config: a.config, name: name(), dir: a.folder }));
          case 'scale':
            return void (await site.siteScaleCommand({ config: a.config, name: name(), ...num(a['min-replicas'], 'minReplicas'), ...num(a['max-replicas'], 'maxReplicas'), ...num(a.capacity, 'capacity') }));
          case 'add':
            return void (await site.siteAddCommand({
              config: a.config, name: name(), domains: a.domain ?? [],
              ...num(a.weight, 'weight'), ...num(a['min-replicas'], 'minReplicas'), ...num(a['max-replicas'], 'maxReplicas'), ...num(a.capacity, 'capacity'),
              ...(a['health-path'] ? { healthPath: a['health-path'] } : {}), ...num(a['health-status'], 'healthStatus'),
              ...(a['health-text'] ? { healthText: a['health-text'] } : {}), ...(a['affinity-cookie'] ? { affinityCookie: a['affinity-cookie'] } : {}),
              ...(a.content ? { content: a.content } : {}),
            }));
        }
      })
    .command(['assign <site> <node>', 'unassign <site> <node>'], 'pin a site to a node by hand (unassign: unpin)', (y) =>
      config(y)
        .positional('site', { type: 'string', demandOption: true })
        .positional('node', { type: 'string', demandOption: true, describe: 'MAC or hostname' })
        .example('$0 assign shop web1', 'shop always runs on web1 (while web1 is up)'),
      async (a) => {
        const unassign = String(a._[0]) === 'unassign';
        await (await import('./commands/site.js')).assignCommand({ config: a.config, site: a.site, node: a.node, unassign });
      })
    .command('balancer <action>', 'the load balancer config rendered from the placement', (y) =>
      config(y)
        .positional('action', { choices: ['render'] as const, demandOption: true })
        .option('kind', { choices: ['haproxy', 'nginx', 'apache', 'pen', 'keepalived'] as const, default: 'haproxy' as const })
        .option('out', { type: 'string', describe: 'write the files into this folder instead of printing them' })
        .option('model', { type: 'string', describe: 'render from a balancer model file (JSON/YAML) instead of the running controller\'s placement' })
        .example('$0 balancer render --kind nginx --out /etc/nginx/bootfleet', 'nginx config for the current placement'),
      async (a) => {
        if (a.model) {
          await (await import('./balancer/command.js')).balancerRenderCommand({ kind: a.kind, model: a.model, ...(a.out ? { out: a.out } : {}) });
          return;
        }
        await (await import('./commands/balancer.js')).balancerRenderCommand({ config: a.config, kind: a.kind, ...(a.out ? { out: a.out } : {}) });
      })
    .command('rollout <action>', 'rolling updates: reboot nodes onto a new image, a few at a time, with no failed request (docs/rollout.md)', (y) =>
      config(y)
        .positional('action', { choices: ['start', 'status', 'pause', 'resume', 'abort'] as const, demandOption: true })
        .option('image', { type: 'string', describe: 'start: the image, <name>@<version> (bootfleet image list)' })
        .option('nodes', { type: 'string', describe: 'start: all (default), or MACs, hostnames, label=value, comma-separated' })
        .option('max-unavailable', { type: 'number', describe: 'start: nodes out of service at once (default 1)' })
        .option('canary', { type: 'number', describe: 'start: nodes rolled and observed alone first (default 1)' })
        .option('min-healthy-time', { type: 'string', describe: 'start: how long a readmitted node is watched for errors, e.g. 10s (default 10s)' })
        .option('boot-deadline', { type: 'string', describe: 'start: time from reboot to serving, e.g. 5m (default 5m)' })
        .option('drain-deadline', { type: 'string', describe: 'start: time open sessions get to finish, e.g. 30s (default 30s)' })
        .option('json', { type: 'boolean', default: false, describe: 'status: print JSON' })
        .option('follow', { alias: 'f', type: 'boolean', default: false, describe: 'status/start: redraw until the rollout ends' })
        .example('$0 rollout start --image tiny-web@0123456789ab-amd64', 'every node onto that build, one at a time')
        .example('$0 rollout status --follow', 'a progress bar per node until it ends'),
      async (a) => {
        const rollout = await import('./commands/rollout.js');
        if (a.action === 'status') return void (await rollout.rolloutStatusCommand({ config: a.config, json: a.json, follow: a.follow }));
        if (a.action !== 'start') return void (await rollout.rolloutVerbCommand({ config: a.config, verb: a.action }));
        if (!a.image) throw new BootfleetError('ERR_USAGE', 'rollout start needs --image <name>@<version> (bootfleet image list)');
        const { durationSeconds } = await import('./rollout/duration.js');
        const dur = (v: string | undefined, flag: string, key: string): Record<string, number> => (v === undefined ? {} : { [key]: durationSeconds(v, flag) });
        const num = (v: number | undefined, key: string): Record<string, number> => (v === undefined ? {} : { [key]: v });
        await rollout.rolloutStartCommand({
          config: a.config, image: a.image, follow: a.follow, ...(a.nodes ? { nodes: a.nodes } : {}),
          ...num(a['max-unavailable'], 'maxUnavailable'), ...num(a.canary, 'canary'),
          ...dur(a['min-healthy-time'], 'min-healthy-time', 'minHealthySeconds'), ...dur(a['boot-deadline'], 'boot-deadline', 'bootDeadlineSeconds'),
          ...dur(a['drain-deadline'], 'drain-deadline', 'drainSeconds'),
        });
      })
    .command('image <action> [target]', 'build and manage boot images (recipes in images/, overlays in overlays/)', (y) =>
      y.positional('action', { choices: ['build', 'list', 'inspect', 'rm'] as const, demandOption: true })
        .positional('target', { type: 'string', describe: 'build: a recipe file (images/tiny-web.yaml); inspect/rm: name[@version]' })
        .option('arch', { type: 'string', choices: ['amd64', 'arm64'], describe: 'build only this architecture' })
        .option('store', { type: 'string', describe: 'image store folder (default $BOOTFLEET_STORE or ./var/images)' })
        .option('state-dir', { type: 'string', describe: 'controller state folder, for the in-use check of rm' })
        .option('json', { type: 'boolean', default: false, describe: 'list: print JSON (inspect always does)' })
        .example('sudo $0 image build images/tiny-web.yaml', 'kernel, initramfs and root layers for every arch of the recipe')
        .example('$0 image list --json', 'every built image as JSON')
        .example('$0 image inspect tiny-web', 'the newest build\'s manifest: files, sizes, sha256')
        .example('$0 image rm tiny-web@28b2fbe392f1-amd64', 'remove a build no node uses'),
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
    .command('flash', 'write a card that gets a Raspberry Pi onto the network (EEPROM update, bootcode.bin, or SD-assisted boot)', (y) =>
      flashYargs(y)
        .example('$0 flash --model pi4 --eeprom pieeprom.bin --recovery recovery.bin --out card.img', 'a card that makes a Pi 4 boot from the network first')
        .example('$0 flash --model pi3 --out card.img', 'bootcode.bin on FAT for a Pi 3 that cannot netboot on its own')
        .example('$0 flash --model zero2w --image tiny-web --controller http://198.18.0.1:8080 --device /dev/sdX --yes', 'SD-assisted boot, written to a card'),
      async (a) => {
        await (await import('./commands/flash.js')).flashCommand(a);
      })
    .command('demo', 'the whole product on this machine, no hardware: build an image, boot QEMU nodes, play the cluster story, open the web UI', (y) =>
      y.option('fast', { type: 'boolean', default: false, describe: 'skip the rolling update' })
        .option('wait', { type: 'boolean', default: true, describe: 'keep the web UI open until Ctrl-C (--no-wait: end after the story)' })
        .example('sudo npx bootfleet demo', 'the story, then the web UI until Ctrl-C'),
      async (a) => {
        await (await import('./commands/demo.js')).demoCommand({ fast: a.fast, noWait: !a.wait });
      })
    .command('lab <action>', 'the virtual lab: a namespace, a controller and QEMU nodes on one machine', (y) =>
      y.positional('action', { choices: ['demo'] as const, demandOption: true })
        .option('nodes', { type: 'number', default: 2, describe: 'QEMU nodes to boot' })
        .option('keep', { type: 'boolean', default: false, describe: 'keep the lab running until Ctrl-C' })
        .example('sudo $0 lab demo', 'boot two QEMU nodes from a controller in a throw-away namespace')
        .example('sudo $0 lab demo --nodes 3 --keep', 'three nodes, kept until Ctrl-C'),
      async (a) => {
        await (await import('./commands/lab.js')).labDemoCommand({ nodes: a.nodes, keep: a.keep });
      })
    .command('init', 'write a commented bootfleet.yaml for this machine (asks on a terminal, or takes flags)', (y) =>
      config(y)
        .option('interface', { type: 'string', describe: 'the inside (cluster) interface: DHCP, TFTP and boots happen here only' })
        .option('address', { type: 'string', describe: 'its address/prefix (default: the address it has)' })
        .option('dhcp', { choices: ['full', 'proxy', 'off'] as const, describe: 'DHCP mode (default: proxy when another DHCP server answers on the interface, else full)' })
        .option('range', { type: 'string', describe: 'full mode: addresses to hand out, first-last' })
        .option('outside', { type: 'string', describe: 'the outside (home/office) interface, if any' })
        .option('nat', { type: 'boolean', describe: 'let nodes reach the outside through this machine' })
        .option('admin-listen', { type: 'string', array: true, describe: 'admin-only listener address:port (repeat for more)' })
        .option('balancer-listen', { type: 'string', array: true, describe: 'run the managed balancer on address:port (repeat for more)' })
        .option('state-dir', { type: 'string', describe: 'state folder (default ./var, or /var/lib/bootfleet for a config under /etc)' })
        .option('probe', { type: 'boolean', default: true, describe: 'ask for DHCP offers on the inside interface (--no-probe: do not)' })
        .option('force', { type: 'boolean', default: false, describe: 'overwrite an existing file' })
        .example('sudo $0 init', 'answer a few questions')
        .example('sudo $0 init --interface br0 --address 198.18.0.1/24 --dhcp full --range 198.18.0.100-198.18.0.199', 'one network, full DHCP')
        .example('sudo $0 init --interface eth1 --address 198.18.0.1/24 --outside eth0 --nat --admin-listen 203.0.113.5:8443 --balancer-listen 203.0.113.5:80 -c /etc/bootfleet/bootfleet.yaml', 'two networks'),
      async (a) => {
        await (await import('./commands/init.js')).initCommand({
          config: a.config, force: a.force, probe: a.probe,
          ...(a.interface ? { interface: a.interface } : {}), ...(a.address ? { address: a.address } : {}), ...(a.dhcp ? { dhcp: a.dhcp } : {}),
          ...(a.range ? { range: a.range } : {}), ...(a.outside ? { outside: a.outside } : {}), ...(a.nat !== undefined ? { nat: a.nat } : {}),
          ...(a['admin-listen'] ? { adminListen: a['admin-listen'] } : {}), ...(a['balancer-listen'] ? { balancerListen: a['balancer-listen'] } : {}),
          ...(a['state-dir'] ? { stateDir: a['state-dir'] } : {}),
        });
      })
    .command('doctor', 'check this machine for the controller: privileges, config, interface, ports, packages, other DHCP servers, images, admin token', (y) =>
      config(y)
        .option('json', { type: 'boolean', default: false, describe: 'print the checks as JSON' })
        .option('probe', { type: 'boolean', default: true, describe: 'send one DHCPDISCOVER on controller.interface to find other DHCP servers (--no-probe: do not)' })
        .example('sudo $0 doctor', 'check with ./bootfleet.yaml; exit code 1 when anything FAILs')
        .example('sudo $0 doctor -c /etc/bootfleet/bootfleet.yaml --json', 'the same as JSON'),
      async (a) => {
        await (await import('./commands/doctor.js')).doctorCommand({ config: a.config, json: a.json, probe: a.probe });
      })
    .demandCommand(1, 'name a command')
    .example('sudo $0 init && sudo $0 doctor && sudo $0 controller', 'a config for this machine, a check, then the controller')
    .epilogue('Every command and its output: docs/cli.md. Read commands take --json.')
    .wrap(Math.min(120, process.stdout.columns || 100))
    .strict()
    .fail((msg, err) => {
      // yargs' own usage messages ("Unknown argument", "Missing required argument") get the way to the flags.
      throw err ?? new BootfleetError('ERR_USAGE', `${msg}\n(see bootfleet ${argv.filter((x) => !x.startsWith('-')).slice(0, 1).join(' ')}${argv.length > 0 ? ' ' : ''}--help for the flags and examples)`);
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
