import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The container image, checked without a Docker engine: the Dockerfile and .dockerignore
 * statically, then scripts/docker-build-steps.sh replays the build (production dependencies only)
 * and runs the image's entrypoint, HEALTHCHECK and STOPSIGNAL.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCRIPT = join(ROOT, 'scripts', 'docker-build-steps.sh');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

interface Stage {
  readonly from: string;
  readonly name: string | undefined;
  readonly instructions: Instruction[];
}

/** Logical instructions: continuation lines joined, comments and blank lines dropped. */
function parseDockerfile(text: string): Stage[] {
  const logical: string[] = [];
  let buffer: string | undefined;
  for (const raw of text.split(/\r?\n/)) {
    if (/^\s*#/.test(raw) || /^\s*$/.test(raw)) continue;
    const joined = buffer === undefined ? raw : `${buffer} ${raw.trim()}`;
    if (/\\\s*$/.test(joined)) {
      buffer = joined.replace(/\\\s*$/, '');
      continue;
    }
    logical.push(joined.trim());
    buffer = undefined;
  }
  if (buffer !== undefined) logical.push(buffer.trim());

  const stages: Stage[] = [];
  for (const line of logical) {
    const match = /^(\S+)\s*(.*)$/.exec(line);
    if (!match) continue;
    const keyword = (match[1] ?? '').toUpperCase();
    const args = match[2] ?? '';
    if (keyword === 'FROM') {
      const words = args.split(/\s+/);
      const asIndex = words.findIndex((w) => w.toUpperCase() === 'AS');
      stages.push({ from: words[0] ?? '', name: asIndex >= 0 ? words[asIndex + 1] : undefined, instructions: [] });
      continue;
    }
    const stage = stages.at(-1);
    assert.ok(stage, `${keyword} appears before the first FROM`);
    stage.instructions.push({ keyword, args });
  }
  return stages;
}

interface Copy {
  readonly from: string | undefined;
  readonly sources: string[];
  readonly dest: string;
}

function copies(stage: Stage): Copy[] {
  return stage.instructions
    .filter((i) => i.keyword === 'COPY' || i.keyword === 'ADD')
    .map((i) => {
      let rest = i.args;
      let from: string | undefined;
      for (let flag = /^--(\S+)\s*/.exec(rest); flag; flag = /^--(\S+)\s*/.exec(rest)) {
        if (flag[1]?.startsWith('from=')) from = flag[1].slice('from='.length);
        rest = rest.slice(flag[0].length);
      }
      const words: string[] = rest.startsWith('[') ? (JSON.parse(rest) as string[]) : rest.split(/\s+/);
      return { from, sources: words.slice(0, -1), dest: words.at(-1) ?? '' };
    });
}

const normalize = (p: string): string => p.replace(/^(\.\/|\/)+/, '').replace(/\/+$/, '') || '.';

const dockerfileText = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const stages = parseDockerfile(dockerfileText);
const finalStage = stages.at(-1);
const runs = (stage: Stage): string => stage.instructions.filter((i) => i.keyword === 'RUN').map((i) => i.args).join('\n');
const finalOf = (): Stage => {
  assert.ok(finalStage, 'the Dockerfile has no FROM');
  return finalStage;
};

test('the Dockerfile is a multi-stage build on node:20-bookworm-slim', () => {
  assert.ok(stages.length >= 2, `expected at least 2 FROM instructions, found ${stages.length}`);
  const final = finalOf();
  assert.equal(final.from, 'node:20-bookworm-slim', 'the runtime stage starts from node:20-bookworm-slim');
  const test = stages.find((s) => s.name === 'test');
  assert.ok(test, 'a stage named "test" exists for `docker build --target test`');
  assert.match(runs(test), /npm ci\b/, 'the test stage installs every dependency with npm ci');
  assert.match(runs(test), /npm run typecheck/, 'the test stage type-checks');
  assert.notEqual(final, test, 'the test stage is not the default (final) target');
});

test('the final stage runs as a non-root user', () => {
  const users = finalOf().instructions.filter((i) => i.keyword === 'USER');
  const user = users.at(-1)?.args.split(':')[0]?.trim();
  assert.ok(user, 'the final stage sets USER');
  assert.ok(user === 'node' || (/^\d+$/.test(user) && Number(user) !== 0), `USER ${user} is root or unknown`);
  assert.notEqual(user, 'root');
});

test('the final stage has a HEALTHCHECK against the admin /healthz without curl', () => {
  const checks = finalOf().instructions.filter((i) => i.keyword === 'HEALTHCHECK');
  const check = checks.at(-1)?.args;
  assert.ok(check, 'the final stage declares a HEALTHCHECK');
  assert.doesNotMatch(check, /^NONE$/i);
  assert.match(check, /\bCMD\b/);
  assert.match(check, /\/healthz/, 'the HEALTHCHECK probes /healthz');
  assert.match(check, /\bfetch\(/, 'the HEALTHCHECK uses Node’s global fetch');
  assert.doesNotMatch(check, /\b(curl|wget)\b/, 'slim images have neither curl nor wget');
});

test('dependencies are installed with npm ci only, and the runtime gets production ones', () => {
  for (const stage of stages) {
    assert.doesNotMatch(runs(stage), /\bnpm\s+(install|i|add)\b/, `stage ${stage.name ?? stage.from} uses npm install`);
  }
  const final = finalOf();
  const finalCopies = copies(final);
  const moduleCopies = finalCopies.filter((c) => c.sources.some((s) => /node_modules/.test(s)));
  assert.ok(moduleCopies.length > 0, 'the final stage copies node_modules from a build stage');
  for (const copy of moduleCopies) {
    assert.ok(copy.from, 'node_modules comes from a build stage, never from the build context');
    const source = stages.find((s) => s.name === copy.from);
    assert.ok(source, `COPY --from=${copy.from} names a stage of this Dockerfile`);
    assert.match(runs(source), /npm ci\b[^\n]*--omit[= ]dev/, `stage ${copy.from} installs production dependencies only`);
    assert.ok(
      source.instructions.some((i) => i.keyword === 'COPY' && /package\.json/.test(i.args) && /package-lock\.json/.test(i.args)),
      `stage ${copy.from} copies package.json and package-lock.json (before the sources, for layer caching)`,
    );
  }
  assert.doesNotMatch(runs(final), /\bnpm\b/, 'the final stage runs no npm command');
  assert.doesNotMatch(runs(final), /apt-get install/, 'the final stage installs no build tools');
});

test('the final stage copies only runtime files (no tests, benchmarks, dev tooling or whole context)', () => {
  const contextSources = copies(finalOf())
    .filter((c) => c.from === undefined)
    .flatMap((c) => c.sources.map(normalize));
  const forbidden = ['.', '*', 'node_modules', 'test', 'bench', '.git', 'var'];
  for (const source of contextSources) {
    assert.ok(!forbidden.includes(source) && !source.startsWith('test/') && !source.startsWith('bench/'), `the final stage copies ${source}`);
  }
  for (const needed of ['package.json', 'bin', 'src', 'demo', 'config', 'policies', 'schema', 'tsconfig.json']) {
    assert.ok(contextSources.includes(needed), `the final stage copies ${needed}`);
  }
});

test('the final stage exposes both listeners and starts the CLI in exec form', () => {
  const final = finalOf();
  const exposed = final.instructions.filter((i) => i.keyword === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
  assert.ok(exposed.some((p) => /^8080(\/tcp)?$/.test(p)), `EXPOSE 8080 (found ${exposed.join(' ') || 'none'})`);
  assert.ok(exposed.some((p) => /^9090(\/tcp)?$/.test(p)), `EXPOSE 9090 (found ${exposed.join(' ') || 'none'})`);
  const last = (keyword: string): string | undefined => final.instructions.filter((i) => i.keyword === keyword).at(-1)?.args;
  assert.deepEqual(JSON.parse(last('ENTRYPOINT') ?? 'null'), ['node', 'bin/smartpush-guard.js']);
  assert.deepEqual(JSON.parse(last('CMD') ?? 'null'), ['serve', '--config', '/etc/smartpush-guard/config.yaml']);
  assert.equal(last('STOPSIGNAL'), 'SIGTERM');
  assert.equal(last('WORKDIR'), '/app');
  assert.match(last('ENV') ?? '', /\bNODE_ENV=production\b/);
  assert.match(runs(final), /chown\s+node(:node)?\s+\/app\/var/, '/app/var is writable by the node user');
});

test('.dockerignore keeps node_modules, var and other local state out of the context', () => {
  const patterns = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map(normalize);
  for (const required of ['node_modules', 'var', '.git', 'test', 'bench']) {
    assert.ok(patterns.includes(required), `.dockerignore excludes ${required}`);
  }
  assert.ok(
    patterns.some((p) => p === '**/*.log' || p === '*.log'),
    '.dockerignore excludes log files',
  );
});

test('docker-build-steps.sh fails on a Dockerfile whose COPY source is missing', () => {
  const dir = mkdtempSync(join(tmpdir(), 'dockerfile-test-'));
  try {
    const broken = join(dir, 'Dockerfile');
    writeFileSync(broken, dockerfileText.replace(/^COPY src \.\/src$/m, 'COPY no-such-dir ./src'));
    assert.notEqual(readFileSync(broken, 'utf8'), dockerfileText, 'the final stage has a `COPY src ./src` line to break');
    const result = spawnSync('bash', [SCRIPT], {
      cwd: ROOT,
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, DOCKERFILE: broken },
    });
    assert.notEqual(result.status, 0, 'the script accepted a Dockerfile that copies a missing path');
    assert.match(result.stderr, /FAILED: .*no-such-dir does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('docker-build-steps.sh replays the build with production dependencies and the image runs', (t) => {
  const started = Date.now();
  const result = spawnSync('bash', [SCRIPT], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    killSignal: 'SIGTERM',
    env: { ...process.env, DOCKERFILE: join(ROOT, 'Dockerfile') },
  });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}`;
  assert.equal(result.error, undefined, `the script could not run to the end: ${String(result.error)}\n${output}`);
  assert.equal(result.status, 0, `docker-build-steps.sh exited ${result.status}:\n${output}`);
  assert.match(result.stdout, /all steps passed/);
  t.diagnostic(`docker-build-steps.sh took ${((Date.now() - started) / 1000).toFixed(1)} s`);
});
