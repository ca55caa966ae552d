import { XMLParser } from 'fast-xml-parser';
import { S3Error } from './errors.js';

/** S3's XML: replies built from plain objects, request bodies parsed with fast-xml-parser. */

export const S3_NAMESPACE = 'http://s3.amazonaws.com/doc/2006-03-01/';

/** An element's content: text, nested elements, or an array (the element repeated). */
export type XmlValue = string | number | boolean | Date | null | undefined | XmlObject | XmlValue[] | XmlSequence;
export interface XmlObject {
  [element: string]: XmlValue;
}

/**
 * Elements of several names whose relative order matters (ListObjectVersions interleaves Version
 * and DeleteMarker in listing order): rendered in place of the field holding the sequence, whose
 * own name is not used.
 */
export class XmlSequence {
  constructor(readonly elements: [name: string, value: XmlValue][]) {}
}

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function text(value: Exclude<XmlValue, XmlObject | XmlValue[] | XmlSequence | null | undefined>): string {
  return value instanceof Date ? value.toISOString() : escapeXml(String(value));
}

function element(name: string, value: XmlValue): string {
  if (value === undefined || value === null) return '';
  if (Array.isArray(value)) return value.map((v) => element(name, v)).join('');
  if (value instanceof XmlSequence) return value.elements.map(([n, v]) => element(n, v)).join('');
  if (typeof value === 'object' && !(value instanceof Date)) return `<${name}>${children(value)}</${name}>`;
  return `<${name}>${text(value)}</${name}>`;
}

function children(obj: XmlObject): string {
  return Object.entries(obj)
    .map(([name, value]) => element(name, value))
    .join('');
}

/** A whole reply document; `undefined`/`null` fields are left out. */
export function toXml(root: string, content: XmlObject, namespace = true): string {
  const ns = namespace ? ` xmlns="${S3_NAMESPACE}"` : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns}>${children(content)}</${root}>`;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  ignoreDeclaration: true,
});

/**
 * Parses a request body and returns its root element's content. Anything that is not
 * well-formed XML with the expected root is S3's MalformedXML.
 */
export function parseXml(body: string, root: string): Record<string, unknown> {
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(body, true) as Record<string, unknown>;
  } catch {
    throw new S3Error('MalformedXML');
  }
  const content = doc[root];
  if (content === undefined) throw new S3Error('MalformedXML');
  return content === '' ? {} : (content as Record<string, unknown>);
}

/** Elements that may repeat come back as one value when they appear once: always get an array. */
export function asArray<T>(value: T | T[] | undefined): T[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
