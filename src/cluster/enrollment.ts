import { join } from 'node:path';
import { stat } from 'node:fs/promises';
import { AtomicJsonFile } from '../store/atomic.js';
import { BootfleetError } from '../errors.js';
import { normalizeMac } from '../net/addr.js';
import type { NodeRecord } from './nodes.js';

export const PI_MODELS = ['pi3', 'pi3b+', 'pi4', 'pi400', 'cm4', 'pi5', 'zero2w', 'pi3a+'] as const;
export type PiModelName = (typeof PI_MODELS)[number];

/** A Pi the operator approved ahead of its first boot (`bootfleet node add`). */
export interface EnrolledPi {
  /** 8 lowercase hex digits: the TFTP prefix the Pi asks under. */
  serial: string;
  mac?: string;
  model: PiModelName;
  hostname?: string;
  addedAt: string;
}

interface EnrollmentFile {
  version: 1;
  pis: EnrolledPi[];
}

const FILE = 'enrollment.json';

/**
 * `<stateDir>/enrollment.json`: written only by the CLI (atomically), read by the controller, so
 * `node add` works whether or not a controller is running and never races its node file.
 */
export async function readEnrollment(stateDir: string): Promise<EnrolledPi[]> {
  return (await new AtomicJsonFile<EnrollmentFile>(join(stateDir, FILE)).load({ version: 1, pis: [] })).pis;
}

/** Validates and adds (or updates, by serial) one Pi. Errors name the flag to fix. */
export async function enrollPi(stateDir: string, input: { serial: string; mac?: string; model: string; hostname?: string }, now = new Date()): Promise<EnrolledPi> {
  const serial = input.serial.toLowerCase().replace(/^0x/, '');
  if (!/^[0-9a-f]{8}$/.test(serial)) {
    throw new BootfleetError('ERR_USAGE', `--serial ${input.serial}: give the last 8 hex digits of the Pi's serial (Serial in /proc/cpuinfo), e.g. 9ffefdef`);
  }
  if (!(PI_MODELS as readonly string[]).includes(input.model)) {
    throw new BootfleetError('ERR_USAGE', `--model ${input.model}: one of ${PI_MODELS.join(', ')}`);
  }
  const mac = input.mac === undefined ? undefined : normalizeMac(input.mac);
  if (input.mac !== undefined && !mac) throw new BootfleetError('ERR_USAGE', `--mac ${input.mac}: not a MAC address like dc:a6:32:01:02:03`);
  const entry: EnrolledPi = {
    serial, model: input.model as PiModelName, addedAt: now.toISOString(),
    ...(mac ? { mac } : {}), ...(input.hostname ? { hostname: input.hostname } : {}),
  };
  const file = new AtomicJsonFile<EnrollmentFile>(join(stateDir, FILE));
  const data = await file.load({ version: 1, pis: [] });
  await file.save({ version: 1, pis: [...data.pis.filter((p) => p.serial !== serial), entry].sort((a, b) => a.serial.localeCompare(b.serial)) });
  return entry;
}

/**
 * The controller's view: re-read when the file changes (checked at most once a second), so an
 * approval takes effect at the Pi's next request without a restart.
 */
export class EnrollmentWatch {
  private pis: EnrolledPi[] = [];
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(private readonly stateDir: string) {}

  async current(): Promise<EnrolledPi[]> {
    if (Date.now() - this.checkedAt < 1000) return this.pis;
    this.checkedAt = Date.now();
    const mtimeMs = await stat(join(this.stateDir, FILE)).then((s) => s.mtimeMs, () => 0);
    if (mtimeMs !== this.mtimeMs) {
      this.pis = await readEnrollment(this.stateDir);
      this.mtimeMs = mtimeMs;
    }
    return this.pis;
  }
}

/**
 * What `node list` and GET /api/nodes show: seen nodes (a Pi not yet judged counts as pending),
 * plus enrolled Pis that have not booted yet (approved, never seen).
 */
export function withEnrolled(nodes: NodeRecord[], enrolled: EnrolledPi[]): NodeRecord[] {
  const unseen = enrolled.filter((e) => !nodes.some((n) => n.serial === e.serial || (e.mac !== undefined && n.mac === e.mac)));
  return [
    ...nodes.map((n) => (n.firmware === 'rpi' && n.status === undefined ? { ...n, status: 'pending' as const } : n)),
    ...unseen.map((e): NodeRecord => ({
      mac: e.mac ?? '-', firmware: 'rpi', serial: e.serial, status: 'approved', firstSeen: '-', lastSeen: '-', events: [],
      ...(e.hostname ? { hostname: e.hostname } : {}),
    })),
  ];
}

