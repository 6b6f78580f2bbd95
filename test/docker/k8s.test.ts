/**
 * The Kubernetes manifests, validated offline against the Kubernetes OpenAPI schemas that
 * kubernetes-models ships (and the CRDs' published schemas for ServiceMonitor and ScaledObject),
 * and checked for what a model server needs from them: probes, shutdown, the three autoscaling
 * modes and what each needs from Prometheus, no YAML anchors.
 */
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseDocument, stringify, visit } from 'yaml';
import {
  DEFAULT_K8S_RESOURCES,
  DEFAULT_PROMETHEUS_URL,
  IN_FLIGHT_METRIC,
  type K8sOptions,
  inFlightQuery,
  k8sFiles,
  k8sManifests,
  k8sName,
  prometheusAdapterRule,
} from '../../src/docker/k8s.js';
import { assertValid, validatePrometheusRule, validateScaledObject, validateServiceMonitor } from './crd-schemas.js';

const options: K8sOptions = {
  name: 'iris-classifier',
  image: 'registry.example.com/ml/iris-classifier:1',
  port: 8080,
  model: { name: 'iris', version: '3', uri: 'models:/iris/3', digest: 'sha256:abc' },
};

/* eslint-disable @typescript-eslint/no-explicit-any -- manifests are checked as untyped JSON, as kubectl sees them */
const m = k8sManifests(options);
const d = m.deployment as any;
const pod = d.spec.template;
const container = pod.spec.containers[0];

describe('schema validation (kubernetes-models)', () => {
  it('every manifest validates', () => {
    expect(() => new Deployment(m.deployment as any).validate()).not.toThrow();
    expect(() => new Service(m.service as any).validate()).not.toThrow();
    expect(() => new HorizontalPodAutoscaler(m.horizontalPodAutoscaler as any).validate()).not.toThrow();
    expect(() => new PodDisruptionBudget(m.podDisruptionBudget as any).validate()).not.toThrow();
  });

  it('the validator does reject a broken manifest (so the test above can fail)', () => {
    const broken = structuredClone(m.deployment) as any;
    broken.spec.template.spec.containers[0].ports[0].containerPort = 'eighty';
    expect(() => new Deployment(broken).validate()).toThrow();
    const noSelector = structuredClone(m.podDisruptionBudget) as any;
    noSelector.spec.maxUnavailable = { value: 1 };
    expect(() => new PodDisruptionBudget(noSelector).validate()).toThrow();
  });

  it('validates with other options too (namespace, replicas, resources, drain)', () => {
    const other = k8sManifests({
      ...options,
      namespace: 'ml',
      minReplicas: 3,
      maxReplicas: 1,
      drainSeconds: 5,
      resources: { requests: { cpu: '2', memory: '1Gi' }, limits: { cpu: '4', memory: '2Gi' } },
    });
    expect(() => new Deployment(other.deployment as any).validate()).not.toThrow();
    expect(() => new HorizontalPodAutoscaler(other.horizontalPodAutoscaler as any).validate()).not.toThrow();
    expect((other.horizontalPodAutoscaler as any).spec.maxReplicas).toBe(3); // never below minReplicas
    expect((other.deployment as any).metadata.namespace).toBe('ml');
  });
});

