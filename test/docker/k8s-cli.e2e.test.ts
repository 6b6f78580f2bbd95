/**
 * The Kubernetes options as the CLI takes them (generate-dockerfile writes the same manifests as
 * build-image, without a daemon), and what the autoscalers assume of the server: the series their
 * queries read exists with the labels they select on, and its rate is the average number of
 * /invocations requests in flight (Little's law).
 */
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { IN_FLIGHT_METRIC } from '../../src/docker/k8s.js';
import { requireBuiltCli, runCli, startCliServer, stop, waitReady } from '../fixtures/cli.js';
import { cleanup, irisRegistry, tempDir } from './helpers.js';

let registryUri: string;
beforeAll(async () => {
  requireBuiltCli();
  ({ uri: registryUri } = await irisRegistry());
});
afterAll(cleanup);

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are read back as untyped YAML */
interface Generated {
  code: number | null;
  stderr: string;
  files: Record<string, any>;
}

/** generate-dockerfile with `--k8s-out` into a new folder; YAML files parsed, others as text. */
async function generate(flags: string[], k8sOut = true): Promise<Generated> {
  const dir = join(await tempDir(), 'k8s');
  const ctx = join(await tempDir(), 'ctx');
  const args = ['generate-dockerfile', '-m', 'models:/iris/1', '-d', ctx, '-n', 'iris-classifier:1', '--registry', registryUri];
  const r = await runCli([...args, ...(k8sOut ? ['--k8s-out', dir] : []), ...flags]);
  const files: Record<string, any> = {};
  for (const n of await readdir(dir).catch(() => [] as string[])) {
    const text = await readFile(join(dir, n), 'utf8');
    files[n] = n.endsWith('.yaml') ? parse(text) : text;
  }
  return { code: r.code, stderr: r.stderr, files };
}

describe('--k8s-out with the autoscaling flags', () => {
  it('default: CPU autoscaling, the kubelet’s preStop sleep, liveness on /livez', async () => {
    const g = await generate([]);
    expect(g.code, g.stderr).toBe(0);
    expect(Object.keys(g.files).sort()).toEqual(['deployment.yaml', 'hpa.yaml', 'pdb.yaml', 'service.yaml']);
    const c = g.files['deployment.yaml'].spec.template.spec.containers[0];
    expect(c.lifecycle.preStop).toEqual({ sleep: { seconds: 5 } });
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
    expect(g.files['hpa.yaml'].spec.metrics[0].resource.target.averageUtilization).toBe(70);
  });

  it('--autoscale requests --autoscale-target 3: the in-flight HPA, a ServiceMonitor and the adapter rule', async () => {
    const g = await generate(['--autoscale', 'requests', '--autoscale-target', '3', '--max-replicas', '4']);
    expect(g.code, g.stderr).toBe(0);
    expect(Object.keys(g.files).sort()).toEqual([
      'deployment.yaml',
      'hpa.yaml',
      'pdb.yaml',
      'prometheus-adapter-rule.yaml.example',
      'prometheusrule.yaml',
      'service.yaml',
      'servicemonitor.yaml',
    ]);
    expect(g.files['hpa.yaml'].spec.metrics[0].pods).toEqual({
      metric: { name: IN_FLIGHT_METRIC },
      target: { type: 'AverageValue', averageValue: '3' },
    });
    expect(g.files['hpa.yaml'].spec.maxReplicas).toBe(4);
    expect(g.files['prometheus-adapter-rule.yaml.example']).toContain(`as: ${IN_FLIGHT_METRIC}`);
  });

  it('--autoscale keda --min-replicas 0 --namespace ml --prestop exec --prometheus-url URL', async () => {
    const g = await generate([
      ...['--autoscale', 'keda', '--min-replicas', '0', '--autoscale-target', '4', '--namespace', 'ml'],
      ...['--prestop', 'exec', '--prometheus-url', 'http://prometheus.monitoring:9090'],
    ]);
    expect(g.code, g.stderr).toBe(0);
    expect(Object.keys(g.files).sort()).toEqual([
      'deployment.yaml',
      'pdb.yaml',
      'prometheusrule.yaml',
      'scaledobject.yaml',
      'service.yaml',
      'servicemonitor.yaml',
    ]);
    const so = g.files['scaledobject.yaml'];
    expect(so.metadata.namespace).toBe('ml');
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.triggers[0].metadata).toMatchObject({ serverAddress: 'http://prometheus.monitoring:9090', threshold: '4' });
    expect(so.spec.triggers[0].metadata.query).toContain('namespace="ml",service="iris-classifier"');
    const c = g.files['deployment.yaml'].spec.template.spec.containers[0];
    expect(c.lifecycle.preStop.exec.command).toEqual(['node', '-e', 'setTimeout(() => {}, 5000)']);
  });

  it('refuses flags that cannot work, before doing anything', async () => {
    const cases: [string[], RegExp, boolean?][] = [
      [['--autoscale', 'rps'], /--autoscale must be one of cpu, requests, keda, got 'rps'/],
      [['--min-replicas', '0'], /--min-replicas 0 needs --autoscale keda/],
      [['--autoscale', 'requests', '--min-replicas', '0'], /--min-replicas 0 needs --autoscale keda/],
      [['--prestop', 'nap'], /--prestop must be one of sleep, exec, got 'nap'/],
      [['--autoscale-target', '0'], /--autoscale-target must be a number > 0/],
      [['--autoscale-target', '70.5'], /whole percentage/],
      [['--prometheus-url', 'http://p:9090'], /--prometheus-url is for --autoscale keda/],
      [['--autoscale', 'keda'], /the Kubernetes options need --k8s-out DIR/, false],
    ];
    for (const [flags, message, k8sOut] of cases) {
      const g = await generate(flags, k8sOut);
      expect(g.code, flags.join(' ')).toBe(2);
      expect(g.stderr).toMatch(message);
      expect(g.files).toEqual({});
    }
  });
});

