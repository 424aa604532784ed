/**
 * The published document at /openapi.json and /openapi.yaml, and the /docs page: served without a
 * token, the same document eipd validates with, and a page that renders every operation in a real
 * headless Chromium without a single request leaving eipd's origin.
 *
 * DOCS_SCREENSHOT=docs/api-docs.png (npm run docs:screenshot) also writes a screenshot of the page.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { DOCS_CSP } from '../../src/http/api-docs.js';
import { listOperations, loadOpenApi } from '../../src/http/openapi.js';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { visitDocs } from '../support/docs-browser.js';

describe('API docs', () => {
  let t: TestApp;
  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG, maxAllocateCount: 7 });
  });
  after(() => t.close());

  test('/openapi.json and /openapi.yaml serve the document as loaded, without a token', async () => {
    const expected = loadOpenApi({ maxAllocateCount: 7 });
    const json = await t.app.inject({ method: 'GET', url: '/openapi.json' });
    assert.equal(json.statusCode, 200);
    assert.equal(json.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(json.headers['x-request-id']);
    assert.deepEqual(json.json(), expected);
    const yaml = await t.app.inject({ method: 'GET', url: '/openapi.yaml' });
    assert.equal(yaml.statusCode, 200);
    assert.equal(yaml.headers['content-type'], 'application/yaml; charset=utf-8');
    assert.deepEqual(parseYaml(yaml.body), expected);

    const doc = json.json() as {
      servers: unknown;
      components: { schemas: Record<string, { properties: Record<string, unknown> }> };
    };
    // Try-it-out requests go to this server, never to the provider's host.
    assert.deepEqual(doc.servers, [{ url: '/' }]);
    // The configured limit, as validation applies it.
    assert.equal(
      (doc.components.schemas.elasticIPAllocateReq?.properties.count as { maximum?: number })
        ?.maximum,
      7,
    );
  });

  test('/docs is served without a token, with a same-origin Content-Security-Policy', async () => {
    const page = await t.app.inject({ method: 'GET', url: '/docs' });
    assert.equal(page.statusCode, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.equal(page.headers['content-security-policy'], DOCS_CSP);
    assert.doesNotMatch(page.body, /https?:\/\//);
    const init = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' });
    assert.equal(init.statusCode, 200);
    assert.match(init.body, /validatorUrl: null/);
    // The page's policy stays on the page: API answers do not carry it.
    const health = await t.app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(health.headers['content-security-policy'], undefined);
  });

  test('headless Chromium renders every operation with no request leaving the origin', async () => {
    const origin = await t.app.listen({ host: '127.0.0.1', port: 0 });
    const screenshotPath = process.env.DOCS_SCREENSHOT;
    const visit = await visitDocs(origin, screenshotPath === undefined ? {} : { screenshotPath });

    const foreign = visit.requests.filter((url) => new URL(url).origin !== origin);
    assert.deepEqual(foreign, [], 'requests that left the origin');
    for (const path of ['/docs', '/docs/static/swagger-ui-bundle.js', '/docs/json']) {
      assert.ok(
        visit.requests.some((url) => new URL(url).pathname === path),
        `${path} not requested: ${visit.requests.join(' ')}`,
      );
    }
    assert.deepEqual(visit.errors, []);
    assert.equal(visit.title, 'eipd API docs');

    const documented = listOperations(loadOpenApi({ maxAllocateCount: 7 })).map(
      (o) => `${o.method} ${o.path}`,
    );
    const rendered = visit.operations.map((o) => o.replace(/\u200b/g, ''));
    assert.ok(rendered.includes('POST /v1/elastic-ips'), rendered.join('\n'));
    assert.deepEqual([...rendered].sort(), [...documented].sort());
  });
});
