import { setTimeout as sleep } from 'node:timers/promises';
import { BootfleetError } from '../../errors.js';
import type { ServerAdmin } from '../model.js';
import { askSocket, parseCsvLine } from './socket.js';

/** One `show stat` row, fields by the names in the CSV header (pxname, svname, scur, status …). */
export type StatRow = Record<string, string>;

/** One `show servers state` row, fields by the names in its `#` header (be_name, srv_admin_state …). */
export type ServerStateRow = Record<string, string>;

/** srv_admin_state bits (HAProxy 2.6 include/haproxy/server-t.h). */
export const ADMIN = { FMAINT: 0x01, IMAINT: 0x02, CMAINT: 0x04, FDRAIN: 0x08, IDRAIN: 0x10, RMAINT: 0x20, HMAINT: 0x40 } as const;

export interface Target {
  backend: string;
  server: string;
}

export interface FreshOptions {
  /** Give up after this long (the server stays in DRAIN). Default 30 s. */
  timeoutMs?: number;
  /** Also wait at least this long after leaving MAINT (covers `rise` checks). Default 0. */
  minMs?: number;
  /** Poll period. Default 100 ms. */
  pollMs?: number;
}

/**
 * HAProxy's runtime API (the stats socket, management.txt §9.3) in non-interactive mode: one
 * command per connection, a timeout on every call, and state changes serialized so two callers
 * never interleave a drain with a readmit. docs/balancer.md ("Runtime API").
 */
