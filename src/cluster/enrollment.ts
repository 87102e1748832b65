import { BootfleetError } from '../errors.js';
import { normalizeMac } from '../net/addr.js';
import { HOSTNAME_RULE, isHostname } from '../boot/hostname.js';
import { IMAGE_REF } from '../images/store.js';
import type { Enrollment } from '../boot/policy.js';

export const PI_MODELS = ['pi3', 'pi3b+', 'pi4', 'pi400', 'cm4', 'pi5', 'zero2w', 'pi3a+'] as const;
export type PiModelName = (typeof PI_MODELS)[number];

/** What `bootfleet node add` (POST /api/enrollment) takes, before validation. */
export interface EnrollmentInput {
  serial?: string;
  mac?: string;
  model?: string;
  hostname?: string;
  image?: string;
}

/**
 * Validates an approval. A Pi is named by its serial (the folder it asks under over TFTP), its
 * MAC (a Pi set to TFTP_PREFIX=2 asks under its MAC), or both; any other machine by its MAC.
 * Every error names the flag to fix.
 */
export function validateEnrollment(input: EnrollmentInput, now = new Date()): Enrollment {
  const problems: string[] = [];
  const serial = input.serial === undefined ? undefined : input.serial.toLowerCase().replace(/^0x/, '');
  if (serial !== undefined && !/^[0-9a-f]{8}$/.test(serial)) problems.push(`--serial ${input.serial}: give the last 8 hex digits of the Pi's serial (Serial in /proc/cpuinfo), e.g. 9ffefdef`);
  const mac = input.mac === undefined ? undefined : normalizeMac(input.mac);
  if (input.mac !== undefined && !mac) problems.push(`--mac ${input.mac}: not a MAC address like dc:a6:32:01:02:03`);
  if (serial === undefined && input.mac === undefined) problems.push('give --mac <MAC> (any machine) or --serial <8 hex digits> (a Raspberry Pi)');
  if (input.model !== undefined && !(PI_MODELS as readonly string[]).includes(input.model)) problems.push(`--model ${input.model}: one of ${PI_MODELS.join(', ')}`);
  if (input.hostname !== undefined && !isHostname(input.hostname)) problems.push(`--hostname ${input.hostname}: ${HOSTNAME_RULE}`);
  if (input.image !== undefined && !IMAGE_REF.test(input.image)) problems.push(`--image ${input.image}: an image name like tiny-web, optionally @<version>`);
  if (problems.length > 0) throw new BootfleetError('ERR_USAGE', problems.join('; '));
  return {
    addedAt: now.toISOString(),
    ...(mac ? { mac } : {}), ...(serial ? { serial } : {}), ...(input.model ? { model: input.model } : {}),
    ...(input.hostname ? { hostname: input.hostname } : {}), ...(input.image ? { image: input.image } : {}),
  };
}
