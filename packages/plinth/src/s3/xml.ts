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

/** A carriage return is escaped too: XML parsers turn a literal one into a line feed. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"'\r]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;', '\r': '&#13;' })[c]!);
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

const NAMED_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** XML 1.0's Char production: what a character reference may name. */
function xmlChar(code: number): boolean {
  return code === 0x9 || code === 0xa || code === 0xd || (code >= 0x20 && code <= 0xd7ff) || (code >= 0xe000 && code <= 0xfffd) || (code >= 0x10000 && code <= 0x10ffff);
}

/**
 * Entity references in request bodies: XML's five named entities and character references (SDKs
 * write line breaks in keys as &#x0A; and the like). Entities a DOCTYPE declares are never
 * expanded, S3's documents need none: like any other unknown reference they make the body
 * MalformedXML.
 */
const entityDecoder = {
  setExternalEntities: () => {},
  addInputEntities: () => {},
  reset: () => {},
  setXmlVersion: () => {},
  decode: (text: string) =>
    text.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z_:][\w.:-]*);/gi, (_reference, name: string) => {
      if (!name.startsWith('#')) {
        if (!Object.hasOwn(NAMED_ENTITIES, name)) throw new S3Error('MalformedXML');
        return NAMED_ENTITIES[name]!;
      }
      const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
      if (!xmlChar(code)) throw new S3Error('MalformedXML');
      return String.fromCodePoint(code);
    }),
};

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  entityDecoder,
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
