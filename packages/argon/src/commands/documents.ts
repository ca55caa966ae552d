import { deserialize, ObjectId, serialize, type Document } from 'bson';

/**
 * Documents travel through the command layer with their exact BSON types (Int32, Double, Long,
 * Decimal128 wrappers), so what a client stores is what it reads back.
 */
export function decodeFaithful(raw: Buffer): Document {
  return deserialize(raw, { promoteValues: false, bsonRegExp: true, validation: { utf8: false } });
}

export function encode(doc: Document): Buffer {
  const u8 = serialize(doc, { checkKeys: false, ignoreUndefined: false });
  return Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
}

/** Inserts get an ObjectId `_id` as their first field when they have none, as mongod does. */
export function withId(doc: Document): Document {
  if (doc._id !== undefined) return doc;
  return { _id: new ObjectId(), ...doc };
}
