import { isMap, isScalar, isSeq, parseDocument, type Document, type YAMLError } from 'yaml';
import { joinPath, type PipelineIssue } from './errors.js';

/**
 * The file's text as plain data. YAML 1.2 (core schema, so `yes` and `on` stay strings) reads
 * JSON too, and unlike JSON.parse it refuses duplicate keys in both — a second `extract:` would
 * otherwise silently replace the first task.
 */
export function readSource(text: string): { data: unknown; issues: PipelineIssue[] } {
  if (text.trim() === '') return { data: undefined, issues: [{ path: '', message: 'the file is empty' }] };
  const doc = parseDocument(text, { uniqueKeys: true, version: '1.2' });
  if (doc.errors.length > 0) return { data: undefined, issues: doc.errors.map((e) => yamlIssue(e, doc)) };
  try {
    // The alias cap stops a small file expanding into a huge one ("billion laughs").
    return { data: doc.toJS({ maxAliasCount: 100 }), issues: [] };
  } catch (err) {
    return { data: undefined, issues: [{ path: '', message: (err as Error).message }] };
  }
}

function yamlIssue(error: YAMLError, doc: Document): PipelineIssue {
  const where = error.linePos ? `line ${error.linePos[0].line}, column ${error.linePos[0].col}` : `offset ${error.pos[0]}`;
  if (error.code === 'DUPLICATE_KEY') {
    const found = findKey(doc.contents, '', error.pos[0]);
    if (found) return { path: found.path, message: `duplicate ${keyKind(found.parent)} '${found.key}' (${where})` };
  }
  if (error.code === 'MULTIPLE_DOCS') return { path: '', message: `${where}: a pipeline file holds one document; remove the '---' separator` };
  // The library's first line is the message; the rest is a source excerpt, which a path replaces.
  const first = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return { path: '', message: `${where}: ${first}` };
}

function keyKind(parentPath: string): string {
  return parentPath === 'tasks' ? 'task id' : parentPath === 'params' ? 'param' : 'key';
}

/** The path of the mapping key that starts at `offset` (where the library reports a duplicate). */
function findKey(node: unknown, path: string, offset: number): { path: string; parent: string; key: string } | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : String(pair.key);
      if (isScalar(pair.key) && pair.key.range?.[0] === offset) return { path: joinPath(path, key), parent: path, key };
      const inner = findKey(pair.value, joinPath(path, key), offset);
      if (inner) return inner;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const inner = findKey(item, joinPath(path, i), offset);
      if (inner) return inner;
    }
  }
  return undefined;
}
