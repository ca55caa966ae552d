/**
 * Secret redaction on a task's output stream. It runs on the decoded text *before* it is split
 * into lines, so a secret split across two pipe chunks (or across a line break, for a multi-line
 * key) is still caught: the redactor holds back the end of what it has seen while that end could
 * still be the start of a secret.
 */

export const MASK = '***';

/** A secret and the encodings a task is likely to print it in. */
export function secretVariants(values: string[]): string[] {
  const out = new Set<string>();
  for (const value of values) {
    if (value.length === 0) continue;
    out.add(value);
    // Encodings of a very short value would mask common digits and letters everywhere.
    if (Buffer.byteLength(value) >= 4) for (const form of formsOf(value)) out.add(form);
    // Multi-line values (PEM keys) are also printed a line at a time.
    for (const line of value.split(/\r?\n/)) if (line !== value && line.trim().length >= 4) out.add(line.trim());
  }
  return [...out].filter((v) => v.length > 0).sort((a, b) => b.length - a.length);
}

function formsOf(value: string): string[] {
  const bytes = Buffer.from(value, 'utf8');
  const b64 = bytes.toString('base64');
  const url = encodeURIComponent(value);
  const hex = bytes.toString('hex');
  return [
    value,
    b64,
    b64.replace(/=+$/, ''),
    bytes.toString('base64url'),
    ...embeddedBase64(bytes),
    url,
    url.replace(/%20/g, '+'),
    url.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase()),
    hex,
    hex.toUpperCase(),
  ];
}

/**
 * The secret base64-encoded inside a longer value (`Basic base64(user:secret)`): at each of the
 * three byte alignments, the characters that depend on the secret's bytes alone. Skipped for short
 * secrets, whose cores would be too short to be specific.
 */
function embeddedBase64(bytes: Buffer): string[] {
  if (bytes.length < 6) return [];
  const forms: string[] = [];
  for (let shift = 0; shift < 3; shift++) {
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const start = Math.ceil((8 * shift) / 6);
    const end = Math.floor((8 * (shift + bytes.length)) / 6);
    const core = encoded.slice(start, end);
    forms.push(core, core.replace(/\+/g, '-').replace(/\//g, '_'));
  }
  return forms.filter((f) => f.length >= 6);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Masks secrets in a whole text (an error message). */
export function redactText(text: string, variants: string[]): string {
  const r = new StreamRedactor(variants);
  return r.push(text) + r.end();
}

/** Redacts one stream: `push` returns what is safe to pass on, `end` the rest. */
export class StreamRedactor {
  private readonly pattern: RegExp | null;
  private readonly longest: number;
  private tail = '';

  constructor(private readonly variants: string[]) {
    this.pattern = variants.length ? new RegExp(variants.map(escapeRegExp).join('|'), 'g') : null;
    this.longest = variants.reduce((n, v) => Math.max(n, v.length), 0);
  }

  push(text: string): string {
    if (!this.pattern) return text;
    const buf = this.tail + text;
    // A match starting before `limit` has its whole window (the longest variant) in `buf`, so
    // the longest-first alternation picks the right variant; later ones wait for more text.
    const limit = buf.length - (this.longest - 1);
    let out = '';
    let pos = 0;
    for (const m of buf.matchAll(this.pattern)) {
      if (m.index >= limit) break;
      out += buf.slice(pos, m.index) + MASK;
      pos = m.index + m[0].length;
    }
    const keepFrom = this.holdFrom(buf, Math.max(pos, limit));
    out += buf.slice(pos, keepFrom);
    this.tail = buf.slice(keepFrom);
    return out;
  }

  end(): string {
    const rest = this.tail;
    this.tail = '';
    return this.pattern ? rest.replace(this.pattern, MASK) : rest;
  }

  /** The first position from `from` whose remainder could still grow into a secret: held back. */
  private holdFrom(buf: string, from: number): number {
    for (let p = from; p < buf.length; p++) {
      const rest = buf.slice(p);
      if (this.variants.some((v) => v.startsWith(rest) || rest.startsWith(v))) return p;
    }
    return buf.length;
  }
}
