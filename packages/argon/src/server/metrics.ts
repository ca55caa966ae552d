import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/** The server's Prometheus metrics, one registry per server so tests can run several. */
export class ServerMetrics {
  readonly registry = new Registry();
  readonly commands: Counter<'command' | 'outcome'>;
  readonly commandSeconds: Histogram<'command'>;
  readonly connections: Gauge;
  readonly headLsn: Gauge;

  constructor(sample: { connections: () => number; headLsn: () => number }) {
    collectDefaultMetrics({ register: this.registry, prefix: 'argon_process_' });
    this.commands = new Counter({
      name: 'argon_commands_total',
      help: 'Commands executed, by command name and outcome (ok or error)',
      labelNames: ['command', 'outcome'],
      registers: [this.registry],
    });
    this.commandSeconds = new Histogram({
      name: 'argon_command_duration_seconds',
      help: 'Time to execute a command, by command name',
      labelNames: ['command'],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1],
      registers: [this.registry],
    });
    this.connections = new Gauge({
      name: 'argon_connections',
      help: 'Open client connections',
      registers: [this.registry],
      collect() {
        this.set(sample.connections());
      },
    });
    this.headLsn = new Gauge({
      name: 'argon_head_lsn',
      help: 'LSN of the newest committed write batch',
      registers: [this.registry],
      collect() {
        this.set(sample.headLsn());
      },
    });
  }
}
