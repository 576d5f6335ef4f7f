import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../src/config/load.ts';
import { compilePolicySources } from '../../../src/policy/load.ts';
import { Renderer, renderChart, TemplateError } from '../../helpers/helm-render.ts';

/**
 * The Helm chart (deploy/helm/smartpush-guard), rendered with test/helpers/helm-render.ts (helm
 * and kubeconform are not installable here) and checked like a schema validator would, plus the
 * references helm never checks: selectors that select the pods, probe and Service ports that name
 * container ports, ServiceMonitor → Service → port, Ingress → Service, Secrets from values, and
 * the sidecar config the ConfigMap carries passing the real config schema.
 */

const CHART = resolve('deploy/helm/smartpush-guard');
const NAMESPACE = 'smartpush';
type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** apiVersion of every kind the chart may render (what kubeconform would look up). */
const KINDS: Record<string, string> = {
  ConfigMap: 'v1',
  Service: 'v1',
  Deployment: 'apps/v1',
  StatefulSet: 'apps/v1',
  PodDisruptionBudget: 'policy/v1',
  Ingress: 'networking.k8s.io/v1',
  NetworkPolicy: 'networking.k8s.io/v1',
  ServiceMonitor: 'monitoring.coreos.com/v1',
};

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function render(values: unknown = {}, release = 'spg'): Doc[] {
  const { files } = renderChart(CHART, { release, namespace: NAMESPACE, values });
  const docs: Doc[] = [];
  for (const [file, text] of files) {
    // Kubernetes reads YAML 1.1: an unquoted `off` or `yes` would be a boolean there.
    for (const doc of parseAllDocuments(text, { version: '1.1', uniqueKeys: true })) {
      assert.deepEqual(doc.errors.map(String), [], `${file} renders to valid YAML`);
      const value = doc.toJS() as Doc | null;
      if (value !== null) docs.push({ ...value, __file: file });
    }
  }
  return docs;
}

