import { passStream, type MaintenancePasses } from './admin-passes.js';
import type { CostRecord, MetadataStore, User } from './meta/types.js';
import { S3Error } from './s3/errors.js';
import { readBody } from './s3/http.js';
import { uriDecode } from './s3/sigv4.js';
import type { S3Request, S3Response } from './s3/types.js';
import { generateKeys, publicUser, toUser, type UserSpec } from './users.js';

/**
 * The admin API under /_plinth/admin/, signed with SigV4 by the admin (the router checks who):
 *
 *   GET    users            the users (no secrets)
 *   POST   users            create one: JSON {displayName?, id?, accessKey?, secretKey?}; keys
 *                           are generated when absent and the secret is shown this once
 *   DELETE users/<id>       remove one (not the admin)
 *   GET    costs[?bucket=]  per-bucket cost records with a monthly estimate
 *   POST   gc               one garbage-collection pass now (block/gc.ts)
 *   POST   scrub            one scrub of every blob now (block/scrub.ts)
 *
 * Errors are JSON {code, message, requestId} with S3's codes and statuses. `plinth user|costs|
 * health|gc|scrub` (cli/) is the command line for all of this.
 *
 * gc and scrub can take hours on a large node, so they answer 200 at once with a stream of
 * newline-delimited JSON (application/x-ndjson), one record per line:
 *
 *   {"type":"start","pass":"scrub","startedAt":"…","joined":false}     first
 *   {"type":"progress","elapsedSeconds":12.5,…counts so far}          every second while it runs
 *   {"type":"report","pass":"scrub","seconds":40.1,"report":{…}}      last, when it succeeded
 *   {"type":"error","code":"InternalError","message":"…"}             last, when it failed
 *
 * gc's counts and report are GcReport's; scrub's progress has scanned, bytes, tablesRewritten,
 * corrupt and quarantined counts and `expected` {blobs, bytes} (the node's size at its last
 * health check, for a progress bar; null before one), its report is ScrubReport's (the corrupt
 * blobs listed) plus `quarantined`. A stream that ends without a report or error record was cut.
 *
 * One pass of each kind runs at a time. A request while one is running (the hourly GC, the daily
 * scrub, another admin's request) follows that pass to its end and gets its report, with
 * `joined: true` and the pass's own `startedAt`, rather than a 409: the caller wanted a pass and
 * one is under way, and a second one at once would only read the same blobs again. Closing the
 * stream does not stop the pass. (admin-passes.ts explains the choice of a stream over a job id.)
 */

/**
 * Prices in USD. The defaults are S3 Standard's published list prices (us-east-1): storage per
 * GB-month, requests per 1000 (PUT, COPY, POST and LIST at one price; GET, HEAD and the rest at
 * another; DELETE is free) and data transfer out per GB. A GB here is 2^30 bytes, as AWS bills.
 */
export interface Prices {
  storagePerGbMonth: number;
  putPer1000: number;
  listPer1000: number;
  getPer1000: number;
  deletePer1000: number;
  egressPerGb: number;
}

export const DEFAULT_PRICES: Prices = {
  storagePerGbMonth: 0.023,
  putPer1000: 0.005,
  listPer1000: 0.005,
  getPer1000: 0.0004,
  deletePer1000: 0,
  egressPerGb: 0.09,
};

const GB = 2 ** 30;

export interface CostEstimate {
  storage: number;
  requests: number;
  egress: number;
  total: number;
}

/** Micro-dollars: enough precision for small buckets without float noise in the JSON. */
const round = (usd: number) => Math.round(usd * 1e6) / 1e6;

/**
 * The design's formula: storage GB-month × price + requests / 1000 × price + egress GB × price.
 * The stored bytes are priced as if held for a whole month; request and egress counters
 * accumulate from the bucket's creation, so they are one month's worth only for a bucket a month
 * old (or after the counters are reset): the estimate is an order of magnitude, not an invoice.
 */
