import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { InvalidArgumentError, type Command } from 'commander';
import { DEFAULT_PRICES, type Prices } from '../admin.js';

/**
 * `plinth serve`: the S3 server, with /health, /metrics and the admin API on the same port. Its
 * admin credentials come from PLINTH_ACCESS_KEY/PLINTH_SECRET_KEY or, when unset, from
 * `<data>/credentials.json` (generated on first start).
 */

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('a port is a whole number from 0 to 65535');
  return n;
}

/** `--prices FILE`: a JSON object overriding some of the cost estimate's prices (USD). */
function prices(file: string): Partial<Prices> {
  const parsed: unknown = JSON.parse(readFileSync(resolve(file), 'utf8'));
  const names = Object.keys(DEFAULT_PRICES);
  const valid =
    typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && Object.entries(parsed).every(([name, v]) => names.includes(name) && typeof v === 'number' && v >= 0);
  if (!valid) throw new InvalidArgumentError(`a JSON object of non-negative numbers named ${names.join(', ')}`);
  return parsed as Partial<Prices>;
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('start the S3 server (also /health, /metrics and the admin API on the same port)')
    .option('--data <dir>', 'data directory: blobs, SQLite metadata, generated credentials', process.env.PLINTH_DATA ?? '.plinth')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on', port, 9000)
    .option('--metadata <url>', 'metadata store: sqlite:PATH or postgres://… (default: SQLite in the data directory)', process.env.PLINTH_METADATA)
    .option('--users <file>', 'JSON array of {accessKey, secretKey, id, displayName}: users besides the admin')
    .option('--region <region>', 'the region clients sign for', process.env.PLINTH_REGION ?? 'us-east-1')
    .option('--domain <domain>', 'also accept virtual-hosted-style requests to <bucket>.<domain>')
    .option('--prices <file>', 'JSON prices for the admin API\'s cost estimates (default: S3 Standard\'s; see README)', prices)
    .action(async (o: { data: string; host: string; port: number; metadata?: string; users?: string; region: string; domain?: string; prices?: Partial<Prices> }) => {
      const { PlinthServer } = await import('../server.js');
      const { serverLogger } = await import('./logger.js'); // pino: loaded by serve only
      const server = await PlinthServer.start({
        logger: serverLogger(),
        dataDir: resolve(o.data),
        host: o.host,
        port: o.port,
        metadata: o.metadata,
        usersFile: o.users === undefined ? undefined : resolve(o.users),
        region: o.region,
        domain: o.domain,
        prices: o.prices,
      });
      server.log.info(
        { endpoint: server.endpoint, data: resolve(o.data), metadata: server.meta.kind, region: server.region, accessKey: server.admin.accessKey, credentialsFile: server.credentialsFile },
        'Plinth is ready',
      );
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        server.log.info({ signal }, 'shutting down');
        try {
          await server.stop();
          process.exit(0);
        } catch (err) {
          server.log.error({ err }, 'shutdown failed');
          process.exit(1);
        }
      };
      process.once('SIGINT', () => void stop('SIGINT'));
      process.once('SIGTERM', () => void stop('SIGTERM'));
    });
}
