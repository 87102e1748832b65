import test from 'ava';
import { execa } from 'execa';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pack } from 'tar-stream';
import { requestsIn, standInController, type RequestRecord, type StandInOptions } from '../helpers/stand-in-controller.js';

// The trust decisions of /init (images/initramfs/lib.sh) run here under the host's busybox sh,
// the same shell and tar as in the initramfs, without booting anything.

const LIB = fileURLToPath(new URL('../../images/initramfs/lib.sh', import.meta.url));

async function tempDir(t: { teardown(fn: () => Promise<void>): void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'bf-initlib-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs `script` in busybox sh with lib.sh sourced; arguments become $1… */
async function sh(script: string, ...args: string[]): Promise<string> {
  const r = await execa('busybox', ['sh', '-c', `set -u; . "${LIB}"; ${script}`, 'sh', ...args]);
  return r.stdout;
}

test('lib.sh needs busybox on the host', async (t) => {
  const r = await execa('busybox', ['sh', '-c', 'echo ok'], { reject: false });
  t.is(r.stdout, 'ok', 'install busybox-static (scripts/setup-debian.sh)');
});

test('urlencode keeps unreserved characters and percent-encodes every other byte', async (t) => {
  t.is(await sh('urlencode "$1"', 'a b&c=d/e~f_g.h-i%é+'), 'a%20b%26c%3Dd%2Fe~f_g.h-i%25%C3%A9%2B');
  t.is(await sh('urlencode ""'), '');
});

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'fifo'; linkname?: string; body?: string };

/** A tar written with tar-stream, so names that GNU tar would clean up can be made on purpose. */
async function tarOf(entries: Entry[]): Promise<Buffer> {
  const p = pack();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const header = { name: e.name, type, mode: type === 'directory' ? 0o755 : 0o644, mtime: new Date(0), uname: 'root', gname: 'root', ...(e.linkname ? { linkname: e.linkname } : {}) };
    if (type === 'file') p.entry(header, e.body ?? 'x');
    else p.entry(header);
  }
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function overlayProblem(t: { teardown(fn: () => Promise<void>): void }, entries: Entry[]): Promise<string> {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'o.tar'), await tarOf(entries));
  return sh('overlay_problem "$1" "$2"', join(dir, 'o.tar'), dir);
}

const good: Entry[] = [
  { name: 'etc/', type: 'directory' },
  { name: 'etc/bootfleet/node.json', body: '{}' },
  { name: './srv/www/site a/index.html', body: 'hi' },
  { name: 'etc/nginx/sites-enabled/a', type: 'symlink', linkname: '../sites-available/a' },
  { name: 'etc/localtime-link', type: 'symlink', linkname: './zone' },
  { name: 'srv/www/copy.html', type: 'link', linkname: 'srv/www/site a/index.html' },
];

test('overlay_problem accepts relative members, inside symlinks and hardlinks', async (t) => {
  t.is(await overlayProblem(t, good), '');
});

const bad: Array<[string, Entry[], RegExp]> = [
  ['an absolute member', [{ name: '/etc/passwd' }], /absolute or \.\. member names \(tar: removing leading '\/' from member names\)/],
  ['a .. member', [{ name: 'etc/../../root/x' }], /absolute or \.\. member names \(tar: removing leading 'etc\/\.\.\/\.\.\/'/],
  ['a member ending in ..', [{ name: 'etc/..', type: 'directory' }], /member etc\/\.\. has a \.\. segment/],
  ['a bare .. member', [{ name: '..' , type: 'directory' }], /has a \.\. segment|absolute|outside/],
  ['an absolute symlink', [{ name: 'etc/x', type: 'symlink', linkname: '/etc/shadow' }], /symlink etc\/x -> \/etc\/shadow points outside/],
  ['a symlink climbing out', [{ name: 'a/b', type: 'symlink', linkname: '../../x' }], /symlink a\/b -> \.\.\/\.\.\/x points outside/],
  ['a symlink climbing out after going down', [{ name: 'l', type: 'symlink', linkname: 'd/../../x' }], /points outside/],
  ['a member below a symlink member', [{ name: 'evil', type: 'symlink', linkname: 'd' }, { name: 'evil/passwd' }], /member evil\/passwd is below symlink evil/],
  ['a hardlink to ..', [{ name: 'h', type: 'link', linkname: '../etc/passwd' }], /hardlink h -> \.\.\/etc\/passwd points outside|absolute or \.\. member names/],
  ['an absolute hardlink', [{ name: 'h', type: 'link', linkname: '/etc/passwd' }], /hardlink h -> \/etc\/passwd points outside|absolute or \.\. member names/],
  ['a hardlink through a symlink member', [{ name: 's', type: 'symlink', linkname: 'd' }, { name: 'h', type: 'link', linkname: 's/x' }], /hardlink points below symlink s/],
  ['a device node', [{ name: 'dev/mem', type: 'character-device' }], /device, FIFO or socket/],
  ['a FIFO', [{ name: 'p', type: 'fifo' }], /device, FIFO or socket/],
  ['a name containing " -> "', [{ name: 'a -> b' }], /contains ' -> '/],
];

for (const [what, entries, why] of bad) {
  test(`overlay_problem refuses ${what}`, async (t) => {
    t.regex(await overlayProblem(t, [...good, ...entries]), why);
  });
}

test('overlay_problem refuses what is not a tar', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'o.tar'), 'this is not a tar archive'.repeat(40));
  t.regex(await sh('overlay_problem "$1" "$2"', join(dir, 'o.tar'), dir), /not a readable tar/);
});