describe('the Deployment', () => {
  it('probes: startup and readiness on /ready, liveness on /livez, by port name', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(container.startupProbe.httpGet).toMatchObject({ path: '/ready', port: 'http' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/ready', port: 'http' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/livez', port: 'http' });
    for (const p of [container.startupProbe, container.readinessProbe, container.livenessProbe])
      expect(p.timeoutSeconds).toBeGreaterThan(0);
  });

  it('runs non-root with a read-only root filesystem and no privileges', () => {
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 10001, runAsGroup: 10001 });
    expect(container.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      runAsNonRoot: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.spec.automountServiceAccountToken).toBe(false);
  });

  it('has resource requests and limits', () => {
    expect(container.resources).toEqual(DEFAULT_K8S_RESOURCES);
  });

  it('is scraped by Prometheus on /metrics', () => {
    expect(pod.metadata.annotations).toMatchObject({
      'prometheus.io/scrape': 'true',
      'prometheus.io/port': '8080',
      'prometheus.io/path': '/metrics',
    });
  });

  it('gives the pod the preStop pause plus the drain plus a margin to stop, and tells the server the drain', () => {
    expect(container.lifecycle.preStop.sleep.seconds).toBe(5);
    expect(container.env).toContainEqual({ name: 'MODELGATE_DRAIN_SECONDS', value: '30' });
    expect(pod.spec.terminationGracePeriodSeconds).toBe(5 + 30 + 10);
    const short = k8sManifests({ ...options, drainSeconds: 7, preStopSeconds: 2 }).deployment as any;
    expect(short.spec.template.spec.terminationGracePeriodSeconds).toBe(2 + 7 + 10);
    expect(short.spec.template.spec.containers[0].env).toContainEqual({ name: 'MODELGATE_DRAIN_SECONDS', value: '7' });
  });

  it('leaves the replica count to the autoscaler and rolls without losing capacity', () => {
    expect(d.spec.replicas).toBeUndefined();
    expect(d.spec.strategy.rollingUpdate).toEqual({ maxSurge: 1, maxUnavailable: 0 });
  });

  it('carries the model identity', () => {
    expect(pod.metadata.labels['app.kubernetes.io/version']).toBe('3');
    expect(d.metadata.annotations).toMatchObject({ 'modelgate.io/model-uri': 'models:/iris/3', 'modelgate.io/model-digest': 'sha256:abc' });
    expect(container.image).toBe(options.image);
  });
});