const matches = (selector: Record<string, string>, labels: Record<string, string> | undefined): boolean =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The structural checks every rendered set must pass. */
function validate(docs: Doc[], values: { existingSecrets: string[] }): void {
  const names = new Set<string>();
  for (const doc of docs) {
    const where = `${doc['__file']} ${doc['kind']}/${doc['metadata']?.['name']}`;
    assert.equal(doc['apiVersion'], KINDS[doc['kind'] as string], `${where}: known kind and apiVersion`);
    const meta = doc['metadata'] as Doc;
    assert.match(meta['name'], DNS_LABEL, `${where}: name is a DNS label`);
    assert.ok((meta['name'] as string).length <= 63, `${where}: name ≤ 63 characters`);
    assert.equal(meta['namespace'], NAMESPACE, `${where}: namespace`);
    assert.ok(!names.has(`${doc['kind']}/${meta['name']}`), `${where}: unique`);
    names.add(`${doc['kind']}/${meta['name']}`);
    for (const [k, v] of Object.entries((meta['labels'] ?? {}) as Record<string, unknown>)) {
      assert.equal(typeof v, 'string', `${where}: label ${k} is a string`);
      assert.match(v as string, LABEL_VALUE, `${where}: label ${k}`);
      assert.ok((v as string).length <= 63);
    }
    for (const [k, v] of Object.entries((meta['annotations'] ?? {}) as Record<string, unknown>)) assert.equal(typeof v, 'string', `${where}: annotation ${k} is a string`);
  }
  const of = (kind: string): Doc[] => docs.filter((d) => d['kind'] === kind);
  const workloads = [...of('Deployment'), ...of('StatefulSet')];
  const pods = workloads.map((w) => ({ labels: w['spec']['template']['metadata']['labels'] as Record<string, string>, spec: w['spec']['template']['spec'] as Doc, name: w['metadata']['name'] as string }));
  const portsOf = (spec: Doc): Doc[] => (spec['containers'] as Doc[]).flatMap((c) => (c['ports'] ?? []) as Doc[]);

  for (const w of workloads) {
    const where = `${w['kind']}/${w['metadata']['name']}`;
    assert.ok(matches(w['spec']['selector']['matchLabels'], w['spec']['template']['metadata']['labels']), `${where}: selector selects its pods`);
    const spec = w['spec']['template']['spec'] as Doc;
    const volumes = new Set(((spec['volumes'] ?? []) as Doc[]).map((v) => v['name'] as string));
    for (const claim of (w['spec']['volumeClaimTemplates'] ?? []) as Doc[]) volumes.add(claim['metadata']['name']);
    for (const c of spec['containers'] as Doc[]) {
      const cwhere = `${where} container ${c['name']}`;
      assert.match(c['name'], DNS_LABEL);
      assert.equal(typeof c['image'], 'string', `${cwhere}: image`);
      const ports = (c['ports'] ?? []) as Doc[];
      for (const p of ports) assert.ok(Number.isInteger(p['containerPort']) && p['containerPort'] > 0 && p['containerPort'] < 65536, `${cwhere}: containerPort`);
      for (const probe of ['livenessProbe', 'readinessProbe', 'startupProbe']) {
        const http = c[probe]?.['httpGet'] as Doc | undefined;
        if (http) assert.ok(ports.some((p) => p['name'] === http['port'] || p['containerPort'] === http['port']), `${cwhere}: ${probe} port ${http['port']} is a port of the container`);
        if (c[probe]) assert.ok(c[probe]['httpGet'] || c[probe]['exec'] || c[probe]['tcpSocket'], `${cwhere}: ${probe} has a handler`);
      }
      for (const m of (c['volumeMounts'] ?? []) as Doc[]) assert.ok(volumes.has(m['name']), `${cwhere}: volume ${m['name']} exists`);
      for (const e of (c['env'] ?? []) as Doc[]) {
        assert.match(e['name'], /^[A-Z_][A-Z0-9_]*$/, `${cwhere}: env name`);
        assert.ok('value' in e || 'valueFrom' in e, `${cwhere}: env ${e['name']} has a value`);
        const ref = e['valueFrom']?.['secretKeyRef'] as Doc | undefined;
        if (ref) assert.ok(values.existingSecrets.includes(ref['name']), `${cwhere}: ${e['name']} reads an existing Secret named in values (${ref['name']})`);
      }
    }
    for (const v of (spec['volumes'] ?? []) as Doc[]) {
      const cm = v['configMap']?.['name'] as string | undefined;
      if (cm && !cm.startsWith('existing-')) assert.ok(of('ConfigMap').some((d) => d['metadata']['name'] === cm), `${where}: ConfigMap ${cm} is rendered`);
    }
  }
  for (const s of of('Service')) {
    const pod = pods.find((p) => matches(s['spec']['selector'], p.labels));
    assert.ok(pod, `Service/${s['metadata']['name']} selects pods`);
    for (const port of s['spec']['ports'] as Doc[]) {
      assert.ok(portsOf(pod.spec).some((p) => p['name'] === port['targetPort']), `Service/${s['metadata']['name']}: targetPort ${port['targetPort']} is a container port`);
    }
  }
  for (const pdb of of('PodDisruptionBudget')) {
    const target = workloads.find((w) => matches(pdb['spec']['selector']['matchLabels'], w['spec']['template']['metadata']['labels']));
    assert.ok(target, 'the PodDisruptionBudget selects the pods');
    assert.ok(pdb['spec']['maxUnavailable'] < target['spec']['replicas'], 'the PodDisruptionBudget leaves pods running');
  }
  for (const sm of of('ServiceMonitor')) {
    const services = of('Service').filter((s) => matches(sm['spec']['selector']['matchLabels'], s['metadata']['labels']));
    assert.equal(services.length, 1, 'the ServiceMonitor selects exactly one Service (the admin one)');
    for (const ep of sm['spec']['endpoints'] as Doc[]) {
      assert.ok((services[0]?.['spec']['ports'] as Doc[]).some((p) => p['name'] === ep['port']), `ServiceMonitor port ${ep['port']} is a port of the Service`);
      assert.equal(ep['path'], '/metrics');
    }
  }
  for (const ing of of('Ingress')) {
    for (const rule of ing['spec']['rules'] as Doc[]) {
      for (const path of rule['http']['paths'] as Doc[]) {
        const backend = path['backend']['service'] as Doc;
        const service = of('Service').find((s) => s['metadata']['name'] === backend['name']);
        assert.ok(service, `Ingress backend ${backend['name']} is a Service`);
        assert.ok((service['spec']['ports'] as Doc[]).some((p) => p['name'] === backend['port']['name']), 'Ingress backend port exists');
      }
    }
  }
  for (const np of of('NetworkPolicy')) {
    const pod = pods.find((p) => matches(np['spec']['podSelector']['matchLabels'], p.labels));
    assert.ok(pod, 'the NetworkPolicy selects the pods');
    for (const rule of np['spec']['ingress'] as Doc[]) {
      for (const port of rule['ports'] as Doc[]) assert.ok(portsOf(pod.spec).some((p) => p['containerPort'] === port['port']), `NetworkPolicy port ${port['port']} is a container port`);
    }
  }
}