const SHA = 'ab'.repeat(32);
const goodInfo = ['hostname=node-7', 'image=tiny-web', 'version=2024.1', 'squashfs_url=http://198.18.0.1:8080/files/x/root.squashfs', `squashfs_sha256=${SHA.toUpperCase()}`, 'squashfs_size=1234', 'overlay_url=', `node_secret=${'5a'.repeat(32)}`, ''].join('\r\n');

async function bootinfo(t: { teardown(fn: () => Promise<void>): void }, text: string): Promise<Record<string, string>> {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'bootinfo'), text);
  const out = await sh('parse_bootinfo "$1"; for v in "$bi_hostname" "$bi_image" "$bi_version" "$bi_url" "$bi_sha" "$bi_size" "$bi_overlay" "$bi_init" "$(bootinfo_problem)"; do printf "%s\\n" "$v"; done', join(dir, 'bootinfo'));
  const keys = ['hostname', 'image', 'version', 'url', 'sha', 'size', 'overlay', 'init', 'problem'];
  const lines = out.split('\n');
  return Object.fromEntries(keys.map((k, i) => [k, lines[i] ?? '']));
}

test('parse_bootinfo reads key=value lines (CRLF too), lowercases the sha256 and defaults init to /sbin/init', async (t) => {
  t.deepEqual(await bootinfo(t, goodInfo), {
    hostname: 'node-7', image: 'tiny-web', version: '2024.1', url: 'http://198.18.0.1:8080/files/x/root.squashfs',
    sha: SHA, size: '1234', overlay: '', init: '/sbin/init', problem: '',
  });
  const r = await bootinfo(t, 'squashfs_url=/files/r.sqfs\n# a comment\nnonsense\nunknown=1\ninit=/lib/systemd/systemd\nnode_secret=' + '5a'.repeat(32) + '\nsquashfs_sha256=' + SHA);
  t.like(r, { url: '/files/r.sqfs', init: '/lib/systemd/systemd', problem: '' }, 'no trailing newline, relative URL, unknown keys ignored');
});

test('parse_bootinfo never evaluates values, and bootinfo_problem names what is wrong', async (t) => {
  const dir = await tempDir(t);
  const pwned = join(dir, 'pwned');
  const r = await bootinfo(t, `hostname=$(touch ${pwned})\nsquashfs_url=http://x/\`touch ${pwned}\`\nsquashfs_sha256=${SHA}\n`);
  t.is(r['hostname'], `$(touch ${pwned})`);
  t.regex(r['problem'] ?? '', /spaces, quotes or control characters|hostname has characters/);
  const { exitCode } = await execa('test', ['-e', pwned], { reject: false });
  t.is(exitCode, 1, 'nothing ran');

  const cases: Array<[string, RegExp]> = [
    [`squashfs_sha256=${SHA}`, /no squashfs_url/],
    [`squashfs_url=ftp://x/r\nsquashfs_sha256=${SHA}`, /squashfs_url is not an http\(s\) URL/],
    ['squashfs_url=http://x/r\nsquashfs_sha256=abc', /not 64 hex digits/],
    ['squashfs_url=http://x/r\nsquashfs_sha256=' + 'zz'.repeat(32), /not hex/],
    [`squashfs_url=http://x/r\nsquashfs_sha256=${SHA}\nsquashfs_size=12k`, /squashfs_size is not a number/],
    [`squashfs_url=http://x/r\nsquashfs_sha256=${SHA}\ninit=sbin/init`, /init is not an absolute path/],
    [`squashfs_url=http://x/r\nsquashfs_sha256=${SHA}\noverlay_url=file:///etc`, /overlay_url is not an http\(s\) URL/],
    [`squashfs_url=http://x/r q\nsquashfs_sha256=${SHA}`, /spaces, quotes or control characters/],
  ];
  for (const [text, why] of cases) t.regex((await bootinfo(t, text))['problem'] ?? '', why, text);
});

