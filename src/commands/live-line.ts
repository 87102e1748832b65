import { formatBytes } from '../images/progress.js';

/**
 * Progress for long CLI work (image build, content upload): one status line redrawn in place
 * when stdout is a terminal; nothing at all otherwise (pipes, logs, --json), where the commands
 * print their plain lines only.
 */
export class LiveLine {
  private drawn = '';
  readonly enabled: boolean;

  constructor(private readonly out: NodeJS.WriteStream = process.stdout, enabled?: boolean) {
    this.enabled = enabled ?? out.isTTY === true;
  }

  /** Replaces the status line (cut to the terminal's width). */
  update(text: string): void {
    if (!this.enabled) return;
    const width = Math.max(20, (this.out.columns || 80) - 1);
    this.drawn = text.slice(0, width);
    this.out.write(`\r\x1b[2K${this.drawn}`);
  }

  /** Prints a permanent line above the status line, which is drawn again below it. */
  print(line: string): void {
    if (!this.enabled) {
      this.out.write(`${line}\n`);
      return;
    }
    this.out.write(`\r\x1b[2K${line}\n`);
    if (this.drawn) this.out.write(this.drawn);
  }

  /** Removes the status line. */
  done(): void {
    if (this.enabled && this.drawn) this.out.write('\r\x1b[2K');
    this.drawn = '';
  }
}

/** `[########----------------]` for a fraction 0..1. */
export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.min(1, Math.max(0, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

/** `uploading shop  1.2 MiB / 3.4 MiB [########--------]  35%` */
export function uploadStatus(what: string, sent: number, total: number): string {
  const fraction = total > 0 ? sent / total : 1;
  return `uploading ${what}  ${formatBytes(sent)} / ${formatBytes(total)} ${bar(fraction)} ${String(Math.floor(fraction * 100)).padStart(3)}%`;
}

/** `building initramfs amd64 … 12 s  (3 stages done)` */
export function buildStatus(stage: string, arch: string, seconds: number, done: number): string {
  return `building ${stage} ${arch} … ${Math.floor(seconds)} s  (${done} stage${done === 1 ? '' : 's'} done)`;
}
