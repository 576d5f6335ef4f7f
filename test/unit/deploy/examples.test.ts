import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { parseConfig } from '../../../src/config/load.ts';
import { compilePolicySources } from '../../../src/policy/load.ts';

/**
 * The deployment examples in deploy/ cannot be run here (no Docker engine, no cluster), so they are
 * checked statically: every YAML parses, the sidecar configs they carry pass the config schema,
 * every file, Secret key and ConfigMap they refer to exists, and the replicas share Redis.
 */

const DEPLOY = resolve('deploy');

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function yamlFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    // Helm templates are Go templates, not YAML: test/unit/deploy/helm-chart.test.ts renders and checks them.
    if (statSync(path).isDirectory()) return name === 'secrets' || (name === 'templates' && dir.includes('/helm/')) ? [] : yamlFiles(path);
    return /\.ya?ml$/.test(name) ? [path] : [];
  });
}

/**
 * Docker Compose's variable interpolation (`${VAR}`, `${VAR:-default}`, `${VAR-default}`, `$$`),
 * enough for the compose file here: defaults hold no `}`.
 */
export function interpolate(text: string, env: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\{([A-Z_][A-Z0-9_]*)(?:(:?-)([^}]*))?\}/g, (whole, name: string | undefined, op: string | undefined, fallback: string | undefined) => {
    if (whole === '$$') return '$';
    const value = env[name as string];
    if (op === ':-') return value ? value : (fallback ?? '');
    if (op === '-') return value ?? fallback ?? '';
    if (value === undefined) throw new Error(`\${${name}} has no default and is not set`);
    return value;
  });
}

