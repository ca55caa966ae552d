import { cpus, freemem, loadavg, totalmem } from 'node:os';

/** How loaded the worker's machine is, for heartbeats. */
export interface MachineLoad {
  /** Busy fraction of all CPUs (0-1) since the previous sample; null on the first. */
  cpu: number | null;
  /** Memory in use on the machine. */
  memoryBytes: number | null;
  /** One-minute load average (0 where the OS has none, as on Windows: reported as null). */
  load: number | null;
}

/** Each call returns the load since the previous call. */
export function machineSampler(): () => MachineLoad {
  let previous = cpuTimes();
  return () => {
    const now = cpuTimes();
    const total = now.total - previous.total;
    const idle = now.idle - previous.idle;
    previous = now;
    const load = loadavg()[0];
    return {
      cpu: total > 0 ? Math.min(1, Math.max(0, 1 - idle / total)) : null,
      memoryBytes: totalmem() - freemem(),
      load: process.platform === 'win32' ? null : load,
    };
  };
}

function cpuTimes(): { total: number; idle: number } {
  let total = 0;
  let idle = 0;
  for (const cpu of cpus()) {
    const t = cpu.times;
    total += t.user + t.nice + t.sys + t.idle + t.irq;
    idle += t.idle;
  }
  return { total, idle };
}
