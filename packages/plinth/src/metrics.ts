import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** What the stored-data gauges read at scrape time (MetadataStore.stats). */
export interface StoredStats {
  objects: number;
  bytes: number;
}

/** Plinth's Prometheus metrics, one registry per server so tests can run several. */
export class PlinthMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<'method' | 'operation' | 'status'>;
  readonly duration: Histogram<'method' | 'operation'>;
  readonly bytesIn: Counter<'operation'>;
  readonly bytesOut: Counter<'operation'>;

  constructor(stored: () => Promise<StoredStats>) {
    collectDefaultMetrics({ register: this.registry, prefix: 'plinth_process_' });
    this.requests = new Counter({
      name: 'plinth_http_requests_total',
      help: 'S3 and admin requests answered, by HTTP method, S3 operation and status code',
      labelNames: ['method', 'operation', 'status'],
      registers: [this.registry],
    });
    this.duration = new Histogram({
      name: 'plinth_http_request_duration_seconds',
      help: 'Time from a request arriving to its response ending, by HTTP method and S3 operation',
      labelNames: ['method', 'operation'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
    this.bytesIn = new Counter({
      name: 'plinth_http_bytes_in_total',
      help: 'Request payload bytes read (after aws-chunked decoding), by S3 operation',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    this.bytesOut = new Counter({
      name: 'plinth_http_bytes_out_total',
      help: 'Response body bytes sent, by S3 operation',
      labelNames: ['operation'],
      registers: [this.registry],
    });
    // Both gauges read the same snapshot; a scrape asks the metadata store once, not twice.
    let pending: Promise<StoredStats> | null = null;
    const snapshot = () => (pending ??= stored().finally(() => setImmediate(() => (pending = null))));
    new Gauge({
      name: 'plinth_objects_total',
      help: 'Committed object versions stored (delete markers excluded)',
      registers: [this.registry],
      async collect() {
        this.set((await snapshot()).objects);
      },
    });
    new Gauge({
      name: 'plinth_bytes_stored',
      help: 'Bytes of committed object versions stored, as billed (before deduplication)',
      registers: [this.registry],
      async collect() {
        this.set((await snapshot()).bytes);
      },
    });
  }
}