describe('Service, autoscaler and disruption budget', () => {
  const matches = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => pod.metadata.labels[k] === v);

  it('select the Deployment’s pods', () => {
    const svc = m.service as any;
    expect(matches(svc.spec.selector)).toBe(true);
    expect(matches((m.podDisruptionBudget as any).spec.selector.matchLabels)).toBe(true);
    expect(matches(d.spec.selector.matchLabels)).toBe(true);
    expect(svc.spec.ports).toEqual([{ name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('scale the Deployment on CPU between 2 and 10 replicas; drains go one pod at a time', () => {
    const hpa = m.horizontalPodAutoscaler as any;
    expect(hpa.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris-classifier' });
    expect([hpa.spec.minReplicas, hpa.spec.maxReplicas]).toEqual([2, 10]);
    expect(hpa.spec.metrics[0].resource).toEqual({ name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } });
    expect((m.podDisruptionBudget as any).spec.maxUnavailable).toBe(1);
  });
});

describe('k8sFiles / k8sName', () => {
  it('writes one YAML file per object that parses back to it', () => {
    const files = k8sFiles(options);
    expect(files.map((f) => f.path)).toEqual(['deployment.yaml', 'service.yaml', 'hpa.yaml', 'pdb.yaml']);
    const docs = files.map((f) => parse(f.content) as unknown);
    expect(docs).toEqual([m.deployment, m.service, m.horizontalPodAutoscaler, m.podDisruptionBudget]);
    expect(files[0].content.startsWith('# Generated by modelgate')).toBe(true);
  });

  it('names resources after the image repository, as valid DNS labels', () => {
    expect(k8sName('iris-classifier:1')).toBe('iris-classifier');
    expect(k8sName('localhost:5000/team/Iris_Classifier:v2')).toBe('iris-classifier');
    expect(k8sName('registry.example.com:443/ml/3d-model')).toBe('model-3d-model');
    expect(k8sName(`x/${'a'.repeat(80)}:1`)).toHaveLength(63);
  });
});

const yamlFiles = (extra: Partial<K8sOptions>) => k8sFiles({ ...options, ...extra });
const MODES: Partial<K8sOptions>[] = [
  {},
  { autoscale: 'requests', namespace: 'ml' },
  { autoscale: 'keda', minReplicas: 0, preStop: 'exec' },
];

/** An anchor (`&a1`) or alias (`*a1`) where YAML allows one: at the start of a node. */
const ANCHOR = /(^|[\s:[{,-])[&*][A-Za-z0-9_-]+/m;

describe('YAML', () => {
  it('has no anchors or aliases, in every file of every mode (yq and kustomize trip on them)', () => {
    // The yaml package's default would alias the labels and selectors the manifests share.
    expect(stringify(m.deployment)).toMatch(ANCHOR);
    for (const extra of MODES) {
      for (const f of yamlFiles(extra)) {
        let aliases = 0;
        const doc = parseDocument(f.content);
        visit(doc, {
          Alias: () => void aliases++,
          Node: (_, node) => {
            if ((node as { anchor?: string }).anchor !== undefined) aliases++;
          },
        });
        expect(aliases, f.path).toBe(0);
        const body = f.content.replace(/^\s*#.*$/gm, '');
        expect(body, f.path).not.toMatch(ANCHOR);
      }
    }
  });

  it('says in comments what needs Kubernetes 1.30 and where liveness points', () => {
    const deployment = yamlFiles({})[0].content;
    expect(deployment).toMatch(/# preStop\.sleep needs Kubernetes >= 1\.30.*\n.*--prestop exec/);
    expect(deployment).toMatch(/# Liveness: \/livez/);
    const exec = yamlFiles({ preStop: 'exec' })[0].content;
    expect(exec).toMatch(/# preStop runs node for the pause \(the image has no shell and no sleep binary\)/);
  });
});

describe('preStop', () => {
  it('is the kubelet’s sleep by default, node -e with --prestop exec (no shell or sleep in the image), same grace period', () => {
    expect(container.lifecycle.preStop).toEqual({ sleep: { seconds: 5 } });
    const exec = (k8sManifests({ ...options, preStop: 'exec', preStopSeconds: 3 }).deployment as any).spec.template.spec;
    expect(exec.containers[0].lifecycle.preStop).toEqual({ exec: { command: ['node', '-e', 'setTimeout(() => {}, 3000)'] } });
    expect(exec.terminationGracePeriodSeconds).toBe(3 + 30 + 10);
    expect(() => new Deployment(k8sManifests({ ...options, preStop: 'exec' }).deployment as any).validate()).not.toThrow();
  });
});

describe('--autoscale requests: an HPA on requests in flight through the Prometheus adapter', () => {
  const r = k8sManifests({ ...options, autoscale: 'requests', namespace: 'ml', targetInFlight: 2.5 });
  const hpa = r.horizontalPodAutoscaler as any;

  it('validates, scales on the custom metric per pod and keeps CPU as a second metric', () => {
    expect(() => new HorizontalPodAutoscaler(hpa).validate()).not.toThrow();
    expect(hpa.spec.metrics[0]).toEqual({
      type: 'Pods',
      pods: { metric: { name: IN_FLIGHT_METRIC }, target: { type: 'AverageValue', averageValue: '2500m' } },
    });
    expect(hpa.spec.metrics[1].resource.name).toBe('cpu');
    expect(r.scaledObject).toBeUndefined();
  });

  it('the adapter rule serves that metric per namespace and pod, from the /invocations duration sum', () => {
    const [rule] = prometheusAdapterRule().rules as any[];
    expect(rule.name.as).toBe(hpa.spec.metrics[0].pods.metric.name);
    expect(new RegExp(rule.name.matches).test('modelgate_http_request_duration_seconds_sum')).toBe(true);
    expect(rule.seriesQuery).toMatch(/^modelgate_http_request_duration_seconds_sum\{.*route="\/invocations".*\}$/);
    expect(rule.seriesQuery).toContain('namespace!=""');
    expect(rule.seriesQuery).toContain('pod!=""');
    expect(rule.resources.overrides).toEqual({ namespace: { resource: 'namespace' }, pod: { resource: 'pod' } });
    expect(rule.metricsQuery).toBe('sum by (<<.GroupBy>>) (rate(<<.Series>>{<<.LabelMatchers>>}[1m]))');
  });

  it('writes a ServiceMonitor (valid against the CRD schema) that selects the Service’s named port, and no scrape annotations', () => {
    const sm = r.serviceMonitor as any;
    assertValid(validateServiceMonitor, sm);
    const svc = r.service as any;
    expect(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => svc.metadata.labels[k] === v)).toBe(true);
    expect(sm.spec.endpoints).toEqual([{ port: svc.spec.ports[0].name, path: '/metrics', interval: '15s', scrapeTimeout: '10s' }]);
    expect(sm.metadata.namespace).toBe('ml');
    // Scraped twice (annotations and ServiceMonitor), every series would be summed twice.
    expect(Object.keys((r.deployment as any).spec.template.metadata.annotations).some((k) => k.startsWith('prometheus.io/'))).toBe(false);
  });

  it('writes a PrometheusRule (valid against the CRD schema) alerting on error rate, p99 latency, drift and a dropping log, for this Service only', () => {
    const pr = r.prometheusRule as any;
    assertValid(validatePrometheusRule, pr);
    expect(pr.metadata.namespace).toBe('ml');
    const rules = pr.spec.groups[0].rules as { alert: string; expr: string; for: string; labels: { severity: string } }[];
    expect(rules.map((x) => x.alert)).toEqual([
      'ModelgateHighErrorRate',
      'ModelgateHighP99Latency',
      'ModelgateFeatureDrift',
      'ModelgateInferenceLogDropping',
    ]);
    for (const x of rules) expect(x.expr).toContain('namespace="ml",service="iris-classifier"');
    expect(rules[0].expr).toContain('modelgate_predictions_total{namespace="ml",service="iris-classifier",outcome="server_error"}');
    expect(rules[1].expr).toMatch(
      /^histogram_quantile\(0\.99, sum by \(le, model, version\) \(rate\(modelgate_request_duration_seconds_bucket\{/,
    );
    expect(rules[2].expr).toBe(
      'max by (model, version, feature) (modelgate_drift{namespace="ml",service="iris-classifier",stat="psi"}) > 0.25',
    );
    // A misspelt field fails as it would on apply.
    const broken = structuredClone(pr);
    broken.spec.groups[0].rules[0].fors = '5m';
    expect(validatePrometheusRule(broken)).toBe(false);
    // Without a ServiceMonitor there is no operator to read it.
    expect(k8sManifests({ ...options, autoscale: 'cpu' }).prometheusRule).toBeUndefined();
  });

  it('writes the rule as a file kubectl apply -f DIR skips', () => {
    const files = yamlFiles({ autoscale: 'requests' });
    expect(files.map((f) => f.path)).toEqual([
      'deployment.yaml',
      'service.yaml',
      'hpa.yaml',
      'pdb.yaml',
      'servicemonitor.yaml',
      'prometheusrule.yaml',
      'prometheus-adapter-rule.yaml.example',
    ]);
    const example = files[6];
    expect(/\.(ya?ml|json)$/.test(example.path)).toBe(false); // kubectl's extensions
    expect(parse(example.content)).toEqual(prometheusAdapterRule());
    expect(files[2].content).toContain('prometheus-adapter-rule.yaml.example');
  });
});

describe('--autoscale keda: a ScaledObject with a Prometheus trigger', () => {
  const k = k8sManifests({ ...options, autoscale: 'keda', namespace: 'ml', targetInFlight: 4, minReplicas: 0, maxReplicas: 6 });
  const so = k.scaledObject as any;

  it('validates against the CRD schema and targets the Deployment; no HPA of ours (KEDA makes its own)', () => {
    assertValid(validateScaledObject, so);
    expect(so.spec.scaleTargetRef).toEqual({ apiVersion: 'apps/v1', kind: 'Deployment', name: 'iris-classifier' });
    expect([so.spec.minReplicaCount, so.spec.maxReplicaCount]).toEqual([0, 6]);
    expect(k.horizontalPodAutoscaler).toBeUndefined();
    assertValid(validateServiceMonitor, k.serviceMonitor);
  });

  it('queries this Service’s average requests in flight, with the threshold per replica', () => {
    const [t] = so.spec.triggers;
    expect(t.type).toBe('prometheus');
    expect(t.metricType).toBe('AverageValue');
    // What KEDA's Prometheus scaler requires: serverAddress, query, a numeric threshold; all strings.
    expect(t.metadata.serverAddress).toBe(DEFAULT_PROMETHEUS_URL);
    expect(Number.parseFloat(t.metadata.threshold)).toBe(4);
    expect(Object.values(t.metadata).every((v) => typeof v === 'string')).toBe(true);
    expect(t.metadata.query).toBe(
      'sum(rate(modelgate_http_request_duration_seconds_sum{namespace="ml",service="iris-classifier",route="/invocations"}[1m]))',
    );
    expect(t.metadata.query).toBe(inFlightQuery(['namespace="ml"', 'service="iris-classifier"']));
  });

  it('says next to minReplicaCount what zero means for a server whose image holds the model', () => {
    const file = yamlFiles({ autoscale: 'keda', minReplicas: 0 }).find((f) => f.path === 'scaledobject.yaml')!;
    expect(file.content).toMatch(/# minReplicaCount 0: with no pod the Service has no endpoints/);
    expect(file.content).toMatch(/cannot wake the\n\s*# Deployment from zero/);
    expect(yamlFiles({ autoscale: 'keda' }).map((f) => f.path)).toEqual([
      'deployment.yaml',
      'service.yaml',
      'scaledobject.yaml',
      'pdb.yaml',
      'servicemonitor.yaml',
      'prometheusrule.yaml',
    ]);
  });

  it('the validators reject what the API server would (so the tests above can fail)', () => {
    const misspelt = structuredClone(so);
    misspelt.spec.minReplicas = 1;
    expect(validateScaledObject(misspelt)).toBe(false);
    const wrongType = structuredClone(so);
    wrongType.spec.triggers[0].metadata.threshold = 4;
    expect(validateScaledObject(wrongType)).toBe(false);
    const noTarget = structuredClone(so);
    delete noTarget.spec.scaleTargetRef;
    expect(validateScaledObject(noTarget)).toBe(false);
    const sm = structuredClone(k.serviceMonitor) as any;
    sm.spec.endpoints[0].interval = 'every 15 s';
    expect(validateServiceMonitor(sm)).toBe(false);
    const noSelector = structuredClone(k.serviceMonitor) as any;
    delete noSelector.spec.selector;
    expect(validateServiceMonitor(noSelector)).toBe(false);
  });
});

describe('refused options', () => {
  it('minReplicas 0 without keda, a fractional CPU percentage, unknown modes', () => {
    expect(() => k8sManifests({ ...options, minReplicas: 0 })).toThrow(/needs autoscale keda/);
    expect(() => k8sManifests({ ...options, autoscale: 'requests', minReplicas: 0 })).toThrow(/needs autoscale keda/);
    expect(() => k8sManifests({ ...options, targetCpuPercent: 70.5 })).toThrow(/whole percentage/);
    expect(() => k8sManifests({ ...options, autoscale: 'rps' as never })).toThrow(/autoscale must be/);
    expect(() => k8sManifests({ ...options, targetInFlight: 0 })).toThrow(/> 0/);
  });
});

describe('an image of several models', () => {
  const models = [
    { name: 'iris', version: '3', uri: 'models:/iris/3', digest: 'sha256:abc' },
    { name: 'tree', version: '1', uri: 'models:/iris-tree/1', digest: 'sha256:def' },
  ];
  const several = k8sManifests({ ...options, models });
  const dep = several.deployment as any;
  const c = dep.spec.template.spec.containers[0];

  it('validates, and names every model in one annotation instead of the single-model ones', () => {
    expect(() => new Deployment(several.deployment as any).validate()).not.toThrow();
    expect(JSON.parse(dep.metadata.annotations['modelgate.io/models'])).toEqual(models);
    expect(dep.metadata.annotations['modelgate.io/model-uri']).toBeUndefined();
    expect(dep.metadata.labels['app.kubernetes.io/version']).toBeUndefined();
    expect(k8sFiles({ ...options, models })[0].content).toMatch(
      /^# Generated by .* for models:\/iris\/3 \(sha256:abc\), models:\/iris-tree\/1 \(sha256:def\) in /,
    );
  });

  it('starts only once every model answers its own V2 readiness; readiness and liveness stay HTTP', () => {
    const cmd = c.startupProbe.exec.command as string[];
    expect(cmd.slice(0, 2)).toEqual(['node', '-e']);
    expect(cmd[2]).toContain('/v2/models/iris/ready');
    expect(cmd[2]).toContain('/v2/models/tree/ready');
    expect(c.startupProbe.httpGet).toBeUndefined();
    expect(c.readinessProbe.httpGet.path).toBe('/ready');
    expect(c.livenessProbe.httpGet.path).toBe('/livez');
  });

  it('keeps the single-model manifests as they were when one model is listed', () => {
    expect(k8sManifests({ ...options, models: [models[0]] })).toEqual(k8sManifests(options));
  });
});
