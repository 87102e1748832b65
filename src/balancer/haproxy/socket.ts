import { createConnection } from 'node:net';
import { BootfleetError } from '../../errors.js';

/**
 * Sends `payload` on a fresh unix-socket connection to HAProxy and resolves with everything it
 * answers until it closes the connection. A reply that does not end within `timeoutMs` is an
 * error, never a success: the command may or may not have taken effect (docs/balancer.md,
 * "Runtime API").
 */
export function askSocket(path: string, payload: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let settled = false;
    const sock = createConnection(path);
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const what = JSON.stringify(payload.trim());
    const timer = setTimeout(() => finish(new BootfleetError('ERR_COMMAND_FAILED', `haproxy socket ${path}: no complete reply to ${what} within ${timeoutMs} ms; its effect is unknown`)), timeoutMs);
    sock.on('connect', () => sock.write(payload));
    sock.on('data', (c: Buffer) => chunks.push(c));
    sock.on('end', () => finish());
    sock.on('error', (err) => finish(new BootfleetError('ERR_COMMAND_FAILED', `haproxy socket ${path}: ${err.message} (sending ${what})`, { cause: err })));
  });
}

/** Parses HAProxy's CSV (`show stat`): fields with a comma or quote are double-quoted. */
export function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}
