/**
 * config/k8s/: every manifest validates against the Kubernetes API schemas (kubernetes-models,
 * which ships the OpenAPI schemas and validates offline), and agrees with tsgi's settings.
 */
import { describe, expect, it } from 'vitest';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Service } from 'kubernetes-models/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ROOT } from '../helpers/server.js';

const DIR = join(ROOT, 'config/k8s');

type Model = { validate(): void };
const MODELS: Record<string, new (data: never) => Model> = {
  'apps/v1/Deployment': Deployment as never,
  'v1/Service': Service as never,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler as never,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget as never,
};

function manifests(): { file: string; doc: Record<string, any> }[] {
  const out: { file: string; doc: Record<string, any> }[] = [];
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    for (const doc of parseAllDocuments(readFileSync(join(DIR, file), 'utf8'))) {
      expect(doc.errors, file).toEqual([]);
      out.push({ file, doc: doc.toJS() as Record<string, any> });
    }
  }
  return out;
}

function validate(doc: Record<string, any>): void {
  const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
  if (Model === undefined) throw new Error(`no schema known here for ${doc.apiVersion} ${doc.kind}`);
  new Model(doc as never).validate();
}

describe('config/k8s', () => {
  const all = manifests();

  it('has a Deployment, Service, HorizontalPodAutoscaler and PodDisruptionBudget', () => {
    expect(all.map((m) => m.doc.kind).sort()).toEqual(['Deployment', 'HorizontalPodAutoscaler', 'PodDisruptionBudget', 'Service']);
  });

  it.each(all.map((m) => [`${m.file} (${m.doc.kind})`, m.doc]))('%s validates against the Kubernetes API schema', (_name, doc) => {
    expect(() => validate(doc)).not.toThrow();
  });

  it('the validation catches a broken manifest', () => {
    const deployment = structuredClone(all.find((m) => m.doc.kind === 'Deployment')!.doc);
    deployment.spec.replicas = 'two';
    expect(() => validate(deployment)).toThrow(/replicas must be integer/);
    const probe = structuredClone(all.find((m) => m.doc.kind === 'Deployment')!.doc);
    probe.spec.template.spec.containers[0].readinessProbe.httpGet = { path: '/readyz' };
    expect(() => validate(probe)).toThrow(/port/);
  });

  it('probes the master, pauses before TERM, and gives tsgi more time than --graceful-timeout', () => {
    const d = all.find((m) => m.doc.kind === 'Deployment')!.doc;
    const pod = d.spec.template.spec;
    const c = pod.containers[0];
    const env = Object.fromEntries(c.env.map((e: { name: string; value?: string }) => [e.name, e]));
    const metricsPort = Number(env.TSGI_METRICS_BIND.value.split(':').pop());
    const portOf = (name: string): number => c.ports.find((p: { name: string }) => p.name === name).containerPort;
    expect(portOf('metrics')).toBe(metricsPort);
    expect(c.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'metrics' });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'metrics' });
    const preStop = c.lifecycle.preStop.sleep.seconds as number;
    expect(preStop).toBeGreaterThan(0);
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(preStop + Number(env.TSGI_GRACEFUL_TIMEOUT.value));
    expect(env.WEB_CONCURRENCY.valueFrom.resourceFieldRef.resource).toBe('limits.cpu');
    expect(c.resources.limits.cpu).toBeDefined();
    expect(portOf('http')).toBe(Number(env.PORT.value));
  });
});