describe('the series the autoscalers read', () => {
  it('exists per route, and its rate is the time-average number of /invocations requests in flight', async () => {
    const s = startCliServer(['serve', '-m', 'models:/iris/1', '--registry', registryUri, '-p', '0']);
    try {
      await waitReady(s);
      const read = async () => {
        const text = await (await fetch(`${s.base}/metrics`)).text();
        const m = /^modelgate_http_request_duration_seconds_sum\{([^}]*)\} (\S+)$/m.exec(
          text
            .split('\n')
            .filter((l) => l.includes('route="/invocations"'))
            .join('\n'),
        );
        return { labels: m?.[1] ?? '', sum: Number(m?.[2] ?? 0) };
      };
      // Four requests at a time for a while: the summed durations over the wall time is their average concurrency, at most 4.
      const started = performance.now();
      const before = await read();
      let busy = 0;
      const worker = async () => {
        while (performance.now() - started < 1500) {
          const t = performance.now();
          const r = await fetch(`${s.base}/invocations`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
          });
          await r.arrayBuffer();
          busy += performance.now() - t;
          expect(r.status).toBe(200);
        }
      };
      await Promise.all([worker(), worker(), worker(), worker()]);
      const elapsed = (performance.now() - started) / 1000;
      const after = await read();
      expect(after.labels).toContain('route="/invocations"');
      const serverSide = (after.sum - before.sum) / elapsed;
      const clientSide = busy / 1000 / elapsed; // requests in flight as the client saw them (includes the network)
      console.log(
        `average /invocations in flight: server ${serverSide.toFixed(3)}, client ${clientSide.toFixed(3)} (4 concurrent callers)`,
      );
      expect(serverSide).toBeGreaterThan(0);
      expect(serverSide).toBeLessThanOrEqual(clientSide + 0.05);
      expect(clientSide).toBeLessThanOrEqual(4.05);
    } finally {
      await stop(s);
    }
  });
});