export class HaproxyRuntime {
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    readonly socket: string,
    readonly timeoutMs = 2000,
  ) {}

  /** A read-only command; resolves with its raw reply. */
  command(line: string): Promise<string> {
    if (/[\n\r]/.test(line)) throw new BootfleetError('ERR_INTERNAL', `haproxy command must be one line: ${JSON.stringify(line)}`);
    return askSocket(this.socket, `${line}\n`, this.timeoutMs);
  }

  /** A state-changing command: serialized, and any reply text (HAProxy's error message) is an error. */
  mutate(line: string): Promise<void> {
    if (line.includes(';')) throw new BootfleetError('ERR_INTERNAL', `haproxy command must not contain ';': ${JSON.stringify(line)}`);
    const run = async (): Promise<void> => {
      const reply = (await this.command(line)).trim();
      if (reply !== '') throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy refused "${line}": ${reply}`);
    };
    const next = this.chain.then(run, run);
    this.chain = next.catch(() => undefined);
    return next;
  }

  async showStat(): Promise<StatRow[]> {
    return parseStat(await this.command('show stat'));
  }

  /** The raw `show servers state` text: exactly what the server-state file must contain. */
  showServersState(backend?: string): Promise<string> {
    return this.command(backend ? `show servers state ${backend}` : 'show servers state');
  }

  async serversState(): Promise<ServerStateRow[]> {
    return parseServersState(await this.showServersState());
  }

  /** `show info` as key → value (Pid tells which worker answered). */
  async info(): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const line of (await this.command('show info')).split('\n')) {
      const i = line.indexOf(':');
      if (i > 0) out[line.slice(0, i)] = line.slice(i + 1).trim();
    }
    return out;
  }

  setServerState(backend: string, server: string, state: ServerAdmin): Promise<void> {
    return this.mutate(`set server ${backend}/${server} state ${state}`);
  }

  setWeight(backend: string, server: string, weight: number): Promise<void> {
    return this.mutate(`set server ${backend}/${server} weight ${weight}`);
  }

  /** Every site backend that has this server (a node's server has one name in all sites). */
  async backendsOf(server: string): Promise<string[]> {
    return (await this.showStat()).filter((r) => r.svname === server && r.pxname?.startsWith('be_site_')).map((r) => r.pxname ?? '');
  }

  /** Puts a node's server into `state` in every site at once; returns the backends touched. */
  async setNodeState(server: string, state: ServerAdmin): Promise<string[]> {
    const backends = await this.backendsOf(server);
    for (const be of backends) await this.setServerState(be, server, state);
    return backends;
  }

  /** Drains a node everywhere: no new load-balanced requests; its open sessions finish. */
  drainNode(server: string): Promise<string[]> {
    return this.setNodeState(server, 'drain');
  }

  /** Sessions still open or queued on a node, summed over all backends (scur + qcur). */
  async sessions(server: string): Promise<number> {
    return (await this.showStat()).filter((r) => r.svname === server).reduce((n, r) => n + Number(r.scur || 0) + Number(r.qcur || 0), 0);
  }

  /**
   * Waits until a server that left MAINT through DRAIN has been checked afresh: status exactly
   * "DRAIN" (not "DRAIN 1/2", which is health = rise, the value HAProxy gives a server leaving
   * MAINT before any check), last check L7OK, health at its maximum rise+fall-1. Rejects on
   * timeout; the server is then still in DRAIN. docs/balancer.md ("Readmitting").
   */
  async waitFresh(backend: string, server: string, opts: FreshOptions = {}): Promise<void> {
    const { held } = await this.pollFresh([{ backend, server }], opts, async () => undefined);
    if (held.length > 0) {
      const row = (await this.showStat()).find((r) => r.pxname === backend && r.svname === server);
      throw new BootfleetError('ERR_COMMAND_FAILED', `${backend}/${server} not freshly checked within ${opts.timeoutMs ?? 30_000} ms (status ${row?.status}, check ${row?.check_status} ${row?.check_desc ?? ''}); left in DRAIN`);
    }
  }

  /**
   * The readmit sequence for several servers at once: DRAIN (leaves MAINT, checks run, no
   * traffic), wait for fresh checks (waitFresh), then READY each as soon as it qualifies.
   * Servers whose checks do not qualify in time stay in DRAIN and are returned in `held`.
   */
  async readmit(targets: Target[], opts: FreshOptions = {}): Promise<{ readmitted: Target[]; held: Target[] }> {
    for (const t of targets) await this.setServerState(t.backend, t.server, 'drain');
    return this.pollFresh(targets, opts, (t) => this.setServerState(t.backend, t.server, 'ready'));
  }

  private async pollFresh(targets: Target[], opts: FreshOptions, onFresh: (t: Target) => Promise<void>): Promise<{ readmitted: Target[]; held: Target[] }> {
    const started = Date.now();
    const deadline = started + (opts.timeoutMs ?? 30_000);
    let waiting = [...targets];
    const done: Target[] = [];
    while (waiting.length > 0) {
      const rows = await this.showStat();
      const still: Target[] = [];
      for (const t of waiting) {
        const row = rows.find((r) => r.pxname === t.backend && r.svname === t.server);
        if (!row) throw new BootfleetError('ERR_COMMAND_FAILED', `haproxy has no server ${t.backend}/${t.server}`);
        if (isFresh(row) && Date.now() - started >= (opts.minMs ?? 0)) {
          await onFresh(t);
          done.push(t);
        } else still.push(t);
      }
      waiting = still;
      if (waiting.length === 0 || Date.now() >= deadline) break;
      await sleep(opts.pollMs ?? 100);
    }
    return { readmitted: done, held: waiting };
  }
}

/** DRAIN at full health after an L7OK check (a leading "* " marks a check in progress). */
export function isFresh(row: StatRow): boolean {
  const max = Number(row.check_rise) + Number(row.check_fall) - 1;
  return row.status === 'DRAIN' && (row.check_status ?? '').replace(/^\* /, '') === 'L7OK' && Number(row.check_health) === max;
}

/** `show stat` CSV → rows keyed by the header's field names (their number differs by version). */
export function parseStat(text: string): StatRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const head = lines.shift();
  if (!head?.startsWith('# ')) throw new BootfleetError('ERR_COMMAND_FAILED', `unexpected "show stat" reply: ${text.slice(0, 200)}`);
  const names = parseCsvLine(head.slice(2));
  return lines.map((line) => {
    const values = parseCsvLine(line);
    const row: StatRow = {};
    names.forEach((n, i) => {
      if (n !== '') row[n] = values[i] ?? '';
    });
    return row;
  });
}

/** `show servers state`: a version line ("1"), a `# ` header, then space-separated rows. */
export function parseServersState(text: string): ServerStateRow[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  if (lines[0]?.trim() !== '1') throw new BootfleetError('ERR_COMMAND_FAILED', `unexpected "show servers state" format: ${text.slice(0, 200)}`);
  const head = lines[1];
  if (!head?.startsWith('# ')) return [];
  const names = head.slice(2).trim().split(/\s+/);
  return lines.slice(2).filter((l) => !l.startsWith('#')).map((line) => {
    const values = line.trim().split(/\s+/);
    return Object.fromEntries(names.map((n, i) => [n, values[i] ?? '']));
  });
}

/** The rows of a `show servers state` text minus the servers for which `drop` is true. */
export function filterServersState(text: string, drop: (row: ServerStateRow) => boolean): string {
  const lines = text.split('\n');
  const head = lines.find((l) => l.startsWith('# '));
  if (!head) return text;
  const names = head.slice(2).trim().split(/\s+/);
  return lines
    .filter((line, i) => {
      if (i < 2 || line.trim() === '' || line.startsWith('#')) return true;
      const values = line.trim().split(/\s+/);
      return !drop(Object.fromEntries(names.map((n, j) => [n, values[j] ?? ''])));
    })
    .join('\n');
}
