/**
 * Durations as written in pipeline files (`500ms`, `30s`, `1m30s`, `1.5h`, `2d`) and as shown to
 * people. Units must come largest first and once each, so `30s1m` and `1s1s` are refused as the
 * typos they probably are.
 */

const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000, s: 1000, ms: 1 };
const UNIT_ORDER = ['d', 'h', 'm', 's', 'ms'];
const PART = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/y;

export const DURATION_HINT = 'write a number and a unit (ms, s, m, h, d), e.g. 500ms, 30s, 1m30s, 2h';

/** A duration string's milliseconds (rounded); throws a RangeError whose message says what is wrong. */
export function parseDuration(text: string): number {
  const source = text.trim();
  if (source.startsWith('-')) throw new RangeError(`'${text}' is negative; durations cannot be`);
  if (source === '') throw new RangeError(`empty duration; ${DURATION_HINT}`);
  let total = 0;
  let lastUnit = -1;
  PART.lastIndex = 0;
  while (PART.lastIndex < source.length) {
    const at = PART.lastIndex;
    const match = PART.exec(source);
    if (!match) throw new RangeError(`'${text}' is not a duration (at '${source.slice(at)}'); ${DURATION_HINT}`);
    const unit = UNIT_ORDER.indexOf(match[2]!);
    if (unit <= lastUnit) throw new RangeError(`'${text}' repeats or misorders units; write the largest first, each once (e.g. 1h30m)`);
    lastUnit = unit;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
  }
  if (!Number.isSafeInteger(Math.round(total))) throw new RangeError(`'${text}' is too long`);
  return Math.round(total);
}

/**
 * For people: `450ms`, `1.5s`, `59s`, `1m30s`, `2h5m`, `3d4h` — the two largest units, which is
 * all a glance needs. The output parses back with parseDuration (to within what was dropped).
 */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  if (ms < 0) return `-${formatDuration(-ms)}`;
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const tenths = Math.round(ms / 100) / 10;
  if (tenths < 60) return `${tenths}s`;
  let rest = Math.round(ms / 1000) * 1000;
  const parts: string[] = [];
  for (const unit of ['d', 'h', 'm', 's']) {
    const count = Math.floor(rest / UNIT_MS[unit]!);
    rest -= count * UNIT_MS[unit]!;
    if (parts.length === 0 && count === 0) continue;
    if (count > 0) parts.push(`${count}${unit}`);
    if (parts.length === 2 || (parts.length === 1 && count === 0)) break;
  }
  return parts.join('');
}
