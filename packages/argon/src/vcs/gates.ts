/**
 * Merge gates: checks a merge (or revert) into a branch must pass before it applies, like
 * lakeFS's pre-merge hooks. They are configured per branch and meant for protected branches
 * (elsewhere direct writes go around them). Every gate runs on every merge that would change the
 * branch; one failure refuses the merge (`MergeGateFailed`), and the report of each gate is
 * returned by the merge (dry runs included) and kept in the merge record.
 *
 * - `jsonSchema`: documents of one collection must match a `$jsonSchema` (the matcher of
 *   `find({$jsonSchema})`). With `scope: 'all'` (the default) every document of the collection
 *   as it would be after the merge is checked, so a violation already on the branch refuses the
 *   merge too, and the cost follows the collection's size; with `'changed'` only the documents the
 *   merge inserts or rewrites are. Reports give failing `_id`s, not which keyword failed.
 * - `pipeline`: an aggregation pipeline on one collection of the merged state must return no
 *   documents (write it to select the offending ones); the first ones it returns are reported.
 * - `webhook`: a POST of the merge's description as JSON (Extended JSON, relaxed): event, source,
 *   target, base, strategy, counts per collection and the changed documents' `_id`s. A 2xx reply
 *   within the timeout (default 10 s) passes; anything else fails.
 *
 * The first two run inside the merge's write batch, which reads its own uncommitted writes, so
 * they judge exactly the state that commits, without a temporary branch.
 */
import { createHmac } from 'node:crypto';
import { deserialize, EJSON, serialize, type Document } from 'bson';
import { ArgonError } from '../errors.js';
import type { Store } from '../storage/store.js';
import type { WriteTx } from '../storage/writer.js';
import { decodeLossless, isPlainObject, nsOf, plainValue } from './values.js';

export type GateKind = 'jsonSchema' | 'pipeline' | 'webhook';

interface CollectionGate {
  name: string;
  db: string;
  coll: string;
}

export interface SchemaGate extends CollectionGate {
  kind: 'jsonSchema';
  schema: Document;
  scope: 'all' | 'changed';
}

export interface PipelineGate extends CollectionGate {
  kind: 'pipeline';
  pipeline: Document[];
}

export interface WebhookGate {
  name: string;
  kind: 'webhook';
  url: string;
  timeoutMs: number;
  /** When set, each call carries `X-Argon-Signature: sha256=<HMAC-SHA256 of the body>` so the receiver can tell it is us. */
  secret?: string;
}

export type Gate = SchemaGate | PipelineGate | WebhookGate;

export interface GateReport {
  name: string;
  kind: GateKind;
  passed: boolean;
  /** jsonSchema: checked, failed, ids; pipeline: returned, documents; webhook: status, body; any: error. */
  details: Document;
}

/** A document the merge writes (doc null: deleted), as the gates see it. */
export interface WrittenDoc {
  db: string;
  coll: string;
  id: unknown;
  op: 'insert' | 'update' | 'delete';
  doc: Document | null;
}

const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_TIMEOUT_MS = 60_000;
/** How many failing `_id`s / returned documents a report lists, and changed `_id`s a webhook is sent. */
const REPORTED_IDS = 20;
const REPORTED_DOCS = 10;
const SENT_DOCS = 1000;
const REPLY_CHARS = 500;

interface QueryLayer {
  compileFilter: typeof import('../query/filter.js').compileFilter;
  runPipeline: typeof import('../query/aggregate.js').runPipeline;
}

let queryLayer: Promise<QueryLayer> | undefined;

/** The query layer (mingo and all) loads when a gate first needs it, so importing the library stays fast. */
function loadQueryLayer(): Promise<QueryLayer> {
  queryLayer ??= Promise.all([import('../query/filter.js'), import('../query/aggregate.js')]).then(([filter, aggregate]) => ({
    compileFilter: filter.compileFilter,
    runPipeline: aggregate.runPipeline,
  }));
  return queryLayer;
}

function badGate(message: string): ArgonError {
  return new ArgonError('BadValue', `invalid merge gate: ${message}`);
}

function text(spec: Document, field: string): string {
  const value = spec[field];
  if (typeof value !== 'string' || value === '') throw badGate(`'${field}' must be a non-empty string`);
  return value;
}

/**
 * Validates a gate as given by a client (numbers already plain) and returns it in stored form.
 * Schemas and pipelines are compiled once here, so a broken one is refused when it is set.
 */