function composeDocs(env: Readonly<Record<string, string>> = {}): Doc[] {
  return docsOf(interpolate(readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8'), env), 'docker-compose.yml');
}

function docs(path: string): Doc[] {
  return docsOf(readFileSync(path, 'utf8'), path);
}

function docsOf(text: string, path: string): Doc[] {
  const parsed = parseAllDocuments(text, { merge: true, uniqueKeys: true });
  const list = Array.isArray(parsed) ? parsed : [parsed];
  for (const doc of list) assert.deepEqual(doc.errors.map(String), [], path);
  return list.map((d) => d.toJS({ maxAliasCount: 100 }) as Doc).filter((d) => d !== null);
}

test('every YAML file under deploy/ parses', () => {
  const files = yamlFiles(DEPLOY);
  assert.ok(files.length >= 10, files.join(', '));
  for (const file of files) assert.ok(docs(file).length >= 1, file);
});

test('deploy/config.yaml (the production-shaped example) passes the config schema', () => {
  const loaded = parseConfig(readFileSync(join(DEPLOY, 'config.yaml'), 'utf8'), '/etc/smartpush-guard/config.yaml', {});
  assert.equal(loaded.policyPath, '/etc/smartpush-guard/policies');
});

test('docker compose: three sidecars sharing an append-only Redis behind nginx with TLS, every referenced file present', () => {
  const [compose] = composeDocs() as [Doc];
  const services = compose['services'] as Record<string, Doc>;
  const guards = ['guard-1', 'guard-2', 'guard-3'];
  for (const name of guards) {
    const guard = services[name] as Doc;
    assert.ok(guard, name);
    assert.equal(guard['environment']['GUARD_REDIS_URL'], 'redis://redis:6379/0', name);
    assert.equal(guard['environment']['GUARD_UPSTREAM'], 'http://app:8081', name);
    assert.deepEqual(guard['command'], ['serve', '--config', '/etc/smartpush-guard/config.yaml']);
    assert.match(JSON.stringify(guard['healthcheck']['test']), /127\.0\.0\.1:9090\/readyz/);
    assert.deepEqual(guard['secrets'], ['session_keys', 'encryption_keys', 'admin_token']);
  }
  assert.deepEqual(Object.keys(services).filter((n) => n.startsWith('guard')), guards);
  assert.deepEqual(services['guard-1']?.['ports'], ['127.0.0.1:9090:9090'], 'only guard-1 publishes its admin port, on loopback');
  for (const name of ['guard-2', 'guard-3', 'app', 'redis']) assert.equal(services[name]?.['ports'], undefined, `${name} publishes nothing`);
  assert.deepEqual(services['nginx']?.['ports'], ['8443:8443', '8080:8080']);
  const redis = services['redis'] as Doc;
  assert.ok((redis['command'] as string[]).join(' ').includes('--appendonly yes'));
  for (const [name, service] of Object.entries(services)) assert.ok(service['healthcheck'], `${name} has a healthcheck`);
  assert.equal(services['app']?.['command'], 'demo-app --host 0.0.0.0 --port 8081', 'the demo by default');
  assert.equal(services['app']?.['image'], 'smartpush-guard:local');
  assert.equal(services['app']?.['pull_policy'], 'never', 'the demo image is the one the guards build');

  // Files the compose file mounts or builds from exist (secrets come from generate-secrets.sh).
  const generator = readFileSync(join(DEPLOY, 'compose', 'generate-secrets.sh'), 'utf8');
  for (const service of Object.values(services)) {
    for (const volume of (service['volumes'] ?? []) as string[]) {
      const source = volume.split(':')[0] as string;
      // The TLS folder is made by generate-tls.sh (checked below), like the secrets by generate-secrets.sh.
      if (source.startsWith('.') && source !== './compose/tls') assert.ok(existsSync(join(DEPLOY, source)), `${volume} exists`);
    }
    const build = service['build'] as Doc | undefined;
    if (build) assert.ok(existsSync(join(DEPLOY, build['context'], build['dockerfile'])), 'the Dockerfile exists');
  }
  for (const [name, secret] of Object.entries(compose['secrets'] as Record<string, { file: string }>)) {
    assert.match(secret.file, /^\.\/compose\/secrets\//, name);
    assert.ok(generator.includes(`make ${secret.file.split('/').pop()} `), `generate-secrets.sh creates ${secret.file}`);
  }

  const nginx = readFileSync(join(DEPLOY, 'compose', 'nginx.conf'), 'utf8');
  for (const name of guards) assert.match(nginx, new RegExp(`server ${name}:8080`));
  assert.match(nginx, /proxy_set_header X-Forwarded-For \$remote_addr;/);
  assert.match(nginx, /proxy_set_header X-Forwarded-Proto \$scheme;/);
  // TLS: nginx serves the certificate generate-tls.sh writes, from the folder compose mounts.
  assert.match(nginx, /listen 8443 ssl;/);
  assert.match(nginx, /return 308 https:\/\/\$host:8443\$request_uri;/, 'plain HTTP only redirects');
  const tlsMount = (services['nginx']?.['volumes'] as string[]).find((v) => v.endsWith(':/etc/nginx/tls:ro'));
  assert.equal(tlsMount, './compose/tls:/etc/nginx/tls:ro');
  const tlsScript = readFileSync(join(DEPLOY, 'compose', 'generate-tls.sh'), 'utf8');
  for (const [, file] of nginx.matchAll(/ssl_certificate(?:_key)? +\/etc\/nginx\/tls\/([^;]+);/g)) {
    assert.ok(tlsScript.includes(`"$dir/${file}"`), `generate-tls.sh writes ${file}`);
  }
  assert.match(tlsScript, /subjectAltName=DNS:localhost,IP:127\.0\.0\.1/);
  assert.match(readFileSync(resolve('.gitignore'), 'utf8'), /^deploy\/compose\/tls\/$/m, 'the generated key stays out of git');

  // The sidecar config of the compose file: valid with the compose environment, secrets where compose mounts them.
  const configText = readFileSync(join(DEPLOY, 'compose', 'config.yaml'), 'utf8');
  const loaded = parseConfig(configText, '/etc/smartpush-guard/config.yaml', { GUARD_REDIS_URL: 'redis://redis:6379/0' });
  assert.equal(loaded.config.store.kind, 'redis');
  assert.equal(loaded.policyPath, '/etc/smartpush-guard/policies');
  assert.equal(loaded.config.upstream.url, 'http://app:8081');
  assert.equal(loaded.config.public_url, 'https://localhost:8443', 'the URL nginx serves with TLS (__Host- cookies)');
  const mounted = new Set(Object.keys(compose['secrets'] as object).map((n) => `/run/secrets/${n}`));
  for (const file of configText.match(/\/run\/secrets\/[a-z_]+/g) ?? []) assert.ok(mounted.has(file), `${file} is a compose secret`);
  assert.equal(loaded.config.admin.tokens.length, 1);
  const nginxAddress = (services['nginx']?.['networks'] as Doc)['guard']['ipv4_address'] as string;
  assert.deepEqual(loaded.config.trusted_proxies, [nginxAddress]);
});

test('docker compose: a generic app is variables (image, command, URL, health check, config, policies)', () => {
  const example = Object.fromEntries(
    readFileSync(join(DEPLOY, 'compose', 'app.env.example'), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)] as [string, string]),
  );
  const [compose] = composeDocs(example) as [Doc];
  const services = compose['services'] as Record<string, Doc>;
  const app = services['app'] as Doc;
  assert.equal(app['image'], example['APP_IMAGE']);
  assert.equal(app['command'], example['APP_COMMAND']);
  assert.equal(app['pull_policy'], 'missing');
  assert.deepEqual(app['healthcheck']['test'], ['CMD-SHELL', example['APP_HEALTHCHECK']]);
  for (const name of ['guard-1', 'guard-2', 'guard-3']) {
    const guard = services[name] as Doc;
    assert.equal(guard['environment']['GUARD_UPSTREAM'], example['APP_URL']);
    assert.ok((guard['volumes'] as string[]).includes(`${example['GUARD_CONFIG']}:/etc/smartpush-guard/config.yaml:ro`));
    assert.ok((guard['volumes'] as string[]).includes(`${example['GUARD_POLICIES']}:/etc/smartpush-guard/policies:ro`));
  }
  // Every variable the compose file reads is documented in the example.
  const text = readFileSync(join(DEPLOY, 'docker-compose.yml'), 'utf8');
  for (const [, name] of text.matchAll(/\$\{([A-Z_][A-Z0-9_]*)/g)) assert.ok(name && name in example, `${name} is in app.env.example`);
  assert.throws(() => interpolate('${NOPE}', {}), /no default/);
});

test('kubernetes: 3 replicas of app + sidecar, probes on the admin port, ConfigMaps as directories, Secrets that exist', () => {
  const dir = join(DEPLOY, 'kubernetes');
  const kustomization = docs(join(dir, 'kustomization.yaml'))[0] as Doc;
  const all: Doc[] = [];
  for (const resource of kustomization['resources'] as string[]) {
    assert.ok(existsSync(join(dir, resource)), `${resource} exists`);
    all.push(...docs(join(dir, resource)));
  }
  const secrets = docs(join(dir, 'secret.example.yaml'));
  const find = (kind: string, name: string): Doc | undefined => [...all, ...secrets].find((d) => d['kind'] === kind && d['metadata']['name'] === name);

  const deployment = find('Deployment', 'smartpush') as Doc;
  assert.equal(deployment['spec']['replicas'], 3);
  const pod = deployment['spec']['template'] as Doc;
  assert.deepEqual(pod['metadata']['annotations'], { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090', 'prometheus.io/path': '/metrics' });
  const containers = pod['spec']['containers'] as Doc[];
  assert.deepEqual(containers.map((c) => c['name']), ['app', 'guard']);
  const [app, guard] = containers as [Doc, Doc];
  assert.deepEqual(app['args'], ['demo-app', '--host', '127.0.0.1', '--port', '8081']);
  // Both images are placeholders kustomize's `images:` resolves: the app's is one line to change.
  const images = new Map((kustomization['images'] as Doc[]).map((i) => [i['name'] as string, `${i['newName']}:${i['newTag']}`]));
  assert.equal(images.get(app['image'] as string), 'registry.example.com/smartpush-guard:0.1.0', 'the demo by default');
  assert.equal(images.get(guard['image'] as string), 'registry.example.com/smartpush-guard:0.1.0');
  assert.notEqual(app['image'], guard['image'], 'the app image is set on its own');
  // The patch for your own app targets this Deployment's app container.
  const [patch] = docs(join(dir, 'app-patch.example.yaml')) as [Doc];
  assert.equal(patch['metadata']['name'], deployment['metadata']['name']);
  assert.deepEqual((patch['spec']['template']['spec']['containers'] as Doc[]).map((c) => c['name']), ['app']);
  assert.deepEqual(guard['livenessProbe']['httpGet'], { path: '/healthz', port: 'admin' });
  assert.deepEqual(guard['readinessProbe']['httpGet'], { path: '/readyz', port: 'admin' });
  const adminPort = (guard['ports'] as Doc[]).find((p) => p['name'] === 'admin')?.['containerPort'];

  // Every Secret key the pod reads exists in the example Secrets.
  const env = guard['env'] as Doc[];
  for (const e of env) {
    const configRef = e['valueFrom']['configMapKeyRef'] as { name: string; key: string } | undefined;
    if (configRef) {
      assert.ok(configRef.key in (find('ConfigMap', configRef.name)?.['data'] as object), `ConfigMap ${configRef.name} has ${configRef.key}`);
      continue;
    }
    const ref = e['valueFrom']['secretKeyRef'] as { name: string; key: string };
    const secret = find('Secret', ref.name);
    assert.ok(secret, `Secret ${ref.name}`);
    assert.ok(ref.key in (secret['stringData'] as object), `Secret ${ref.name} has ${ref.key}`);
  }
  const upstreamEnv = env.find((e) => e['name'] === 'GUARD_UPSTREAM')?.['valueFrom']['configMapKeyRef'] as { name: string; key: string };
  assert.equal(find('ConfigMap', upstreamEnv.name)?.['data'][upstreamEnv.key], 'http://127.0.0.1:8081', 'the app on the pod loopback');
  const redis = find('StatefulSet', 'redis') as Doc;
  const redisContainer = redis['spec']['template']['spec']['containers'][0] as Doc;
  assert.ok((redisContainer['args'] as string[]).join(' ').includes('--appendonly yes'));
  const redisRef = redisContainer['env'][0]['valueFrom']['secretKeyRef'] as { name: string; key: string };
  assert.ok(redisRef.key in (find('Secret', redisRef.name)?.['stringData'] as object));

  // ConfigMaps are mounted whole (subPath mounts never update) and exist.
  const volumes = pod['spec']['volumes'] as Doc[];
  const mountOf = (name: string): Doc => (guard['volumeMounts'] as Doc[]).find((m) => m['name'] === name) as Doc;
  for (const volume of volumes.filter((v) => v['configMap'])) {
    assert.ok(find('ConfigMap', volume['configMap']['name']), `ConfigMap ${volume['configMap']['name']}`);
    assert.equal(mountOf(volume['name'])['subPath'], undefined);
  }
  const configMap = find('ConfigMap', 'smartpush-guard-config') as Doc;
  const configPath = (guard['args'] as string[])[2] as string;
  assert.equal(configPath, `${mountOf('config')['mountPath']}/config.yaml`);
  // The config passes the schema with the pod's environment, and every env secret it names is set.
  const podEnv = Object.fromEntries(env.filter((e) => e['name'] !== 'GUARD_UPSTREAM').map((e) => [e['name'] as string, 'x'.repeat(40)]));
  const configText = configMap['data']['config.yaml'] as string;
  const loaded = parseConfig(configText, configPath, { ...podEnv, GUARD_REDIS_URL: 'redis://redis-0.redis:6379/0' });
  assert.equal(loaded.config.store.kind, 'redis');
  assert.equal(loaded.config.admin.port, adminPort);
  assert.equal(loaded.config.upstream.url, 'http://127.0.0.1:8081');
  assert.equal(loaded.policyPath, mountOf('policies')['mountPath']);
  for (const [, name] of configText.matchAll(/\{ ?env: ([A-Z_0-9]+) ?\}/g)) assert.ok(name && name in podEnv, `${name} is set in the pod`);

  // The policies ConfigMap compiles and is the same policy as deploy/policies/smartpush.yaml.
  const policies = find('ConfigMap', 'smartpush-guard-policies') as Doc;
  const text = policies['data']['smartpush.yaml'] as string;
  assert.equal(text, readFileSync(join(DEPLOY, 'policies', 'smartpush.yaml'), 'utf8'));
  assert.ok(compilePolicySources([{ text, file: 'smartpush.yaml' }], 'configmap').rules.length > 0);

  for (const service of ['smartpush', 'smartpush-admin']) assert.ok(find('Service', service), service);
  assert.equal(find('Service', 'smartpush')?.['spec']['ports'][0]['targetPort'], 'http', 'the public Service never targets the admin port');

  // TLS at the Ingress, for the host of public_url, to the public Service's port.
  const ingress = find('Ingress', 'smartpush') as Doc;
  const host = new URL(loaded.config.public_url as string).hostname;
  assert.equal(new URL(loaded.config.public_url as string).protocol, 'https:');
  assert.deepEqual(ingress['spec']['tls'], [{ hosts: [host], secretName: 'smartpush-tls' }]);
  const rule = (ingress['spec']['rules'] as Doc[])[0] as Doc;
  assert.equal(rule['host'], host);
  const backend = rule['http']['paths'][0]['backend']['service'] as Doc;
  assert.equal(backend['name'], 'smartpush');
  assert.ok((find('Service', 'smartpush')?.['spec']['ports'] as Doc[]).some((p) => p['name'] === backend['port']['name']));
  assert.match(readFileSync(join(dir, 'secret.example.yaml'), 'utf8'), /create secret tls smartpush-tls/);
  // trusted_proxies covers the pod network, so only the ingress controller may reach the public port.
  assert.ok(loaded.config.trusted_proxies.length > 0);
  const policy = find('NetworkPolicy', 'smartpush') as Doc;
  const publicRule = (policy['spec']['ingress'] as Doc[]).find((r) => (r['ports'] as Doc[]).some((p) => p['port'] === 8080)) as Doc;
  assert.deepEqual(publicRule['from'], [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]);
});
