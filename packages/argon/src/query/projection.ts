/**
 * find() projections: inclusion or exclusion (never mixed, except `_id`),
 * dotted paths through arrays of subdocuments, positional `a.$`, `$slice`,
 * `$elemMatch`, and aggregation expressions for computed fields (MongoDB 4.4+).
 */
import { ArgonError } from '../errors.js';
import { compileExpression } from './expr.js';
import { compileFilter, positionalIndex } from './filter.js';
import { restoreTypes } from './expr.js';
import { badValue, clone, isNumeric, isPlainObject, toNumber, type Document } from './values.js';

type Leaf =
  | { kind: 'include' }
  | { kind: 'exclude' }
  | { kind: 'expr'; eval: (doc: Document) => unknown }
  | { kind: 'slice'; skip?: number; limit: number }
  | { kind: 'elemMatch'; test: (e: unknown) => boolean }
  | { kind: 'positional' };

interface Node {
  children: Map<string, Node | Leaf>;
}

function isNode(x: Node | Leaf): x is Node {
  return (x as Node).children !== undefined;
}

function projectionError(code: 31250 | 31253 | 31254, message: string): ArgonError {
  return new ArgonError(`Location${code}`, message);
}

function parseLeaf(path: string, v: unknown, filter: Document | undefined): Leaf {
  if (typeof v === 'boolean') return { kind: v ? 'include' : 'exclude' };
  if (isNumeric(v)) return { kind: toNumber(v) === 0 ? 'exclude' : 'include' };
  if (isPlainObject(v)) {
    const keys = Object.keys(v);
    const op = keys[0];
    if (op === '$slice') {
      const arg = v.$slice;
      if (isNumeric(arg)) return { kind: 'slice', limit: Math.trunc(toNumber(arg)) };
      if (Array.isArray(arg) && arg.length === 2 && isNumeric(arg[0]) && isNumeric(arg[1])) {
        const limit = toNumber(arg[1]);
        if (limit <= 0) throw badValue(`$slice limit must be positive`);
        return { kind: 'slice', skip: Math.trunc(toNumber(arg[0])), limit: Math.trunc(limit) };
      }
      // $slice as an aggregation expression
      return { kind: 'expr', eval: compileExpression(v) };
    }
    if (op === '$elemMatch') {
      if (path.includes('.')) throw badValue('Cannot use $elemMatch projection on a nested field.');
      if (!isPlainObject(v.$elemMatch)) throw badValue('elemMatch: Invalid argument, object required.');
      const f = compileFilter({ x: { $elemMatch: v.$elemMatch } });
      return { kind: 'elemMatch', test: (e) => f({ x: [e] }) };
    }
    if (op === '$meta') {
      throw badValue(`$meta projection of '${String(v.$meta)}' is not supported`);
    }
  }
  void filter;
  return { kind: 'expr', eval: compileExpression(v) };
}

/** Compiles a projection; `filter` is needed for the positional `a.$`. */
export function compileProjection(projection: Document, filter?: Document): (doc: Document) => Document {
  if (!isPlainObject(projection)) throw badValue('projection must be an object');
  const root: Node = { children: new Map() };
  let inclusion: boolean | undefined;
  let idLeaf: Leaf | undefined;
  let positional: string[] | undefined;
  let elemMatch = false;
  for (const rawPath of Object.keys(projection)) {
    let path = rawPath;
    let leaf: Leaf;
    if (path.endsWith('.$')) {
      if (positional) throw badValue('Cannot specify more than one positional projection per query.');
      path = path.slice(0, -2);
      const v = projection[rawPath];
      if (!(isNumeric(v) ? toNumber(v) !== 0 : v === true)) throw badValue('positional projection must be an inclusion');
      positional = path.split('.');
      leaf = { kind: 'positional' };
    } else {
      if (path.split('.').some((p) => p === '' || (p.startsWith('$')))) throw badValue(`FieldPath field names may not start with '$' or be empty: ${path}`);
      leaf = parseLeaf(path, projection[rawPath], filter);
    }
    if (path === '_id' && (leaf.kind === 'include' || leaf.kind === 'exclude')) {
      idLeaf = leaf;
      continue;
    }
    if (leaf.kind === 'elemMatch') elemMatch = true;
    const isIncl = leaf.kind === 'include' || leaf.kind === 'expr' || leaf.kind === 'positional';
    const isExcl = leaf.kind === 'exclude';
    if (isIncl || isExcl) {
      if (inclusion === undefined) inclusion = isIncl;
      else if (inclusion && isExcl) throw projectionError(31254, `Cannot do exclusion on field ${path} in inclusion projection`);
      else if (!inclusion && isIncl) throw projectionError(31253, `Cannot do inclusion on field ${path} in exclusion projection`);
    }
    insert(root, path.split('.'), leaf, path);
  }
  if (inclusion === undefined && idLeaf?.kind === 'include' && root.children.size === 0) inclusion = true;
  // $elemMatch alone projects like an inclusion ($slice alone like an exclusion).
  if (inclusion === undefined && elemMatch) inclusion = true;
  const mode = inclusion ?? false;
  const keepId = idLeaf ? idLeaf.kind === 'include' : true;
  return (doc) => {
    const positionIndex = positional ? positionalIndex(filter, positional, doc) : undefined;
    const out = mode ? includeNode(doc, root, doc, [], positionIndex) : excludeNode(clone(doc), root, doc);
    if (mode) {
      if (keepId && doc._id !== undefined) return { _id: doc._id, ...withoutId(out) };
      return withoutId(out);
    }
    if (!keepId) delete out._id;
    return out;
  };
}