export async function parseGate(spec: Document): Promise<Gate> {
  const name = text(spec, 'name');
  if (!/^[\w.-]{1,64}$/.test(name)) throw badGate(`name '${name}' must be 1 to 64 letters, digits, '_', '-' or '.'`);
  switch (spec.kind) {
    case 'jsonSchema': {
      const [db, coll] = [text(spec, 'db'), text(spec, 'coll')];
      if (!isPlainObject(spec.schema)) throw badGate("'schema' must be a $jsonSchema document");
      (await loadQueryLayer()).compileFilter({ $jsonSchema: spec.schema });
      const scope = spec.scope ?? 'all';
      if (scope !== 'all' && scope !== 'changed') throw badGate("'scope' must be 'all' or 'changed'");
      return { name, kind: 'jsonSchema', db, coll, schema: spec.schema, scope };
    }
    case 'pipeline': {
      const [db, coll] = [text(spec, 'db'), text(spec, 'coll')];
      const pipeline = spec.pipeline;
      if (!Array.isArray(pipeline) || !pipeline.every(isPlainObject)) throw badGate("'pipeline' must be an array of stages");
      if (pipeline.some((stage) => '$out' in stage || '$merge' in stage)) throw badGate('a gate pipeline cannot write ($out, $merge)');
      (await loadQueryLayer()).runPipeline([], pipeline, { db, collection: () => [] });
      return { name, kind: 'pipeline', db, coll, pipeline };
    }
    case 'webhook': {
      const url = text(spec, 'url');
      let protocol: string;
      try {
        protocol = new URL(url).protocol;
      } catch {
        throw badGate(`'${url}' is not a URL`);
      }
      if (protocol !== 'http:' && protocol !== 'https:') throw badGate('a webhook URL must be http or https');
      const timeoutMs = spec.timeoutMs ?? DEFAULT_TIMEOUT_MS;
      if (typeof timeoutMs !== 'number' || !(timeoutMs > 0 && timeoutMs <= MAX_TIMEOUT_MS)) throw badGate(`'timeoutMs' must be a number of milliseconds up to ${MAX_TIMEOUT_MS}`);
      const secret = spec.secret;
      if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0)) throw badGate("'secret' must be a non-empty string");
      return { name, kind: 'webhook', url, timeoutMs, ...(secret === undefined ? {} : { secret }) };
    }
    default:
      throw badGate(`unknown kind '${String(spec.kind)}': use jsonSchema, pipeline or webhook`);
  }
}

/** The gates of a branch, by name. */
export function branchGates(store: Store, branch: string): Gate[] {
  const raw = store.gateConfig(branch);
  return raw ? (deserialize(raw).gates as Gate[]) : [];
}

/** Adds a gate to a branch (validated by parseGate), or replaces the one of the same name. */
export async function setGate(store: Store, branch: string, spec: Document): Promise<Gate[]> {
  const gate = await parseGate(spec);
  const gates = [...branchGates(store, branch).filter((g) => g.name !== gate.name), gate].sort((a, b) => a.name.localeCompare(b.name));
  await store.setGateConfig(branch, Buffer.from(serialize({ gates })));
  return gates;
}

export async function removeGate(store: Store, branch: string, name: string): Promise<Gate[]> {
  const before = branchGates(store, branch);
  const gates = before.filter((g) => g.name !== name);
  if (gates.length === before.length) throw new ArgonError('NoSuchKey', `branch '${branch}' has no merge gate named '${name}'`);
  await store.setGateConfig(branch, gates.length > 0 ? Buffer.from(serialize({ gates })) : null);
  return gates;
}

function* scan(tx: WriteTx, db: string, coll: string): Generator<Document> {
  for (const raw of tx.scanRaw(db, coll)) yield decodeLossless(raw);
}

/** Runs the schema and pipeline gates on the state a write batch has written so far. */
export type BatchCheck = (tx: WriteTx, written: WrittenDoc[]) => GateReport[];