test('parse_bootinfo collects layer= lines in order; bootinfo_problem checks each, and a boot info names one root', async (t) => {
  const SECRET = '0f'.repeat(32);
  const [base, top] = ['b1'.repeat(32), 'c2'.repeat(32)];
  const dir = await tempDir(t);
  const read = async (text: string): Promise<{ layers: string; legacy: string; problem: string }> => {
    await writeFile(join(dir, 'bootinfo'), `${text}\nnode_secret=${SECRET}\n`);
    const out = await sh('parse_bootinfo "$1"; printf "%s|%s|%s" "$bi_layers" "$bi_legacy" "$(bootinfo_problem)"', join(dir, 'bootinfo'));
    const [layers = '', legacy = '', problem = ''] = out.split('|');
    return { layers, legacy, problem };
  };
  t.deepEqual(await read(`layer=http://x/layers/${base}.squashfs ${base} 4096\r\nimage=tiny-web\nlayer=/layers/${top}.squashfs ${top} 12`), {
    layers: `http://x/layers/${base}.squashfs ${base} 4096\n/layers/${top}.squashfs ${top} 12\n`, legacy: '0', problem: '',
  }, 'base first, as sent; CRLF dropped');
  t.deepEqual(await read(`squashfs_url=/images/a/b/root.squashfs\nsquashfs_sha256=${SHA.toUpperCase()}\nsquashfs_size=77`), {
    layers: `/images/a/b/root.squashfs ${SHA} 77\n`, legacy: '1', problem: '',
  }, 'a boot set from before layers is a root of one layer');
  t.is((await read(`squashfs_url=/r\nsquashfs_sha256=${SHA}`)).layers, `/r ${SHA} \n`, 'its size may be missing');

  const cases: Array<[string, RegExp]> = [
    ['image=x', /no layer= lines \(and no squashfs_url\)/],
    [`layer=/l ${base} 1\nsquashfs_url=/r\nsquashfs_sha256=${SHA}`, /both layer= lines and squashfs_url/],
    [`layer=/l ${base} 1\nlayer=/m ${base.toUpperCase()} 2`, /layer 2 sha256 is not lower-case hex/],
    [`layer=/l ${base.slice(2)} 1`, /layer 1 sha256 is not 64 hex digits/],
    [`layer=/l ${base}`, /layer 1 size is not a number/],
    [`layer=/l ${base} 1k`, /layer 1 size is not a number/],
    [`layer=/l ${base} 1 extra`, /layer 1 has more than <url> <sha256> <size>/],
    [`layer=ftp://x/l ${base} 1`, /layer 1 URL is not an http\(s\) URL/],
    [`layer=/l"x ${base} 1`, /spaces, quotes or control characters/],
    [`layer=/l\tx ${base} 1`, /spaces, quotes or control characters/],
    [`layer=`, /layer 1 URL is not|no layer/],
  ];
  for (const [text, why] of cases) t.regex((await read(text)).problem, why, text);
});

test('forget_other_layers keeps only the files of the layers the boot info names; layers_missing_bytes counts what is left to fetch', async (t) => {
  const dir = await tempDir(t);
  const layers = join(dir, 'layers');
  const [a, b, old] = ['a1'.repeat(32), 'b2'.repeat(32), 'c3'.repeat(32)];
  await execa('mkdir', [layers]);
  await writeFile(join(layers, `${a}.squashfs`), 'x'.repeat(100));
  await writeFile(join(layers, `${a}.squashfs.ok`), '');
  await writeFile(join(layers, `${b}.squashfs`), 'x'.repeat(30));
  await writeFile(join(layers, `${old}.squashfs`), 'x'.repeat(5));
  await writeFile(join(layers, `${old}.squashfs.ok`), '');
  await writeFile(join(dir, 'list'), `/l/${a}.squashfs ${a} 100\n/l/${b}.squashfs ${b} 1000\n`);
  await sh('forget_other_layers "$1" "$2"', layers, join(dir, 'list'));
  t.deepEqual((await execa('ls', [layers])).stdout.split('\n'), [`${a}.squashfs`, `${a}.squashfs.ok`, `${b}.squashfs`]);
  t.is(await sh('layers_missing_bytes "$1" "$2"', layers, join(dir, 'list')), '970', 'the verified layer counts nothing, the partial one what it lacks');
  t.is(await sh('layers_summary "$1"', join(dir, 'list')), `${a.slice(0, 12)}/100 ${b.slice(0, 12)}/1000`);
  await writeFile(join(dir, 'list'), `/l/${b}.squashfs ${b} 1000\n`);
  await sh('forget_other_layers "$1" "$2"', layers, join(dir, 'list'));
  t.deepEqual((await execa('ls', [layers])).stdout.split('\n'), [`${b}.squashfs`], 'a layer (and its mark) the new boot info does not name is gone');
});

