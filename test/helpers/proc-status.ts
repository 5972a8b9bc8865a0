import { readFileSync } from 'node:fs';

/** A memory field of /proc/PID/status (Linux), in kB: VmRSS now, VmHWM the peak so far. */
export function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
}
