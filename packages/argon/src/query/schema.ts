/**
 * `$jsonSchema` (MongoDB's draft-4 subset plus `bsonType`). Keywords that
 * constrain one JSON type (minimum, minLength, items, ...) pass other types.
 */
import { ArgonError } from '../errors.js';
import {
  badValue,
  bsonTypeName,
  compareBson,
  isNumeric,
  isPlainObject,
  numKind,
  toNumber,
  TYPE_NUMBERS,
  type Document,
} from './values.js';

type Test = (v: unknown) => boolean;

const JSON_TYPES = new Set(['object', 'array', 'number', 'boolean', 'string', 'null']);
const IGNORED = new Set(['title', 'description', '$comment', 'id', '$schema']);

function jsonTypeOf(v: unknown): string {
  const t = bsonTypeName(v);
  if (numKind(v) !== undefined) return 'number';
  if (t === 'bool') return 'boolean';
  return t;
}

function nonNegInt(v: unknown, kw: string): number {
  const n = isNumeric(v) ? toNumber(v) : NaN;
  if (!Number.isInteger(n) || n < 0) throw badValue(`$jsonSchema keyword '${kw}' must be a non-negative integer`);
  return n;
}

function schemaObject(v: unknown, kw: string): Document {
  if (!isPlainObject(v)) throw badValue(`$jsonSchema keyword '${kw}' must be an object`);
  return v;
}

function schemaArray(v: unknown, kw: string): Test[] {
  if (!Array.isArray(v) || v.length === 0) throw badValue(`$jsonSchema keyword '${kw}' must be a nonempty array`);
  return v.map((s) => compileSchema(schemaObject(s, kw)));
}