test('parse_bootinfo reads overlay_sha256, overlay_size and node_secret; bootinfo_problem checks them', async (t) => {
  const SECRET = '0f'.repeat(32);
  const base = `squashfs_url=http://x/r\nsquashfs_sha256=${SHA}\n`;
  const dir = await tempDir(t);
  const read = async (text: string): Promise<string[]> => {
    await writeFile(join(dir, 'bootinfo'), text);
    const out = await sh('parse_bootinfo "$1"; printf "%s\\n" "$bi_overlay_sha" "$bi_overlay_size" "$bi_secret" "$(bootinfo_problem)"', join(dir, 'bootinfo'));
    return out.split('\n');
  };
  t.deepEqual(await read(`${base}overlay_url=/overlay/m\noverlay_sha256=${SHA.toUpperCase()}\noverlay_size=10240\nnode_secret=${SECRET}\n`), [SHA, '10240', SECRET, '']);
  t.deepEqual(await read(`${base}node_secret=${SECRET}\n`), ['', '', SECRET, ''], 'no overlay: no overlay sha256 or size needed');

  const cases: Array<[string, RegExp]> = [
    [base, /node_secret is not 64 lowercase hex digits/],
    [`${base}node_secret=${SECRET.toUpperCase()}`, /node_secret is not 64 lowercase hex digits/],
    [`${base}node_secret=${SECRET}0`, /node_secret is not 64 lowercase hex digits/],
    [`${base}node_secret=${SECRET.slice(2)}zz`, /node_secret is not 64 lowercase hex digits/],
    [`${base}node_secret=${SECRET}\noverlay_url=/o\noverlay_size=1`, /overlay_url without overlay_sha256/],
    [`${base}node_secret=${SECRET}\noverlay_url=/o\noverlay_sha256=${SHA}`, /overlay_url without overlay_size/],
    [`${base}node_secret=${SECRET}\noverlay_url=/o\noverlay_sha256=abc\noverlay_size=1`, /overlay_sha256 is not 64 hex digits/],
    [`${base}node_secret=${SECRET}\noverlay_url=/o\noverlay_sha256=${'g'.repeat(64)}\noverlay_size=1`, /overlay_sha256 is not hex/],
    [`${base}node_secret=${SECRET}\noverlay_url=/o\noverlay_sha256=${SHA}\noverlay_size=1k`, /overlay_size is not a number/],
  ];
  for (const [text, why] of cases) t.regex((await read(text))[3] ?? '', why, text);
});

test('secret_ok takes exactly 64 lowercase hex digits', async (t) => {
  const ok = async (s: string): Promise<boolean> => (await execa('busybox', ['sh', '-c', `. "${LIB}"; secret_ok "$1"`, 'sh', s], { reject: false })).exitCode === 0;
  t.true(await ok('a1'.repeat(32)));
  for (const bad of ['', 'A1'.repeat(32), 'a1'.repeat(31), 'a1'.repeat(33), `${'a1'.repeat(31)}a `, `${'a1'.repeat(31)}\n1`]) t.false(await ok(bad), JSON.stringify(bad));
});

test('write_node_file writes controller, mac and secret as key=value lines, mode 0600 even under umask 0 and over an older file', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'node');
  await writeFile(file, 'old', { mode: 0o644 });
  await sh('umask 0; write_node_file "$1" http://198.18.0.1:8080 52:54:00:bf:00:01 "$2"', file, 'c3'.repeat(32));
  t.is(await readFile(file, 'utf8'), `controller=http://198.18.0.1:8080\nmac=52:54:00:bf:00:01\nsecret=${'c3'.repeat(32)}\n`);
  t.is((await stat(file)).mode & 0o777, 0o600);
});

