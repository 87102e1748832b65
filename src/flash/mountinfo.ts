/** One line of /proc/self/mountinfo (proc(5)); pure parsing. */
export interface MountEntry {
  /** "major:minor" of the mounted filesystem's st_dev (anonymous "0:N" for btrfs, overlay, tmpfs…). */
  devno: string;
  mountPoint: string;
  fsType: string;
  /** The mount source, e.g. /dev/sda1; "none", "tmpfs"… for virtual filesystems. */
  source: string;
}

/** Parses mountinfo text; octal escapes (\040 for a space) in paths are decoded. */
export function parseMountinfo(text: string): MountEntry[] {
  const out: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [left = '', right = ''] = line.split(' - ');
    const f = left.split(' ');
    const r = right.split(' ');
    const devno = f[2];
    const mountPoint = f[4];
    if (devno === undefined || mountPoint === undefined) continue;
    out.push({ devno, mountPoint: unescape(mountPoint), fsType: r[0] ?? '', source: unescape(r[1] ?? '') });
  }
  return out;
}

/** The first lines' paths of /proc/swaps (header skipped). */
export function parseSwaps(text: string): string[] {
  return text.split('\n').slice(1).map((l) => unescape(l.split(/\s+/)[0] ?? '')).filter(Boolean);
}

function unescape(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}
