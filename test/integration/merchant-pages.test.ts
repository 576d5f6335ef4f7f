import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configSchema } from '../../src/config/schema.ts';
import { ConfigError } from '../../src/config/load.ts';
import { buildSite } from '../../src/pages/site.ts';
import { CookieJar, navigation, send, type Reply } from '../helpers/browser-like.ts';
import { OPEN_POLICY, signIn, withStack } from '../helpers/stack.ts';

/**
 * The merchant pages over HTTP: the security headers every page carries, the assets (stylesheets,
 * script, logo) and their types, the language chosen from Accept-Language or the switcher, and the
 * switcher's return_to kept same-origin.
 */

const PNG = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

function assertPageHeaders(reply: Reply, label: string): void {
  const csp = String(reply.headers['content-security-policy']);
  const directives = new Map(csp.split(';').map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values.join(' ')]));
  assert.equal(directives.get('default-src'), "'none'", `${label}: ${csp}`);
  assert.equal(directives.get('script-src'), "'self'", label);
  assert.equal(directives.get('style-src'), "'self'", label);
  assert.equal(directives.get('img-src'), "'self' data:", label);
  assert.equal(directives.get('frame-ancestors'), "'none'", label);
  assert.equal(directives.get('form-action'), "'self'", label);
  assert.equal(directives.get('base-uri'), "'none'", label);
  assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/, label);
  assert.equal(reply.headers['x-content-type-options'], 'nosniff', label);
  assert.equal(reply.headers['referrer-policy'], 'no-referrer', label);
  assert.match(String(reply.headers['permissions-policy']), /camera=\(\).*microphone=\(\).*geolocation=\(\)/, label);
  assert.equal(reply.headers['cache-control'], 'no-store', label);
  assert.match(String(reply.headers['content-type']), /^text\/html; charset=utf-8/, label);
}