/** The schema and pipeline gates among `gates`, as one synchronous check (a batch cannot wait). */
export async function batchCheck(gates: Gate[]): Promise<BatchCheck> {
  const checked = gates.filter((g): g is SchemaGate | PipelineGate => g.kind !== 'webhook');
  if (checked.length === 0) return () => [];
  const { compileFilter, runPipeline } = await loadQueryLayer();
  return (tx, written) =>
    checked.map((gate) => {
      const report: GateReport = { name: gate.name, kind: gate.kind, passed: false, details: {} };
      try {
        if (gate.kind === 'jsonSchema') {
          const matches = compileFilter({ $jsonSchema: gate.schema });
          const docs = gate.scope === 'all' ? scan(tx, gate.db, gate.coll) : written.filter((w) => w.doc && w.db === gate.db && w.coll === gate.coll).map((w) => w.doc!);
          let checkedDocs = 0;
          const failing: unknown[] = [];
          for (const doc of docs) {
            checkedDocs++;
            if (!matches(doc)) failing.push(plainValue(doc._id));
          }
          report.passed = failing.length === 0;
          report.details = { checked: checkedDocs, failed: failing.length, ids: failing.slice(0, REPORTED_IDS) };
        } else {
          const { docs } = runPipeline(scan(tx, gate.db, gate.coll), gate.pipeline, { db: gate.db, collection: (name) => scan(tx, gate.db, name) });
          report.passed = docs.length === 0;
          report.details = { returned: docs.length, documents: docs.slice(0, REPORTED_DOCS).map((d) => plainValue(d)) };
        }
      } catch (error) {
        report.details = { error: (error as Error).message };
      }
      return report;
    });
}

/** What webhook gates are sent: the operation, then counts per collection and the changed `_id`s. */
export function webhookPayload(description: Document, written: WrittenDoc[]): Document {
  const summary: Record<string, { inserted: number; updated: number; deleted: number }> = {};
  for (const w of written) {
    const counts = (summary[nsOf(w.db, w.coll)] ??= { inserted: 0, updated: 0, deleted: 0 });
    counts[w.op === 'insert' ? 'inserted' : w.op === 'update' ? 'updated' : 'deleted']++;
  }
  const documents = written.slice(0, SENT_DOCS).map((w) => ({ db: w.db, coll: w.coll, id: w.id, op: w.op }));
  return { ...description, summary, documents, truncated: written.length > SENT_DOCS };
}

/** Asks every webhook gate at once. */
export function callWebhooks(gates: Gate[], payload: Document): Promise<GateReport[]> {
  const body = EJSON.stringify(payload, { relaxed: true });
  return Promise.all(gates.filter((g): g is WebhookGate => g.kind === 'webhook').map((g) => callWebhook(g, body)));
}

async function callWebhook(gate: WebhookGate, body: string): Promise<GateReport> {
  const report: GateReport = { name: gate.name, kind: 'webhook', passed: false, details: {} };
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (gate.secret !== undefined) headers['x-argon-signature'] = `sha256=${createHmac('sha256', gate.secret).update(body).digest('hex')}`;
    const reply = await fetch(gate.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(gate.timeoutMs) });
    report.passed = reply.ok;
    report.details = { status: reply.status, body: (await reply.text()).slice(0, REPLY_CHARS) };
  } catch (error) {
    const e = error as Error & { cause?: Error };
    report.details = { error: e.name === 'TimeoutError' ? `no reply within ${gate.timeoutMs} ms` : (e.cause?.message ?? e.message) };
  }
  return report;
}

function failure(report: GateReport): string {
  const d = report.details;
  if (d.error !== undefined) return String(d.error);
  if (report.kind === 'jsonSchema') return `${d.failed} of ${d.checked} documents do not match the schema (_id ${(d.ids as unknown[]).map((id) => JSON.stringify(id)).join(', ')})`;
  if (report.kind === 'pipeline') return `the pipeline returned ${d.returned} document(s)`;
  return `HTTP ${d.status}`;
}

/** The error of a merge its gates refused; `gates` carries every gate's report. */
export function gateFailure(target: string, reports: GateReport[]): ArgonError {
  const failed = reports.filter((r) => !r.passed).map((r) => `${r.name} (${r.kind}): ${failure(r)}`);
  return new ArgonError('MergeGateFailed', `merge into '${target}' refused by its gates: ${failed.join('; ')}`, { gates: reports });
}

/**
 * Gates as shown to a caller: webhook secrets never, and to non-admins not the URL's query or
 * credentials either (tokens often travel there).
 */
export function gatesForDisplay(gates: Gate[], admin: boolean): Gate[] {
  return gates.map((g) => {
    if (g.kind !== 'webhook') return g;
    const { secret, ...shown } = g;
    if (secret !== undefined) Object.assign(shown, { secret: '***' });
    if (admin) return shown;
    const url = new URL(g.url);
    if (url.username || url.password) [url.username, url.password] = ['***', ''];
    if (url.search) url.search = '?***';
    return { ...shown, url: url.toString() };
  });
}
