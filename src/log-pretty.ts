/**
 * Short readable log lines for a terminal (`bootfleet controller` run by hand): the same records
 * pino writes as JSON, as `12:00:01 INFO  dhcp: DHCP server listening ports=[67]`. The journal and
 * files get the JSON (docs/service.md "Logs"). Small on purpose instead of pino-pretty and its
 * dependencies.
 */

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/** One pino JSON line as a readable line; a line that is not JSON is returned as it is. */
export function prettyLine(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.endsWith('\n') ? json : `${json}\n`;
  }
  const { level, time, msg, sub, err, ...rest } = record;
  const when = typeof time === 'number' ? new Date(time).toTimeString().slice(0, 8) : '--:--:--';
  const name = (typeof level === 'number' ? LEVELS[level] : undefined) ?? String(level);
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' && !/\s/.test(v) ? v : JSON.stringify(v)}`);
  const head = `${when} ${name.padEnd(5)} ${typeof sub === 'string' ? `${sub}: ` : ''}${String(msg ?? '')}${fields.length > 0 ? ` ${fields.join(' ')}` : ''}`;
  const error = err === undefined ? '' : `\n    ${typeof err === 'object' && err !== null && 'stack' in err ? String((err as { stack: unknown }).stack).replace(/\n/g, '\n    ') : JSON.stringify(err)}`;
  return `${head}${error}\n`;
}

/** A pino destination that writes readable lines to `out`. */
export function prettyStream(out: NodeJS.WritableStream): { write: (line: string) => void } {
  return { write: (line) => void out.write(prettyLine(line.trimEnd())) };
}
