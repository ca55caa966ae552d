import { openMetadata } from '../../src/meta/open.js';
import { bucket, put } from './meta-fixtures.js';

/**
 * Run by the contract suite as `node meta-crash-child.js URL DATADIR`: commits one object, says
 * so, and kills itself with SIGKILL before anything could flush or close. URL '' means SQLite.
 */
const [url, dataDir] = process.argv.slice(2);
const meta = await openMetadata(url || undefined, dataDir!);
await meta.createBucket(bucket('crash'));
await put(meta, 'crash', 'survivor', 'null', 'blob-crash');
process.stdout.write('committed\n', () => process.kill(process.pid, 'SIGKILL'));
