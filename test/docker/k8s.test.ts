/**
 * The Kubernetes manifests, validated offline against the Kubernetes OpenAPI schemas that
 * kubernetes-models ships, and checked for what a model server needs from them.
 */
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Service } from 'kubernetes-models/v1';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { DEFAULT_K8S_RESOURCES, type K8sOptions, k8sFiles, k8sManifests, k8sName } from '../../src/docker/k8s.js';

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
  it('probes: startup and readiness on /ready, liveness on /ping, by port name', () => {
    expect(container.ports).toEqual([{ name: 'http', containerPort: 8080, protocol: 'TCP' }]);
    expect(container.startupProbe.httpGet).toMatchObject({ path: '/ready', port: 'http' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/ready', port: 'http' });
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/ping', port: 'http' });
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
    const docs = files.map((f) => parse(f.content));
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