export function compileSchema(schema: Document): Test {
  const tests: Test[] = [];
  for (const kw of Object.keys(schema)) {
    const arg = schema[kw];
    switch (kw) {
      case 'bsonType':
      case 'type': {
        const names = (Array.isArray(arg) ? arg : [arg]) as unknown[];
        for (const n of names) {
          if (typeof n !== 'string') throw badValue(`$jsonSchema keyword '${kw}' must be a string or an array of strings`);
          if (kw === 'type' && !JSON_TYPES.has(n)) throw badValue(`Unknown type name alias: ${n}`);
          if (kw === 'bsonType' && n !== 'number' && !(n in TYPE_NUMBERS)) throw badValue(`Unknown type name alias: ${n}`);
        }
        const set = new Set(names as string[]);
        tests.push(
          kw === 'type'
            ? (v) => set.has(jsonTypeOf(v))
            : (v) => set.has(bsonTypeName(v)) || (set.has('number') && numKind(v) !== undefined),
        );
        break;
      }
      case 'required': {
        if (!Array.isArray(arg) || arg.some((f) => typeof f !== 'string')) throw badValue("$jsonSchema keyword 'required' must be an array of strings");
        const fields = arg as string[];
        tests.push((v) => !isPlainObject(v) || fields.every((f) => v[f] !== undefined));
        break;
      }
      case 'properties':
      case 'patternProperties':
      case 'additionalProperties':
        break; // handled together below
      case 'minProperties':
      case 'maxProperties': {
        const n = nonNegInt(arg, kw);
        tests.push((v) => !isPlainObject(v) || (kw === 'minProperties' ? Object.keys(v).length >= n : Object.keys(v).length <= n));
        break;
      }
      case 'enum': {
        if (!Array.isArray(arg) || arg.length === 0) throw badValue("$jsonSchema keyword 'enum' must be a nonempty array");
        tests.push((v) => v !== undefined && arg.some((e) => compareBson(e, v) === 0));
        break;
      }
      case 'minimum':
      case 'maximum': {
        if (!isNumeric(arg)) throw badValue(`$jsonSchema keyword '${kw}' must be a number`);
        const exclusive = schema[kw === 'minimum' ? 'exclusiveMinimum' : 'exclusiveMaximum'] === true;
        tests.push((v) => {
          if (numKind(v) === undefined) return true;
          const c = compareBson(v, arg);
          return kw === 'minimum' ? (exclusive ? c > 0 : c >= 0) : exclusive ? c < 0 : c <= 0;
        });
        break;
      }
      case 'exclusiveMinimum':
      case 'exclusiveMaximum':
        if (typeof arg !== 'boolean') throw badValue(`$jsonSchema keyword '${kw}' must be a boolean`);
        if (!((kw === 'exclusiveMinimum' ? 'minimum' : 'maximum') in schema)) throw badValue(`$jsonSchema keyword '${kw}' requires its companion keyword`);
        break;
      case 'multipleOf': {
        if (!isNumeric(arg) || !(toNumber(arg) > 0)) throw badValue("$jsonSchema keyword 'multipleOf' must be a positive number");
        const m = toNumber(arg);
        tests.push((v) => numKind(v) === undefined || toNumber(v) % m === 0);
        break;
      }
      case 'minLength':
      case 'maxLength': {
        const n = nonNegInt(arg, kw);
        tests.push((v) => typeof v !== 'string' || (kw === 'minLength' ? [...v].length >= n : [...v].length <= n));
        break;
      }
      case 'pattern': {
        if (typeof arg !== 'string') throw badValue("$jsonSchema keyword 'pattern' must be a string");
        const re = new RegExp(arg);
        tests.push((v) => typeof v !== 'string' || re.test(v));
        break;
      }
      case 'items': {
        if (Array.isArray(arg)) {
          const items = arg.map((s) => compileSchema(schemaObject(s, kw)));
          const extra = schema.additionalItems;
          const extraTest: Test =
            extra === false ? () => false : isPlainObject(extra) ? compileSchema(extra) : () => true;
          tests.push((v) => !Array.isArray(v) || v.every((e, i) => (i < items.length ? items[i]!(e) : extraTest(e))));
        } else {
          const t = compileSchema(schemaObject(arg, kw));
          tests.push((v) => !Array.isArray(v) || v.every(t));
        }
        break;
      }
      case 'additionalItems':
        break;
      case 'minItems':
      case 'maxItems': {
        const n = nonNegInt(arg, kw);
        tests.push((v) => !Array.isArray(v) || (kw === 'minItems' ? v.length >= n : v.length <= n));
        break;
      }
      case 'uniqueItems':
        if (typeof arg !== 'boolean') throw badValue("$jsonSchema keyword 'uniqueItems' must be a boolean");
        if (arg) tests.push((v) => !Array.isArray(v) || v.every((e, i) => v.findIndex((x) => compareBson(x, e) === 0) === i));
        break;
      case 'allOf': {
        const subs = schemaArray(arg, kw);
        tests.push((v) => subs.every((t) => t(v)));
        break;
      }
      case 'anyOf': {
        const subs = schemaArray(arg, kw);
        tests.push((v) => subs.some((t) => t(v)));
        break;
      }
      case 'oneOf': {
        const subs = schemaArray(arg, kw);
        tests.push((v) => subs.filter((t) => t(v)).length === 1);
        break;
      }
      case 'not': {
        const t = compileSchema(schemaObject(arg, kw));
        tests.push((v) => !t(v));
        break;
      }
      case 'dependencies': {
        const deps = schemaObject(arg, kw);
        for (const field of Object.keys(deps)) {
          const d = deps[field];
          if (Array.isArray(d)) tests.push((v) => !isPlainObject(v) || v[field] === undefined || d.every((f) => v[f as string] !== undefined));
          else {
            const t = compileSchema(schemaObject(d, kw));
            tests.push((v) => !isPlainObject(v) || v[field] === undefined || t(v));
          }
        }
        break;
      }
      case 'encrypt':
        break;
      default:
        if (IGNORED.has(kw)) break;
        throw new ArgonError('FailedToParse', `Unknown $jsonSchema keyword: ${kw}`);
    }
  }
  if ('properties' in schema || 'patternProperties' in schema || 'additionalProperties' in schema) {
    tests.push(compileProperties(schema));
  }
  return (v) => tests.every((t) => t(v));
}

function compileProperties(schema: Document): Test {
  const props = new Map<string, Test>();
  if (schema.properties !== undefined) {
    const p = schemaObject(schema.properties, 'properties');
    for (const k of Object.keys(p)) props.set(k, compileSchema(schemaObject(p[k], 'properties')));
  }
  const patterns: [RegExp, Test][] = [];
  if (schema.patternProperties !== undefined) {
    const p = schemaObject(schema.patternProperties, 'patternProperties');
    for (const k of Object.keys(p)) patterns.push([new RegExp(k), compileSchema(schemaObject(p[k], 'patternProperties'))]);
  }
  const ap = schema.additionalProperties;
  let additional: Test = () => true;
  if (ap === false) additional = () => false;
  else if (isPlainObject(ap)) additional = compileSchema(ap);
  else if (ap !== undefined && ap !== true) throw badValue("$jsonSchema keyword 'additionalProperties' must be a boolean or an object");
  return (v) => {
    if (!isPlainObject(v)) return true;
    for (const k of Object.keys(v)) {
      const val = v[k];
      let covered = false;
      const pt = props.get(k);
      if (pt) {
        covered = true;
        if (!pt(val)) return false;
      }
      for (const [re, t] of patterns) {
        if (re.test(k)) {
          covered = true;
          if (!t(val)) return false;
        }
      }
      if (!covered && !additional(val)) return false;
    }
    return true;
  };
}

