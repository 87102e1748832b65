import test from 'ava';
import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pack } from 'tar-stream';

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
const goodInfo = ['hostname=node-7', 'image=tiny-web', 'version=2024.1', 'squashfs_url=http://198.18.0.1:8080/files/x/root.squashfs', `squashfs_sha256=${SHA.toUpperCase()}`, 'squashfs_size=1234', 'overlay_url=', ''].join('\r\n');

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
  const r = await bootinfo(t, 'squashfs_url=/files/r.sqfs\n# a comment\nnonsense\nunknown=1\ninit=/lib/systemd/systemd\nsquashfs_sha256=' + SHA);
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