describe('merchant pages over HTTP', () => {
  test('every page, public or signed in, and every error page carries the security headers; no inline script or style', async () => {
    await withStack({}, async (stack) => {
      const cookie = await signIn(stack.url);
      const pages: Array<[string, Record<string, string>]> = [
        ['/_guard/login', {}],
        ['/_guard/help/otp', {}],
        ['/_guard/no-such-page', {}],
        ['/_guard/lang?set=xx', {}],
        ['/_guard/security', { cookie }],
        ['/_guard/security/enable', { cookie }],
        ['/_guard/logout', { cookie }],
      ];
      for (const [path, extra] of pages) {
        const reply = await send(`${stack.url}${path}`, { headers: { ...navigation(), ...extra } });
        assertPageHeaders(reply, path);
        assert.doesNotMatch(reply.text, /<script(?![^>]*\ssrc=)[^>]*>|\sstyle=|\son[a-z]+=/i, `${path}: inline script, style or handler`);
        assert.match(reply.text, /<script src="\/_guard\/assets\/guard\.js" defer><\/script>/, path);
      }
    });
  });

  test('assets: stylesheets, the script and the brand colour, each with its type and an hour of caching', async () => {
    await withStack({ config: { product: { name: 'Acme Mail', support: 'help@acme.example', primary_color: '#7c2d12' } } }, async (stack) => {
      const expected: Array<[string, RegExp, RegExp]> = [
        ['/_guard/assets/guard.css', /^text\/css; charset=utf-8/, /--primary:/],
        ['/_guard/assets/brand.css', /^text\/css; charset=utf-8/, /^:root \{ --primary: #7c2d12; \}/],
        ['/_guard/assets/guard.js', /^text\/javascript; charset=utf-8/, /data-resend-after/],
      ];
      for (const [path, type, body] of expected) {
        const reply = await send(`${stack.url}${path}`);
        assert.equal(reply.status, 200, path);
        assert.match(String(reply.headers['content-type']), type, path);
        assert.equal(reply.headers['cache-control'], 'public, max-age=3600', path);
        assert.equal(reply.headers['x-content-type-options'], 'nosniff', path);
        assert.match(reply.text, body, path);
      }
      assert.equal((await send(`${stack.url}/_guard/assets/logo`)).status, 404, 'no logo configured, none served');
      const login = await send(`${stack.url}/_guard/login`, { headers: navigation() });
      assert.match(login.text, /<title>Sign in · Acme Mail<\/title>/);
      assert.match(login.text, /<h1>Sign in to Acme Mail<\/h1>/);
      assert.match(login.text, /<span class="product">Acme Mail<\/span>/);
      const help = await send(`${stack.url}/_guard/help/otp`, { headers: navigation() });
      assert.match(help.text, /contact support: help@acme\.example/);
    });
  });

  test('a configured logo is served under /_guard/assets/logo with its sniffed type and shown on every page', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-logo-'));
    writeFileSync(join(dir, 'logo.png'), PNG);
    await withStack({ config: { product: { name: 'Acme', support: 's', logo: join(dir, 'logo.png') } } }, async (stack) => {
      const logo = await send(`${stack.url}/_guard/assets/logo`);
      assert.equal(logo.status, 200);
      assert.equal(logo.headers['content-type'], 'image/png');
      assert.match(String(logo.headers['content-security-policy']), /sandbox/);
      const page = await send(`${stack.url}/_guard/login`, { headers: navigation() });
      assert.match(page.text, /<img class="logo" src="\/_guard\/assets\/logo" alt="Acme logo"\/?>/);
    });
  });

  test('a logo that is not an image, too large or missing, and a light primary colour, are refused with a clear config error', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spg-logo-'));
    writeFileSync(join(dir, 'logo.gif'), Buffer.from('GIF89a....'));
    writeFileSync(join(dir, 'big.png'), Buffer.concat([PNG, Buffer.alloc(300 * 1024)]));
    writeFileSync(join(dir, 'logo.svg'), '<?xml version="1.0"?>\n<!-- logo -->\n<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 1 1"/>');
    const configFile = join(dir, 'config.yaml');
    const product = { name: 'Acme', support: 's', primary_color: '#2563eb' };
    assert.throws(() => buildSite({ ...product, logo: 'logo.gif' }, configFile), (e: unknown) => e instanceof ConfigError && /not a PNG, SVG or JPEG image/.test(e.message));
    assert.throws(() => buildSite({ ...product, logo: 'big.png' }, configFile), (e: unknown) => e instanceof ConfigError && /at most 262144 \(256 KiB\)/.test(e.message));
    assert.throws(() => buildSite({ ...product, logo: 'missing.png' }, configFile), (e: unknown) => e instanceof ConfigError && /cannot read .*missing\.png \(ENOENT\)/.test(e.message));
    assert.equal(buildSite({ ...product, logo: 'logo.svg' }, configFile).logo?.type, 'image/svg+xml', 'a path relative to the config file');

    const parseColour = (primary_color: string) => configSchema.shape.product.safeParse({ primary_color });
    assert.ok(parseColour('#2563eb').success);
    assert.ok(parseColour('#7C2D12').success);
    const light = parseColour('#60a5fa');
    assert.ok(!light.success);
    assert.match(light.error.issues[0]?.message ?? '', /white text on #60a5fa has a contrast of 2\.\d\d:1, below the 4\.5:1 WCAG AA needs/);
    for (const bad of ['blue', '#fff', '#12345g', 'red; } body { display: none', '#2563eb;']) {
      const parsed = parseColour(bad);
      assert.ok(!parsed.success, bad);
      assert.match(parsed.error.issues[0]?.message ?? '', /must be a colour as #rrggbb/, bad);
    }
  });

  test('the language follows Accept-Language, and the switcher sets it for later pages and comes back', async () => {
    await withStack({}, async (stack) => {
      const zh = await send(`${stack.url}/_guard/login`, { headers: { ...navigation(), 'accept-language': 'zh-CN,zh;q=0.9,en;q=0.8' } });
      assert.match(zh.text, /<html lang="zh-CN">/);
      assert.match(zh.text, /<h1>登录 SmartPush<\/h1>/);
      assert.match(zh.text, /<label for="password">密码<\/label>/);
      const en = await send(`${stack.url}/_guard/login`, { headers: { ...navigation(), 'accept-language': 'fr, en;q=0.5' } });
      assert.match(en.text, /<html lang="en">/);

      const jar = new CookieJar();
      const switched = jar.take(await send(`${stack.url}/_guard/lang?set=zh-CN&return_to=${encodeURIComponent('/_guard/help/otp#sms')}`, { headers: navigation() }));
      assert.equal(switched.status, 303);
      // The fragment is not a path: the switcher falls back rather than keep a doubtful value.
      assert.equal(switched.location, '/_guard/login');
      const cookie = switched.setCookies.find((c) => c.startsWith('spg_lang='));
      assert.ok(cookie, switched.setCookies.join(' | '));
      assert.match(cookie, /^spg_lang=zh-CN; Max-Age=31536000; Path=\/; HttpOnly; SameSite=Lax$/);
      const back = jar.take(await send(`${stack.url}/_guard/lang?set=zh-CN&return_to=${encodeURIComponent('/_guard/help/otp')}`, { headers: { ...navigation(), cookie: jar.header() } }));
      assert.equal(back.location, '/_guard/help/otp');
      const help = await send(`${stack.url}/_guard/help/otp`, { headers: { ...navigation(), cookie: jar.header(), 'accept-language': 'en' } });
      assert.match(help.text, /<html lang="zh-CN">/);
      assert.match(help.text, /没有收到验证码？/);

      // Error pages speak the visitor's language too; the JSON API keeps English.
      const notFound = await send(`${stack.url}/_guard/nothing`, { headers: { ...navigation(), cookie: jar.header() } });
      assert.equal(notFound.status, 404);
      assert.match(notFound.text, /找不到页面/);
      const api = await send(`${stack.url}/_guard/nothing`, { headers: { accept: 'application/json', cookie: jar.header() } });
      assert.equal(api.json()['message'], 'There is no such page.');
    });
  });

  test('an unreachable upstream gets the branded error page in the visitor language, with the headers', async () => {
    await withStack({ policy: OPEN_POLICY, upstreamUrl: 'http://127.0.0.1:9', config: { product: { name: 'Acme', support: 's' } } }, async (stack) => {
      const zh = await send(`${stack.url}/campaigns`, { headers: { ...navigation(), 'accept-language': 'zh-CN' } });
      assert.equal(zh.status, 502);
      assertPageHeaders(zh, '502 zh');
      assert.match(zh.text, /<html lang="zh-CN">/);
      assert.match(zh.text, /目前无法连接 Acme。请稍后再试。/);
      assert.match(zh.text, /错误 502 · 参考编号 /);
      const en = await send(`${stack.url}/campaigns`, { headers: navigation() });
      assert.match(en.text, /Acme cannot be reached right now\./);
      const api = await send(`${stack.url}/campaigns`, { headers: { accept: 'application/json', 'accept-language': 'zh-CN' } });
      assert.equal(api.json()['error'], 'upstream_unavailable');
      assert.match(String(api.json()['message']), /cannot be reached/, 'the JSON message stays English');
    });
  });

  test('the switcher never redirects off the site, nor to the API; an unknown language is a 400', async () => {
    await withStack({}, async (stack) => {
      for (const target of ['//evil.example/', 'https://evil.example/', '/\\evil.example', '/%2F%2Fevil.example', 'javascript:alert(1)', '/_guard/api/2fa']) {
        const reply = await send(`${stack.url}/_guard/lang?set=en&return_to=${encodeURIComponent(target)}`, { headers: navigation() });
        assert.equal(reply.status, 303, target);
        assert.equal(reply.location, '/_guard/login', target);
      }
      for (const set of ['fr', 'zh-TW', '', 'en;x']) {
        const reply = await send(`${stack.url}/_guard/lang?set=${encodeURIComponent(set)}&return_to=%2F`, { headers: { accept: 'application/json' } });
        assert.equal(reply.status, 400, set);
        assert.equal(reply.json()['error'], 'unknown_language');
        assert.deepEqual(reply.setCookies, []);
      }
    });
  });
});