function withoutId(d: Document): Document {
  if (!('_id' in d)) return d;
  const { _id, ...rest } = d;
  void _id;
  return rest;
}

function insert(root: Node, parts: string[], leaf: Leaf, path: string): void {
  let node = root;
  for (let i = 0; i < parts.length - 1; i++) {
    const existing = node.children.get(parts[i]!);
    if (existing && !isNode(existing)) throw projectionError(31250, `Path collision at ${path}`);
    if (!existing) {
      const n: Node = { children: new Map() };
      node.children.set(parts[i]!, n);
      node = n;
    } else node = existing;
  }
  const last = parts[parts.length - 1]!;
  if (node.children.has(last)) throw projectionError(31250, `Path collision at ${path}`);
  node.children.set(last, leaf);
}

function sliceArray(arr: unknown[], leaf: { skip?: number; limit: number }): unknown[] {
  if (leaf.skip === undefined) {
    const n = leaf.limit;
    return n >= 0 ? arr.slice(0, n) : arr.slice(Math.max(0, arr.length + n));
  }
  const start = leaf.skip >= 0 ? Math.min(leaf.skip, arr.length) : Math.max(0, arr.length + leaf.skip);
  return arr.slice(start, start + leaf.limit);
}

function includeNode(src: Document, node: Node, root: Document, at: string[], positionIndex: number | undefined): Document {
  const out: Document = {};
  for (const key of Object.keys(src)) {
    const spec = node.children.get(key);
    if (!spec) continue;
    const value = src[key];
    if (isNode(spec)) {
      const projected = includeValue(value, spec, root, [...at, key], positionIndex);
      if (projected !== undefined) out[key] = projected;
      continue;
    }
    switch (spec.kind) {
      case 'include':
        out[key] = value;
        break;
      case 'slice':
        out[key] = Array.isArray(value) ? sliceArray(value, spec) : value;
        break;
      case 'elemMatch':
        if (Array.isArray(value)) {
          const found = value.find(spec.test);
          if (found !== undefined) out[key] = [found];
        }
        break;
      case 'positional':
        if (Array.isArray(value)) {
          if (positionIndex === undefined || positionIndex >= value.length) {
            throw badValue("Executor error during find command :: caused by :: positional operator '.$' couldn't find a matching element in the array");
          }
          out[key] = [value[positionIndex]];
        } else {
          out[key] = value;
        }
        break;
      default:
        break;
    }
  }
  // Computed fields, in projection order.
  for (const [key, spec] of node.children) {
    if (isNode(spec)) {
      if (!(key in src) && hasExpr(spec)) {
        const sub = includeNode({}, spec, root, [...at, key], positionIndex);
        if (Object.keys(sub).length > 0) out[key] = sub;
      }
      continue;
    }
    if (spec.kind === 'expr') {
      const v = restoreTypes(spec.eval(root), undefined);
      if (v !== undefined) out[key] = v;
    }
  }
  return out;
}

function hasExpr(node: Node): boolean {
  for (const c of node.children.values()) if (isNode(c) ? hasExpr(c) : c.kind === 'expr') return true;
  return false;
}

function includeValue(value: unknown, node: Node, root: Document, at: string[], positionIndex: number | undefined): unknown {
  if (isPlainObject(value)) return includeNode(value, node, root, at, positionIndex);
  if (Array.isArray(value)) {
    const out: unknown[] = [];
    for (const e of value) {
      if (isPlainObject(e) || Array.isArray(e)) out.push(includeValue(e, node, root, at, positionIndex));
      else if (hasExpr(node)) out.push(includeNode({}, node, root, at, positionIndex));
    }
    return out;
  }
  if (hasExpr(node)) return includeNode({}, node, root, at, positionIndex);
  return undefined;
}

function excludeNode(doc: Document, node: Node, root: Document): Document {
  for (const [key, spec] of node.children) {
    if (!(key in doc)) continue;
    const value = doc[key];
    if (isNode(spec)) {
      excludeValue(value, spec, root);
      continue;
    }
    switch (spec.kind) {
      case 'exclude':
        delete doc[key];
        break;
      case 'slice':
        if (Array.isArray(value)) doc[key] = sliceArray(value, spec);
        break;
      case 'elemMatch':
        if (Array.isArray(value)) {
          const found = value.find(spec.test);
          if (found !== undefined) doc[key] = [found];
          else delete doc[key];
        }
        break;
      default:
        break;
    }
  }
  // $elemMatch on a missing field leaves it missing; nothing else to do.
  return doc;
}

function excludeValue(value: unknown, node: Node, root: Document): void {
  if (isPlainObject(value)) excludeNode(value, node, root);
  else if (Array.isArray(value)) for (const e of value) excludeValue(e, node, root);
}
