/**
 * Collection validators (the `validator` option of `create` and `collMod`): a query filter,
 * `$jsonSchema` included, that every written document must match. The storage layer enforces
 * them through StoreOptions.compileValidator; this module compiles one and, when a document
 * fails, says why in the shape of mongod's errInfo `details`: which top-level clauses failed,
 * with the operator and how it was specified, and for `$jsonSchema` which of its rules. It stops
 * there (no `reason` or `consideredValue`): what it reports is true, if shorter than mongod's.
 */
import { ArgonError } from '../errors.js';
import { compileFilter } from './filter.js';
import { compileSchemaReport } from './schema.js';
import { isPlainObject, type Document } from './values.js';

type Clause = (doc: Document) => Document | null;

/** Operators mongod refuses in a validator: they need an index or JavaScript. */
const NOT_ALLOWED = ['$where', '$text', '$near', '$nearSphere', '$geoNear'];

export function compileValidator(validator: Document): (doc: Document) => Document | null {
  const refused = NOT_ALLOWED.find((op) => usesOperator(validator, op));
  if (refused) throw new ArgonError('BadValue', `${refused} is not allowed in this context`);
  // The whole filter checks the validator and decides; the clauses only explain a failure.
  const matches = compileFilter(validator);
  // mongod flattens a validator into one $and of clauses: a field with several operators is several.
  const clauses: Clause[] = [];
  for (const [key, value] of Object.entries(validator)) {
    if (key === '$comment') continue;
    if (key === '$jsonSchema') {
      clauses.push(schemaClause(value));
    } else if (!key.startsWith('$') && isOperatorObject(value)) {
      for (const op of Object.keys(value)) {
        if (op === '$options') continue;
        const spec = op === '$regex' && '$options' in value ? { $regex: value.$regex, $options: value.$options } : { [op]: value[op] };
        clauses.push(clause(key, op, spec));
      }
    } else {
      clauses.push(clause(key, key.startsWith('$') ? key : isRegex(value) ? '$regex' : '$eq', value));
    }
  }
  return (doc) => {
    if (matches(doc)) return null;
    const failed = clauses.map((c, index) => ({ index, details: c(doc) })).filter((f) => f.details !== null);
    if (failed.length === 1 && clauses.length === 1) return failed[0]!.details;
    return { operatorName: '$and', clausesNotSatisfied: failed };
  };
}

function clause(key: string, operatorName: string, value: unknown): Clause {
  const specifiedAs = { [key]: value };
  const test = compileFilter(specifiedAs);
  return (doc) => (test(doc) ? null : { operatorName, specifiedAs });
}

function schemaClause(schema: unknown): Clause {
  if (!isPlainObject(schema)) throw new ArgonError('BadValue', '$jsonSchema must be an object');
  const report = compileSchemaReport(schema);
  return (doc) => {
    const rules = report(doc);
    return rules.length === 0 ? null : { operatorName: '$jsonSchema', schemaRulesNotSatisfied: rules };
  };
}

function usesOperator(v: unknown, op: string): boolean {
  if (Array.isArray(v)) return v.some((e) => usesOperator(e, op));
  return isPlainObject(v) && Object.entries(v).some(([k, e]) => k === op || usesOperator(e, op));
}

function isOperatorObject(v: unknown): v is Document {
  return isPlainObject(v) && Object.keys(v).length > 0 && Object.keys(v).every((k) => k.startsWith('$'));
}

function isRegex(v: unknown): boolean {
  return v instanceof RegExp || (typeof v === 'object' && v !== null && (v as { _bsontype?: string })._bsontype === 'BSONRegExp');
}