test('backoff_ms doubles from 1 s to a 30 s cap and jitters +-50 % around it', async (t) => {
  const bases = [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  for (const [i, base] of bases.entries()) {
    const attempt = String(i + 1);
    t.is(Number(await sh('backoff_ms "$1" 0', attempt)), base / 2, `attempt ${attempt} lowest`);
    t.is(Number(await sh('backoff_ms "$1" "$2"', attempt, String(base))), (base * 3) / 2, `attempt ${attempt} highest`);
    t.is(Number(await sh('backoff_ms "$1" "$2"', attempt, String(base + 1))), base / 2, 'the random number wraps');
  }
  t.is(Number(await sh('backoff_ms 40 4294967295')), 15000 + (4294967295 % 30001), 'a large attempt and a 32-bit random stay in range');
});

test('backoff_seconds draws its jitter from /dev/urandom: waits stay within +-50 % and differ', async (t) => {
  const out = await sh('i=0; while [ $i -lt 30 ]; do backoff_seconds 3; backoff_seconds 9; i=$((i + 1)); done');
  const waits = out.split('\n').map(Number);
  const third = waits.filter((_, i) => i % 2 === 0);
  const capped = waits.filter((_, i) => i % 2 === 1);
  t.true(third.every((w) => w >= 2 && w <= 6), `attempt 3 (base 4 s): ${third.join(' ')}`);
  t.true(capped.every((w) => w >= 15 && w <= 45), `attempt 9 (base capped at 30 s): ${capped.join(' ')}`);
  t.true(new Set(third).size > 10, 'the waits are spread, not in lockstep');
  t.regex(out.split('\n')[0] ?? '', /^\d+\.\d{3}$/, 'a number sleep takes');
});

test('fetch_timeout allows 60 s plus the size at 1 MiB/s', async (t) => {
  t.is(await sh('fetch_timeout ""'), '60', 'unknown size');
  t.is(await sh('fetch_timeout 1'), '60');
  t.is(await sh('fetch_timeout 104857600'), '160', '100 MiB');
  t.is(await sh('fetch_timeout 4294967296'), String(60 + 4096), '4 GiB (64-bit arithmetic)');
});

test('file_matches names a size mismatch before a sha256 mismatch', async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, 'f');
  await writeFile(file, 'hello');
  const sha = createHash('sha256').update('hello').digest('hex');
  const check = (size: string, want: string): Promise<string> => sh('file_matches "$1" "$2" "$3" && echo ok || echo "$mismatch_what: $mismatch_detail"', file, size, want);
  t.is(await check('5', sha), 'ok');
  t.is(await check('', sha), 'ok', 'size unknown');
  t.is(await check('6', sha), 'size: expected 6 bytes got 5');
  t.is(await check('5', SHA), `sha256: expected ${SHA} got ${sha}`);
});

/** A stand-in controller on loopback for fetch_attempt, with its request log. */
async function standIn(t: { teardown(fn: () => void): void }, www: string, opts: Omit<StandInOptions, 'www' | 'log'> = {}): Promise<{ url: string; requests: RequestRecord[] }> {
  const lines: string[] = [];
  const server = standInController({ www, ...opts, log: (l) => lines.push(l) });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { url: `http://127.0.0.1:${port}`, get requests() { return requestsIn(lines.join('\n')); } };
}

/** fetch_attempt URL FILE SIZE under busybox: its exit status and console lines. */
async function fetchAttempt(url: string, file: string, size: string, env: Record<string, string> = {}): Promise<{ rc: number; out: string }> {
  const r = await execa('busybox', ['sh', '-c', `set -u; . "${LIB}"; say() { echo "BOOTFLEET: $*"; }; node_secret=\${SECRET:-}; FETCH_FLOOR_S=\${FLOOR:-60}; fetch_attempt "$1" "$2" "$3"; rc=$?; echo "why=$fetch_why"; exit $rc`, 'sh', url, file, size], { reject: false, env });
  return { rc: r.exitCode ?? -1, out: r.stdout };
}

