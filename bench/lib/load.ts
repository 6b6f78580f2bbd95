import autocannon from 'autocannon';
import type { ServerProcess } from './servers.js';

export interface LoadSpec {
  path: string;
  body: string;
  contentType?: string;
  connections: number;
  seconds: number;
}

export interface LoadResult {
  server: string;
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
  /** Server CPU time per request in microseconds (the whole process tree). */
  cpuUsPerReq: number;
  /** The load generator's (this process's) CPU time per request in microseconds: it shares the cores. */
  loadgenCpuUsPerReq: number;
  /** The server's resident memory at the end of the run, in bytes. */
  rssBytes: number;
  total: number;
}

export async function runLoad(server: ServerProcess, spec: LoadSpec): Promise<LoadResult> {
  const cpu0 = server.cpuSeconds();
  const own0 = process.cpuUsage();
  const r = await autocannon({
    url: server.url + spec.path,
    method: 'POST',
    headers: { 'content-type': spec.contentType ?? 'application/json' },
    body: spec.body,
    connections: spec.connections,
    duration: spec.seconds,
    timeout: 10,
  });
  const own = process.cpuUsage(own0);
  const cpu = server.cpuSeconds() - cpu0;
  const total = r['2xx'] + r.non2xx;
  return {
    server: server.name,
    rps: total / r.duration,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors + r.timeouts,
    non2xx: r.non2xx,
    cpuUsPerReq: total > 0 ? (cpu / total) * 1e6 : Number.NaN,
    loadgenCpuUsPerReq: total > 0 ? (own.user + own.system) / total : Number.NaN,
    rssBytes: server.rssBytes(),
    total,
  };
}

export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
