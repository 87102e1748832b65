import test from 'ava';
import { execa } from 'execa';

// Every command's --help shows examples (issue: "helpful --help with examples"), and read commands
// offer --json.

const CLI = [process.execPath, '--import', 'tsx/esm', 'src/cli.ts'];
const COMMANDS = ['controller', 'node', 'site', 'assign', 'balancer', 'image', 'flash', 'lab', 'init', 'doctor'];
const READ_COMMANDS = ['node', 'site', 'image', 'doctor'];

async function help(...args: string[]): Promise<string> {
  const r = await execa(CLI[0] ?? 'node', [...CLI.slice(1), ...args, '--help'], { env: { COLUMNS: '200' } });
  return String(r.stdout);
}

test('the top-level help lists every command', async (t) => {
  const text = await help();
  for (const c of COMMANDS) t.regex(text, new RegExp(`^ {2}bootfleet ${c}\\b`, 'm'), c);
  t.regex(text, /^Examples:/m);
});

for (const command of COMMANDS) {
  test(`bootfleet ${command} --help has examples`, async (t) => {
    const text = await help(command, ...(command === 'assign' ? ['s', 'n'] : []));
    t.regex(text, /^Examples:\n {2}(sudo )?bootfleet /m);
    if (READ_COMMANDS.includes(command)) t.regex(text, /--json/);
  });
}

test('a wrong command line says where the flags are and exits 2', async (t) => {
  const r = await execa(CLI[0] ?? 'node', [...CLI.slice(1), 'image', 'build', '--bogus'], { reject: false });
  t.is(r.exitCode, 2);
  t.regex(String(r.stderr), /Unknown argument: bogus\n\(see bootfleet image --help for the flags and examples\)/);
});
