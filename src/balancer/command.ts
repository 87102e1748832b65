import { chmod, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { ConfigError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../store/atomic.js';
import { BALANCER_KINDS, type BalancerKind, type BalancerModel, type RenderedFile } from './model.js';
import { renderBalancer } from './render.js';
import { modelProblems } from './validate.js';

type Out = (s: string) => void;
const stdout: Out = (s) => process.stdout.write(s);


/**
 * `bootfleet balancer render --kind <k> --model <file> [--out <dir>]` (balancer.mode:
 * render-only): writes the kind's config files, each atomically, and lists them. docs/balancer.md.
 */
export async function balancerRenderCommand(opts: { kind: string; model: string; out?: string }, out: Out = stdout): Promise<RenderedFile[]> {
  if (!(BALANCER_KINDS as readonly string[]).includes(opts.kind)) throw new UsageError(`--kind ${opts.kind}: use one of ${BALANCER_KINDS.join(', ')}`);
  const text = await readFile(opts.model, 'utf8').catch(() => {
    throw new UsageError(`--model ${opts.model}: no such file`);
  });
  let model: BalancerModel;
  try {
    model = parse(text) as BalancerModel;
  } catch (err) {
    throw new ConfigError(opts.model, [`(syntax) ${(err as Error).message}`]);
  }
  const problems = modelProblems(model ?? ({} as BalancerModel));
  if (problems.length > 0) throw new ConfigError(opts.model, problems);
  const files = renderBalancer(opts.kind as BalancerKind, model);
  const dir = resolve(opts.out ?? model.paths.stateDir);
  for (const f of files) {
    const path = join(dir, f.path);
    await writeFileAtomic(path, f.text);
    if (f.mode !== undefined) await chmod(path, f.mode);
    out(`wrote ${path}\n`);
  }
  return files;
}