test('fetch_attempt keeps the bytes of a cut download and resumes them with a Range request, carrying the node secret', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(3 * 1024 * 1024 + 17);
  await writeFile(join(dir, 'root.squashfs'), data);
  const secret = 'd4'.repeat(32);
  const server = await standIn(t, dir, { secret, cut: { '/root.squashfs': 1_000_000 } });
  const file = join(dir, 'got');

  const first = await fetchAttempt(`${server.url}/root.squashfs`, file, String(data.length), { SECRET: secret });
  t.is(first.rc, 1, first.out);
  t.regex(first.out, /BOOTFLEET: fetching http:\S+\/root\.squashfs/);
  t.regex(first.out, /why=wget: connection closed prematurely/);
  const have = (await stat(file)).size;
  t.true(have > 0 && have <= 1_000_000, `kept ${have} bytes`);

  const second = await fetchAttempt(`${server.url}/root.squashfs`, file, String(data.length), { SECRET: secret });
  t.is(second.rc, 0, second.out);
  t.regex(second.out, new RegExp(`BOOTFLEET: resuming http:\\S+/root\\.squashfs at ${have} bytes`));
  t.true((await readFile(file)).equals(data), 'the resumed file is the whole file');
  t.deepEqual(server.requests.map((r) => [r.range, r.status, r.authorization]), [
    [null, 200, `Bearer ${secret}`],
    [`bytes=${have}-`, 206, `Bearer ${secret}`],
  ]);

  const third = await fetchAttempt(`${server.url}/root.squashfs`, file, String(data.length), { SECRET: secret });
  t.is(third.rc, 0, 'a file already as long as the boot info says is not fetched again');
  t.is(server.requests.length, 2);
});

test('fetch_attempt starts again from byte 0 when the server refuses the range (416) or the file is longer than the boot info says', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(200_000);
  await writeFile(join(dir, 'f'), data);
  const server = await standIn(t, dir);
  const file = join(dir, 'got');

  // More bytes than the server has, size unknown to the node: 416, the partial is dropped.
  await writeFile(file, Buffer.concat([data, Buffer.from('extra')]));
  const refused = await fetchAttempt(`${server.url}/f`, file, '');
  t.is(refused.rc, 2, refused.out);
  t.regex(refused.out, /why=wget: server returned error: HTTP\/1\.1 416 Range Not Satisfiable: starting again from byte 0/);
  t.false(existsSync(file));
  const fresh = await fetchAttempt(`${server.url}/f`, file, '');
  t.is(fresh.rc, 0, fresh.out);
  t.true((await readFile(file)).equals(data));
  t.deepEqual(server.requests.map((r) => [r.range, r.status]), [[`bytes=${data.length + 5}-`, 416], [null, 200]]);

  // A file longer than the boot info's size is not a part of it: dropped before asking.
  await writeFile(file, Buffer.concat([data, Buffer.from('extra')]));
  t.is((await fetchAttempt(`${server.url}/f`, file, String(data.length))).rc, 0);
  t.true((await readFile(file)).equals(data));
  t.is(server.requests.at(-1)?.range, null);
});

test('fetch_attempt gives a stalled transfer its time limit, keeps what arrived, and restarts when the server ignores Range', async (t) => {
  const dir = await tempDir(t);
  const data = randomBytes(500_000);
  await writeFile(join(dir, 'f'), data);
  const stalled = await standIn(t, dir, { stall: { '/f': 100_000 } });
  const file = join(dir, 'got');
  const r = await fetchAttempt(`${stalled.url}/f`, file, String(data.length), { FLOOR: '2' });
  t.is(r.rc, 1, r.out);
  t.regex(r.out, /why=no complete answer within 2s/);
  const have = (await stat(file)).size;
  t.true(have > 0 && have <= 100_000, `kept ${have} bytes`);

  const plain = await standIn(t, dir, { noRanges: true });
  const again = await fetchAttempt(`${plain.url}/f`, file, String(data.length));
  t.is(again.rc, 0, again.out);
  t.regex(again.out, new RegExp(`resuming \\S+ at ${have} bytes`));
  t.true((await readFile(file)).equals(data), 'busybox wget rewrote the file from byte 0 on the 200 answer');
  t.deepEqual(plain.requests.map((q) => [q.range, q.status]), [[`bytes=${have}-`, 200]]);
});

test('fetch_attempt without a node secret sends no Authorization, and names a refusal', async (t) => {
  const dir = await tempDir(t);
  await writeFile(join(dir, 'f'), 'x');
  const server = await standIn(t, dir, { secret: 'e5'.repeat(32) });
  const r = await fetchAttempt(`${server.url}/f`, join(dir, 'got'), '');
  t.is(r.rc, 1);
  t.regex(r.out, /why=wget: server returned error: HTTP\/1\.1 403 Forbidden/);
  t.is(server.requests[0]?.authorization, null);
});
