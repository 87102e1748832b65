import { loadConfig, type Config } from '../config.js';
import { packageRoot } from '../pkg.js';
import { readAdminToken } from '../auth/secrets.js';
import { BootfleetError, errorMessage } from '../errors.js';

/**
 * How CLI commands talk to a running controller: its admin API with the admin token. The token
 * is read from `<stateDir>/admin-token` (readable by the controller's user only) or
 * `$BOOTFLEET_TOKEN`; the URL is the controller's HTTP address or `$BOOTFLEET_URL`.
 */
export interface AdminClient {
  config: Config;
  url: string;
  /** `onUpload` (a Buffer body only) is told the bytes sent so far as the body streams out. */
  request<T>(method: 'GET' | 'POST' | 'DELETE' | 'PUT', path: string, body?: unknown, opts?: { onUpload?: (sent: number, total: number) => void }): Promise<T>;
}

/** A Buffer as a stream of 256 KiB chunks, reporting each as it is taken (upload progress). */
function counted(body: Buffer, onUpload: (sent: number, total: number) => void): ReadableStream<Uint8Array> {
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (sent >= body.length) {
        controller.close();
        return;
      }
      const chunk = body.subarray(sent, sent + 256 * 1024);
      sent += chunk.length;
      controller.enqueue(new Uint8Array(chunk));
      onUpload(sent, body.length);
    },
  });
}

export async function adminClient(configFile: string): Promise<AdminClient> {
  const config = await loadConfig(configFile, packageRoot());
  const url = (process.env['BOOTFLEET_URL'] ?? `http://${config.controller.address}:${config.controller.httpPort}`).replace(/\/$/, '');
  const token = process.env['BOOTFLEET_TOKEN'] ?? (await readAdminToken(config.controller.stateDir));
  return {
    config,
    url,
    async request<T>(method: string, path: string, body?: unknown, opts: { onUpload?: (sent: number, total: number) => void } = {}): Promise<T> {
      if (!token) {
        throw new BootfleetError('ERR_USAGE', `no admin token: ${config.controller.stateDir}/admin-token is missing or unreadable (run as the controller's user, or set BOOTFLEET_TOKEN); the controller creates it at its first start`);
      }
      let res: Response;
      try {
        const raw = Buffer.isBuffer(body);
        const stream = raw && opts.onUpload ? counted(body, opts.onUpload) : undefined;
        res = await fetch(`${url}${path}`, {
          method,
          headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': raw ? 'application/x-tar' : 'application/json' }) },
          ...(body === undefined ? {} : { body: stream ?? (raw ? new Uint8Array(body) : JSON.stringify(body)) }),
          // A streamed body must say so (fetch's half-duplex mode).
          ...(stream ? { duplex: 'half' } : {}),
          signal: AbortSignal.timeout(300_000),
        });
      } catch (err) {
        throw new BootfleetError('ERR_COMMAND_FAILED', `cannot reach the controller at ${url} (${errorMessage((err as { cause?: unknown }).cause ?? err)}): is it running? Start it with: bootfleet controller --config ${configFile}`, { cause: err });
      }
      if (res.status === 401) throw new BootfleetError('ERR_USAGE', `the controller at ${url} refused the admin token: use the token in ${config.controller.stateDir}/admin-token of that controller`);
      const text = await res.text();
      const json = text ? safeJson(text) : undefined;
      if (!res.ok) {
        const message = (json as { error?: string } | undefined)?.error ?? text.trim();
        throw new BootfleetError(res.status === 404 || res.status === 400 || res.status === 409 ? 'ERR_USAGE' : 'ERR_COMMAND_FAILED', message || `${method} ${path}: HTTP ${res.status}`);
      }
      return json as T;
    },
  };
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
