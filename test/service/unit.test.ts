import test from 'ava';
import { chmod, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';

// contrib/bootfleet.service is accepted by systemd itself (systemd-analyze verify works without
// systemd as PID 1). verify also checks that ExecStart's program exists and is executable, and
// /usr/local/bin/bootfleet is not installed here, so the check runs on a copy whose only change
// is that path, pointing at a stub; every other line is verified as shipped.

const UNIT = 'contrib/bootfleet.service';
const EXEC = /^ExecStart=\/usr\/local\/bin\/bootfleet (.*)$/m;

async function verifiable(): Promise<{ file: string; original: string; copy: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-unit-'));
  const stub = join(dir, 'bootfleet');
  await writeFile(stub, '#!/bin/sh\n');
  await chmod(stub, 0o755);
  const original = await readFile(UNIT, 'utf8');
  const copy = original.replace(EXEC, `ExecStart=${stub} $1`);
  const file = join(dir, 'bootfleet.service');
  await writeFile(file, copy);
  return { file, original, copy };
}

async function analyze(...args: string[]): Promise<{ exitCode: number; output: string }> {
  const r = await execa('systemd-analyze', args, { reject: false, all: true }).catch((err: unknown) => {
    throw new Error(`systemd-analyze is missing: apt-get install systemd (scripts/setup-debian.sh) (${String(err)})`);
  });
  return { exitCode: r.exitCode ?? -1, output: String(r.all ?? '') };
}

test('systemd-analyze verify accepts the unit without a warning', async (t) => {
  const { file, original, copy } = await verifiable();
  t.not(copy, original, 'the ExecStart path was replaced');
  t.is(copy.split('\n').filter((l, i) => l !== original.split('\n')[i]).length, 1, 'only the ExecStart line differs');
  const r = await analyze('verify', file);
  t.is(r.exitCode, 0, r.output);
  t.is(r.output.trim(), '', 'no unknown keys, no bad values');
});

test('the check can fail: a misspelt key is reported', async (t) => {
  const { file, copy } = await verifiable();
  await writeFile(file, copy.replace('RestartSec=', 'RestartSecs='));
  t.regex((await analyze('verify', file)).output, /Unknown key 'RestartSecs'/);
});

test('the unit runs the controller with the system config, restarts on failure, and keeps the capabilities it needs', async (t) => {
  const unit = await readFile(UNIT, 'utf8');
  t.is(EXEC.exec(unit)?.[1], 'controller --config /etc/bootfleet/bootfleet.yaml');
  t.regex(unit, /^Restart=on-failure$/m);
  for (const cap of ['CAP_NET_RAW', 'CAP_NET_BIND_SERVICE', 'CAP_NET_ADMIN']) {
    t.regex(unit, new RegExp(`^AmbientCapabilities=.*\\b${cap}\\b`, 'm'));
    t.regex(unit, new RegExp(`^CapabilityBoundingSet=.*\\b${cap}\\b`, 'm'));
  }
  t.regex(unit, /^StateDirectory=bootfleet$/m);
  t.notRegex(unit, /^ProtectKernelTunables=yes/m, 'NAT writes /proc/sys/net/ipv4/ip_forward');
  t.notRegex(unit, /^MemoryDenyWriteExecute=yes/m, 'Node\'s JIT needs it off');
});