/** Keywords reported together with the keyword they qualify. */
const COMPANION_OF: Record<string, string> = { minimum: 'exclusiveMinimum', maximum: 'exclusiveMaximum', items: 'additionalItems' };
const COMPANIONS = new Set(Object.values(COMPANION_OF));
const PROPERTY_KEYWORDS = new Set(['properties', 'patternProperties', 'additionalProperties']);

/**
 * The rules of a schema a value breaks, shaped as mongod's errInfo `schemaRulesNotSatisfied`:
 * each failing keyword as it was specified, the missing fields of `required`, and the failing
 * properties with their own rules. Less detailed than mongod (no `reason`, no `consideredValue`),
 * but every rule it names did fail. Throws on a malformed schema, as compileSchema does.
 */
export function compileSchemaReport(schema: Document): (v: unknown) => Document[] {
  compileSchema(schema);
  const rules: ((v: unknown) => Document[])[] = [];
  for (const kw of Object.keys(schema)) {
    if (COMPANIONS.has(kw) || IGNORED.has(kw) || PROPERTY_KEYWORDS.has(kw)) continue;
    const specifiedAs: Document = { [kw]: schema[kw] };
    const companion = COMPANION_OF[kw];
    if (companion !== undefined && companion in schema) specifiedAs[companion] = schema[companion];
    const test = compileSchema(specifiedAs);
    rules.push((v) => {
      if (test(v)) return [];
      const rule: Document = { operatorName: kw, specifiedAs };
      if (kw === 'required' && isPlainObject(v)) rule.missingProperties = (schema.required as string[]).filter((f) => v[f] === undefined);
      return [rule];
    });
  }
  if (Object.keys(schema).some((kw) => PROPERTY_KEYWORDS.has(kw))) rules.push(reportProperties(schema));
  return (v) => rules.flatMap((rule) => rule(v));
}

/** The failures compileProperties would find, one rule per keyword that has any. */
function reportProperties(schema: Document): (v: unknown) => Document[] {
  // compileSchemaReport compiled the whole schema first: these are objects.
  const props = Object.entries((schema.properties ?? {}) as Record<string, Document>).map(([name, sub]) => ({ name, test: compileSchema(sub), report: compileSchemaReport(sub) }));
  const patterns = Object.entries((schema.patternProperties ?? {}) as Record<string, Document>).map(([pattern, sub]) => ({ pattern, re: new RegExp(pattern), test: compileSchema(sub), report: compileSchemaReport(sub) }));
  const ap = schema.additionalProperties;
  const additional: Test = ap === false ? () => false : isPlainObject(ap) ? compileSchema(ap) : () => true;
  return (v) => {
    if (!isPlainObject(v)) return [];
    const out: Document[] = [];
    const failedProps = props.filter((p) => v[p.name] !== undefined && !p.test(v[p.name])).map((p) => ({ propertyName: p.name, details: p.report(v[p.name]) }));
    if (failedProps.length > 0) out.push({ operatorName: 'properties', propertiesNotSatisfied: failedProps });
    const failedPatterns: Document[] = [];
    const extra: string[] = [];
    for (const k of Object.keys(v)) {
      let covered = props.some((p) => p.name === k);
      for (const p of patterns) {
        if (!p.re.test(k)) continue;
        covered = true;
        if (!p.test(v[k])) failedPatterns.push({ propertyName: k, regexMatched: p.pattern, details: p.report(v[k]) });
      }
      if (!covered && !additional(v[k])) extra.push(k);
    }
    if (failedPatterns.length > 0) out.push({ operatorName: 'patternProperties', details: failedPatterns });
    if (extra.length > 0) out.push({ operatorName: 'additionalProperties', specifiedAs: { additionalProperties: ap }, additionalProperties: extra });
    return out;
  };
}
