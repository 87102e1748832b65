import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { ConfigError, BootfleetError } from '../errors.js';
import { DEB_ARCHES } from './apt-config.js';

/** A name used in paths (store directories, overlay folders): no slashes, no dots first. */
const safeName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'must be lower-case letters, digits, ".", "_" or "-", starting with a letter or digit');
const debName = z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name');

const schema = z.object({
  name: safeName,
  /** busybox: a busybox-static root; debian: Debian 12 built with mmdebstrap. */
  base: z.enum(['busybox', 'debian']),
  arches: z.array(z.enum(DEB_ARCHES as ['amd64', 'arm64'])).min(1).default(['amd64']),
  /** Debian base only. */
  packages: z.array(debName).default([]),
  /** overlays/<name>/, applied in order (a later overlay wins over an earlier one). */
  overlays: z.array(safeName).default([]),
  /** pc: vmlinuz + initrd.img; pi: also the Raspberry Pi boot files under rpi/ (arm64 only). */
  targets: z.array(z.enum(['pc', 'pi'])).min(1).default(['pc']),
}).strict();

export type Recipe = z.infer<typeof schema>;
export type RecipeArch = Recipe['arches'][number];

/**
 * Validates a parsed recipe document. Throws ConfigError whose problems each start with the key
 * to fix (`arches.1: …`, `packages: …`), like the controller config.
 */
export function parseRecipe(input: unknown, file = 'recipe'): Recipe {
  const result = schema.safeParse(input);
  const problems = result.success ? crossCheck(result.data) : result.error.issues.map(formatIssue);
  if (!result.success || problems.length > 0) throw new ConfigError(file, problems);
  return result.data;
}

/** Reads and validates `images/<name>.yaml`; the file name must match `name:` so refs stay unambiguous. */
export async function loadRecipe(file: string): Promise<{ recipe: Recipe; hash: string }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new BootfleetError('ERR_CONFIG_NOT_FOUND', `cannot read recipe ${file}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(file, [`(syntax) ${(err as Error).message}`]);
  }
  const recipe = parseRecipe(doc, file);
  const stem = basename(file).replace(/\.ya?ml$/, '');
  if (stem !== recipe.name) throw new ConfigError(file, [`name: "${recipe.name}" does not match the file name "${stem}"`]);
  return { recipe, hash: recipeHash(recipe) };
}

/** sha256 of the validated recipe (defaults filled, keys in schema order): formatting and comments do not count. */
export function recipeHash(recipe: Recipe): string {
  return createHash('sha256').update(JSON.stringify(recipe)).digest('hex');
}

function crossCheck(r: Recipe): string[] {
  const problems: string[] = [];
  if (r.base === 'busybox' && r.packages.length > 0) problems.push('packages: only a debian base installs packages; remove them or use base: debian');
  if (r.targets.includes('pi') && !r.arches.includes('arm64')) problems.push('targets: pi needs arm64 in arches');
  for (const [key, list] of [['arches', r.arches], ['packages', r.packages], ['overlays', r.overlays], ['targets', r.targets]] as const) {
    const seen = new Set<string>();
    list.forEach((v, i) => {
      if (seen.has(v)) problems.push(`${key}.${i}: "${v}" is listed twice`);
      seen.add(v);
    });
  }
  return problems;
}

function formatIssue(issue: z.core.$ZodIssue): string {
  const key = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
  if (issue.code === 'unrecognized_keys') return `${issue.keys.join(', ')}: unknown key (check the spelling)`;
  return `${key}: ${issue.message}`;
}