function find(docs: Doc[], kind: string, suffix = ''): Doc {
  const doc = docs.find((d) => d['kind'] === kind && (d['metadata']['name'] as string).endsWith(suffix));
  assert.ok(doc, `${kind} *${suffix}`);
  return doc;
}

const DEFAULT_SECRETS = { existingSecrets: ['smartpush-guard', 'smartpush-guard-redis-url'] };

test('the renderer follows Go template semantics on the features the chart uses', () => {
  const r = new Renderer([{ file: '_h.tpl', text: '{{- define "x" -}}\nhello {{ .name }}\n{{- end -}}' }]);
  const root = { Values: { a: { b: 'B' }, list: ['p', 'q'], map: { z: 1, a: 2 }, empty: [], zero: 0, off: 'off' } };
  const run = (text: string): string => r.render(text, 't.yaml', root);
  assert.equal(run('a:  {{- .Values.a.b }}  \n'), 'a:B  \n', '{{- trims the whitespace before');
  assert.equal(run('{{ .Values.a.b -}}\n\n  x'), 'Bx', '-}} trims the whitespace after, newlines included');
  assert.equal(run('{{ if .Values.empty }}y{{ else if .Values.zero }}z{{ else }}n{{ end }}'), 'n', 'empty lists and 0 are false');
  assert.equal(run('{{ range .Values.list }}[{{ . }}]{{ end }}'), '[p][q]');
  assert.equal(run('{{ range $k, $v := .Values.map }}{{ $k }}={{ $v }};{{ end }}'), 'a=2;z=1;', 'maps in key order');
  assert.equal(run('{{ range .Values.list }}{{ $.Values.a.b }}{{ end }}'), 'BB', '$ is the root inside range');
  assert.equal(run('{{ with .Values.a }}{{ .b }}{{ end }}'), 'B');
  assert.equal(run('{{ include "x" (dict) }}'.replace('(dict)', '.Values')), 'hello ');
  assert.equal(run('{{ .Values.missing | default "d" | quote }}'), '"d"');
  assert.equal(run('{{ printf "%s-%s" "a" .Values.a.b | trunc 3 | trimSuffix "-" }}'), 'a-B');
  assert.equal(run('x:{{ toYaml .Values.list | nindent 2 }}'), 'x:\n  - p\n  - q');
  assert.equal(run('{{ toYaml .Values.off }}'), '"off"', 'YAML 1.1 booleans are quoted like sigs.k8s.io/yaml does');
  assert.equal(run('{{ and 1 "" }}|{{ or "" "b" }}|{{ not .Values.empty }}'), '|b|true');
  assert.throws(() => run('{{ .Values.list }}'), TemplateError, 'printing a list is refused, not rendered as Go would');
  assert.throws(() => run('{{ lookup "v1" "Secret" "ns" "x" }}'), /not implemented/);
  assert.throws(() => run('{{ if .Values.a }}x'), /without end/);
  assert.throws(() => run('{{ fail "stop" }}'), /fail: stop/);
});

