import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { packageRoot } from '../pkg.js';
import { Controller } from '../controller/controller.js';

/**
 * `bootfleet controller --config <file>`: validates the config before binding anything, starts
 * every service, and stops cleanly on SIGINT/SIGTERM (leases and nodes flushed to stateDir).
 */
export async function controllerCommand(opts: { config: string }): Promise<void> {
  const config = await loadConfig(opts.config, packageRoot());
  const log = createLogger();
  const controller = new Controller(config, log);
  await controller.start();
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      log.info({ signal }, 'stopping');
      controller.stop().finally(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
