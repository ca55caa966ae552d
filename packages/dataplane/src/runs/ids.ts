import { randomBytes } from 'node:crypto';

/**
 * Run ids: the creation time in base 36 (so ids sort by time, as listings do) and 8 random
 * characters (so two servers or two runs in one millisecond never collide). Short enough to type.
 */
export function newRunId(now = Date.now()): string {
  const random = randomBytes(5).readUIntBE(0, 5).toString(36).padStart(8, '0');
  return `r${now.toString(36).padStart(9, '0')}${random}`;
}