test('Chart.yaml and values.yaml: a v2 chart whose values hold no secret', () => {
  const chart = parse(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Doc;
  assert.equal(chart['apiVersion'], 'v2');
  assert.equal(chart['name'], 'smartpush-guard');
  assert.match(chart['version'], /^\d+\.\d+\.\d+$/);
  const values = readFileSync(join(CHART, 'values.yaml'), 'utf8');
  assert.doesNotMatch(values, /(password|token|keys):\s*["']?[A-Za-z0-9+/=_-]{16,}/i, 'no secret values, only references');
});

test('helm template with the default values: valid objects, consistent references, the config passes the schema', () => {
  const docs = render();
  validate(docs, DEFAULT_SECRETS);
  assert.deepEqual(docs.map((d) => d['kind']).sort(), ['ConfigMap', 'ConfigMap', 'Deployment', 'Ingress', 'NetworkPolicy', 'PodDisruptionBudget', 'Service', 'Service']);
  const deployment = find(docs, 'Deployment');
  assert.equal(deployment['spec']['replicas'], 3);
  const containers = deployment['spec']['template']['spec']['containers'] as Doc[];
  assert.deepEqual(containers.map((c) => c['name']), ['app', 'guard']);
  const guard = containers[1] as Doc;
  assert.deepEqual(guard['readinessProbe']['httpGet'], { path: '/readyz', port: 'admin' });
  assert.deepEqual(guard['livenessProbe']['httpGet'], { path: '/healthz', port: 'admin' });
  assert.ok(deployment['spec']['template']['metadata']['annotations']['checksum/config'].match(/^[0-9a-f]{64}$/), 'a config change rolls the pods');

  // The sidecar config of the ConfigMap, with the pod's environment, passes the real schema.
  const env = Object.fromEntries((guard['env'] as Doc[]).map((e) => [e['name'] as string, e['value'] ?? 'x'.repeat(44)]));
  env['GUARD_REDIS_URL'] = 'redis://redis:6379/0';
  const configText = find(docs, 'ConfigMap', '-config')['data']['config.yaml'] as string;
  const mounts = guard['volumeMounts'] as Doc[];
  const configPath = `${mounts.find((m) => m['name'] === 'config')?.['mountPath']}/config.yaml`;
  assert.equal(configPath, (guard['args'] as string[])[2]);
  const loaded = parseConfig(configText, configPath, env);
  assert.equal(loaded.config.store.kind, 'redis', 'GUARD_REDIS_URL from the Secret puts every replica on Redis');
  assert.equal(loaded.config.upstream.url, 'http://127.0.0.1:8081', 'GUARD_UPSTREAM (app.url)');
  assert.equal(loaded.config.listen.port, (guard['ports'] as Doc[]).find((p) => p['name'] === 'http')?.['containerPort']);
  assert.equal(loaded.config.admin.port, (guard['ports'] as Doc[]).find((p) => p['name'] === 'admin')?.['containerPort']);
  assert.equal(loaded.policyPath, mounts.find((m) => m['name'] === 'policies')?.['mountPath']);
  for (const [, name] of configText.matchAll(/env: ([A-Z_0-9]+)/g)) assert.ok(name && name in env, `${name} is set in the pod`);
  // TLS: public_url is https on the Ingress host (→ __Host- cookies).
  const ingress = find(docs, 'Ingress');
  const publicUrl = new URL(loaded.config.public_url as string);
  assert.equal(publicUrl.protocol, 'https:');
  assert.deepEqual(ingress['spec']['tls'], [{ hosts: [publicUrl.hostname], secretName: 'smartpush-tls' }]);
  assert.equal(ingress['spec']['rules'][0]['host'], publicUrl.hostname);
  assert.equal(ingress['metadata']['annotations']['nginx.ingress.kubernetes.io/proxy-request-buffering'], 'off');
  // The policies ConfigMap compiles.
  const policies = find(docs, 'ConfigMap', '-policies')['data'] as Record<string, string>;
  for (const [file, text] of Object.entries(policies)) assert.ok(compilePolicySources([{ text, file }], 'configmap').rules.length > 0, file);
  // The public Service never targets the admin port.
  assert.equal(find(docs, 'Service', 'guard')['spec']['ports'][0]['targetPort'], 'http');
});

test('helm template with a ServiceMonitor, the bundled Redis, your own app elsewhere and your own policies', () => {
  const values = {
    replicaCount: 4,
    serviceMonitor: { enabled: true, labels: { release: 'prometheus' } },
    redis: { bundled: { enabled: true } },
    app: { sidecar: false, url: 'http://billing.billing.svc:3000' },
    policies: { existingConfigMap: 'existing-billing-policies' },
    secrets: { extraEnv: [{ name: 'SMTP_PASSWORD', valueFrom: { secretKeyRef: { name: 'smtp', key: 'password' } } }] },
    ingress: { host: 'billing.example.com', tlsSecret: 'billing-tls' },
  };
  const docs = render(values, 'billing');
  validate(docs, { existingSecrets: [...DEFAULT_SECRETS.existingSecrets, 'smtp'] });
  const deployment = find(docs, 'Deployment');
  assert.equal(deployment['spec']['replicas'], 4);
  const containers = deployment['spec']['template']['spec']['containers'] as Doc[];
  assert.deepEqual(containers.map((c) => c['name']), ['guard'], 'no app container when the app runs elsewhere');
  const env = containers[0]?.['env'] as Doc[];
  assert.equal(env.find((e) => e['name'] === 'GUARD_UPSTREAM')?.['value'], 'http://billing.billing.svc:3000');
  assert.ok(env.some((e) => e['name'] === 'SMTP_PASSWORD'));
  assert.equal(docs.filter((d) => d['kind'] === 'ConfigMap').length, 1, 'no policies ConfigMap when an existing one is named');
  const policyVolume = (deployment['spec']['template']['spec']['volumes'] as Doc[]).find((v) => v['name'] === 'policies');
  assert.equal(policyVolume?.['configMap']['name'], 'existing-billing-policies');
  const monitor = find(docs, 'ServiceMonitor');
  assert.equal(monitor['metadata']['labels']['release'], 'prometheus');
  assert.equal(find(docs, 'Deployment')['metadata']['name'], 'billing-smartpush-guard');
  const redis = find(docs, 'StatefulSet');
  const args = (redis['spec']['template']['spec']['containers'][0]['args'] as string[]).join(' ');
  assert.match(args, /--appendonly yes/);
  assert.match(args, /--maxmemory-policy noeviction/);
  const redisPolicy = find(docs, 'NetworkPolicy', '-redis');
  assert.deepEqual(redisPolicy['spec']['ingress'][0]['from'][0]['podSelector']['matchLabels'], deployment['spec']['selector']['matchLabels'], 'Redis answers the sidecars only');
  assert.equal(find(docs, 'Ingress')['spec']['rules'][0]['host'], 'billing.example.com');
});

test('helm template refuses values that cannot work, and short names stay short', () => {
  assert.throws(() => render({ redis: { existingSecret: '' } }), /redis\.existingSecret is required/);
  assert.throws(() => render({ app: { url: '' } }), /app\.url is required/);
  const docs = render({}, 'smartpush-guard-prod');
  assert.equal(find(docs, 'Deployment')['metadata']['name'], 'smartpush-guard-prod', 'a release named after the chart is not doubled');
  validate(docs, DEFAULT_SECRETS);
});