export function estimate(record: CostRecord, prices: Prices): CostEstimate {
  const storage = (record.bytesStored / GB) * prices.storagePerGbMonth;
  const { get, put, list, delete: del } = record.requests;
  const requests = (put / 1000) * prices.putPer1000 + (list / 1000) * prices.listPer1000 + (get / 1000) * prices.getPer1000 + (del / 1000) * prices.deletePer1000;
  const egress = (record.egressBytes / GB) * prices.egressPerGb;
  return { storage: round(storage), requests: round(requests), egress: round(egress), total: round(storage + requests + egress) };
}

export interface AdminApi {
  handle(req: S3Request, path: string): Promise<S3Response>;
}

function json(body: unknown, status = 200): S3Response {
  return { status, headers: { 'content-type': 'application/json' }, body: `${JSON.stringify(body, null, 2)}\n` };
}

const MAX_BODY = 64 * 1024;

export function adminApi(meta: MetadataStore, admin: () => User, prices: Prices, passes: MaintenancePasses): AdminApi {
  const users = async (): Promise<S3Response> => json({ users: (await meta.listUsers()).map((u) => publicUser(u, admin().id)) });

  const createUser = async (req: S3Request): Promise<S3Response> => {
    let spec: Partial<UserSpec>;
    try {
      spec = JSON.parse((await readBody(req.body, MAX_BODY)) || '{}') as Partial<UserSpec>;
    } catch {
      throw new S3Error('InvalidArgument', 'The body must be a JSON object: {displayName?, id?, accessKey?, secretKey?}.');
    }
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) throw new S3Error('InvalidArgument', 'The body must be a JSON object.');
    const generated = generateKeys();
    let user: User;
    try {
      user = toUser({ ...spec, accessKey: spec.accessKey ?? generated.accessKey, secretKey: spec.secretKey ?? generated.secretKey }, 'user');
    } catch (err) {
      throw new S3Error('InvalidArgument', (err as Error).message);
    }
    const existing = await meta.listUsers();
    if (existing.some((u) => u.accessKey === user.accessKey || u.id === user.id)) throw new S3Error('EntityAlreadyExists', 'A user with this access key or id already exists.');
    await meta.putUser(user);
    return json({ user: { ...publicUser(user, admin().id), secretKey: user.secretKey } }, 201);
  };

  const deleteUser = async (id: string): Promise<S3Response> => {
    if (id === admin().id) throw new S3Error('InvalidRequest', 'The admin user cannot be deleted.');
    if (!(await meta.listUsers()).some((u) => u.id === id)) throw new S3Error('NoSuchEntity', `No user has the id '${id}'.`);
    await meta.deleteUser(id);
    return { status: 204 };
  };

  const costs = async (req: S3Request): Promise<S3Response> => {
    const bucket = req.query.get('bucket') ?? undefined;
    const records = await meta.costs(bucket);
    const buckets = records.map((r) => ({ ...r, estimate: estimate(r, prices) }));
    const sum = (field: keyof CostEstimate) => round(buckets.reduce((total, b) => total + b.estimate[field], 0));
    return json({
      currency: 'USD',
      prices,
      buckets,
      total: { storage: sum('storage'), requests: sum('requests'), egress: sum('egress'), total: sum('total') },
    });
  };

  return {
    async handle(req, path) {
      const [resource, id, ...rest] = path.split('/').map(uriDecode);
      const allow = (...methods: string[]) => {
        if (!methods.includes(req.method)) throw new S3Error('MethodNotAllowed', undefined, { Method: req.method, ResourceType: 'ADMIN' });
      };
      if (resource === 'users' && id === undefined) {
        allow('GET', 'POST');
        return req.method === 'GET' ? users() : createUser(req);
      }
      if (resource === 'users' && id !== undefined && id !== '' && rest.length === 0) {
        allow('DELETE');
        return deleteUser(id);
      }
      if (resource === 'costs' && id === undefined) {
        allow('GET');
        return costs(req);
      }
      if ((resource === 'gc' || resource === 'scrub') && id === undefined) {
        allow('POST');
        // No buffering by proxies (nginx honours this header): progress is only worth it as it happens.
        const headers = { 'content-type': 'application/x-ndjson', 'cache-control': 'no-store', 'x-accel-buffering': 'no' };
        return { status: 200, headers, body: passStream(resource, passes[resource]) };
      }
      throw new S3Error('NoSuchEntity', `There is no admin endpoint '${path}'.`);
    },
  };
}
