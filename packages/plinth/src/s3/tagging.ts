import { S3Error } from './errors.js';
import { readBody, requireBodyDigest } from './http.js';
import { findVersion, versionHeader, versionIdParam } from './object-read.js';
import type { Handler, S3Request } from './types.js';
import { asArray, parseXml, toXml } from './xml.js';

/** GetObjectTagging, PutObjectTagging, DeleteObjectTagging, and the tag rules x-amz-tagging shares. */

const MAX_TAGS = 10;
const MAX_KEY_CHARS = 128;
const MAX_VALUE_CHARS = 256;
/** The characters AWS allows in tags: letters, digits and spaces in any script, and + - = . _ : / @ */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}+\-=._:/@]*$/u;
/** A tag set is at most 10 small tags: a body much larger than that is not one. */
const MAX_BODY_BYTES = 64 * 1024;

/** Checks a tag set against S3's rules (lengths count characters, not bytes) and returns it. */
export function tagSet(pairs: [string, string][]): Record<string, string> {
  if (pairs.length > MAX_TAGS) throw new S3Error('InvalidTag', `Object tags cannot be greater than ${MAX_TAGS}`);
  const seen = new Set<string>();
  for (const [key, value] of pairs) {
    const keyChars = [...key].length;
    if (keyChars === 0 || keyChars > MAX_KEY_CHARS) throw new S3Error('InvalidTag', `The TagKey you have provided is too long, max ${MAX_KEY_CHARS}`, { TagKey: key });
    if ([...value].length > MAX_VALUE_CHARS) throw new S3Error('InvalidTag', `The TagValue you have provided is too long, max ${MAX_VALUE_CHARS}`, { TagKey: key, TagValue: value });
    if (!TAG_TEXT.test(key)) throw new S3Error('InvalidTag', 'The TagKey you have provided is invalid', { TagKey: key });
    if (!TAG_TEXT.test(value)) throw new S3Error('InvalidTag', 'The TagValue you have provided is invalid', { TagKey: key, TagValue: value });
    if (key.toLowerCase().startsWith('aws:')) throw new S3Error('InvalidTag', 'Your TagKey cannot be prefixed with aws:', { TagKey: key });
    if (seen.has(key)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key', { TagKey: key });
    seen.add(key);
  }
  // fromEntries defines own properties, so a key like __proto__ is kept as a tag.
  return Object.fromEntries(pairs);
}

function target(req: S3Request): { bucket: string; key: string; versionId?: string } {
  return { bucket: req.bucket!, key: req.key!, versionId: versionIdParam(req.query) };
}

export const getObjectTagging: Handler = async (req, ctx) => {
  const { bucket, version } = await findVersion(req, ctx, target(req), 'read');
  await ctx.meta.addCost(bucket.name, { get: 1 });
  const tags = Object.entries(version.tags).map(([Key, Value]) => ({ Key, Value }));
  return {
    headers: versionHeader(bucket, version.versionId),
    body: toXml('Tagging', { TagSet: { Tag: tags } }),
  };
};

function parseTagging(xml: string): Record<string, string> {
  const element = parseXml(xml, 'Tagging').TagSet;
  if (element === undefined) throw new S3Error('MalformedXML');
  // An empty <TagSet/> parses as text; other text is no tag set.
  if (typeof element === 'string' && element.trim() !== '') throw new S3Error('MalformedXML');
  const tags = typeof element === 'string' ? [] : asArray((element as { Tag?: unknown }).Tag);
  return tagSet(
    tags.map((tag) => {
      const { Key, Value } = (tag ?? {}) as { Key?: unknown; Value?: unknown };
      if (typeof Key !== 'string' || (Value !== undefined && typeof Value !== 'string')) throw new S3Error('MalformedXML');
      return [Key, Value ?? ''];
    }),
  );
}

export const putObjectTagging: Handler = async (req, ctx) => {
  const { bucket, version } = await findVersion(req, ctx, target(req), 'write');
  await ctx.meta.addCost(bucket.name, { put: 1 });
  requireBodyDigest(req.headers);
  const tags = parseTagging(await readBody(req.body, MAX_BODY_BYTES));
  await ctx.meta.updateObject(bucket.name, version.key, version.versionId, { tags });
  return { headers: versionHeader(bucket, version.versionId) };
};

export const deleteObjectTagging: Handler = async (req, ctx) => {
  const { bucket, version } = await findVersion(req, ctx, target(req), 'write');
  await ctx.meta.addCost(bucket.name, { delete: 1 });
  await ctx.meta.updateObject(bucket.name, version.key, version.versionId, { tags: {} });
  return { status: 204, headers: versionHeader(bucket, version.versionId) };
};
