// How many workers `listen.workers: auto` means: one per CPU this process may use. That is the
// smaller of the CPUs it may run on (its affinity: os.availableParallelism) and its CPU limit (a
// container's limit, from the cgroup's quota, rounded up). Without the second, a pod limited to 2
// CPUs on a 64-core node would start 64 workers, each throttled (Go reads the limit since 1.25,
// .NET since 3.0; nginx's worker_processes auto does not, and is a known surprise in containers).
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** The number of workers of a setting; `cgroup` is where the cgroup file system is mounted. */
export function workerCount(setting: number | 'auto', cgroup = '/sys/fs/cgroup'): number {
  if (setting !== 'auto') return setting;
  const limit = cpuLimit(cgroup);
  return Math.max(1, Math.min(os.availableParallelism(), limit ?? Infinity));
}

/** The CPU limit of the cgroup this process is in, rounded up; undefined when there is none. */
export function cpuLimit(cgroup = '/sys/fs/cgroup'): number | undefined {
  // cgroup v2: "max 100000" (no limit) or "<quota> <period>" in microseconds.
  const v2 = readOr(`${cgroup}/cpu.max`);
  if (v2 !== undefined) {
    const [quota, period] = v2.trim().split(/\s+/);
    return quotaOf(Number(quota), Number(period));
  }
  // cgroup v1: cpu.cfs_quota_us is -1 without a limit.
  const quota = readOr(`${cgroup}/cpu/cpu.cfs_quota_us`);
  const period = readOr(`${cgroup}/cpu/cpu.cfs_period_us`);
  return quota === undefined || period === undefined ? undefined : quotaOf(Number(quota), Number(period));
}

function quotaOf(quota: number, period: number): number | undefined {
  if (!Number.isFinite(quota) || !Number.isFinite(period) || quota <= 0 || period <= 0) return undefined;
  return Math.ceil(quota / period);
}

function readOr(file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
}
