/**
 * openapi/eipd.yaml keeps the published operation verbatim, and routes match the document.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { buildApp } from '../../src/app.js';
import type { Database } from '../../src/db/database.js';
import {
  listOperations,
  loadOpenApi,
  OPENAPI_JSON_PATH,
  OPENAPI_PATH,
} from '../../src/http/openapi.js';
import { operationHandlers } from '../../src/http/routes/index.js';
import { createAjv } from '../../src/http/validation.js';

const seed = parseYaml(
  readFileSync(
    new URL('../../openapi/provider/allocate-elastic-ip.seed.yaml', import.meta.url),
    'utf8',
  ),
) as Record<string, unknown>;
const document = parseYaml(readFileSync(OPENAPI_PATH, 'utf8')) as Record<string, unknown>;

/** Every key and value of `expected` appears unchanged in `actual` (which may add more). */
function missingFrom(expected: unknown, actual: unknown, path: string, out: string[]): string[] {
  if (typeof expected !== 'object' || expected === null) {
    if (expected !== actual)
      out.push(`${path}: expected ${JSON.stringify(expected)}, found ${JSON.stringify(actual)}`);
    return out;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual) || actual.length !== expected.length) {
      out.push(`${path}: array differs`);
      return out;
    }
    expected.forEach((e, i) => {
      missingFrom(e, actual[i], `${path}[${i}]`, out);
    });
    return out;
  }
  if (typeof actual !== 'object' || actual === null) {
    out.push(`${path}: missing`);
    return out;
  }
  for (const [k, v] of Object.entries(expected)) {
    missingFrom(v, (actual as Record<string, unknown>)[k], `${path}.${k}`, out);
  }
  return out;
}

describe('openapi document', () => {
  test('the JSON eipd reads at start is openapi/eipd.yaml as it is now (npm run generate)', () => {
    assert.deepEqual(
      JSON.parse(readFileSync(OPENAPI_JSON_PATH, 'utf8')),
      document,
      'src/generated/openapi.json is out of date: run npm run generate',
    );
  });

  test('every schema in the document is a valid JSON Schema (eipd compiles them unchecked)', () => {
    // createAjv turns Ajv's meta-schema check off to start sooner, so the check lives here.
    const ajv = createAjv();
    const schemas: [string, unknown][] = [];
    const collect = (node: unknown, path: string): void => {
      if (typeof node !== 'object' || node === null) return;
      for (const [key, value] of Object.entries(node)) {
        if (key === 'schema') schemas.push([`${path}.schema`, value]);
        else collect(value, `${path}.${key}`);
      }
    };
    collect(document.paths, 'paths');
    const components = document.components as { schemas: Record<string, unknown> };
    for (const [name, schema] of Object.entries(components.schemas))
      schemas.push([`components.schemas.${name}`, schema]);
    assert.ok(schemas.length > 20, `only ${schemas.length} schemas found`);
    const invalid = schemas
      .filter(([, schema]) => ajv.validateSchema(schema as object) !== true)
      .map(([path]) => `${path}: ${ajv.errorsText()}`);
    assert.deepEqual(invalid, []);
    assert.equal(ajv.validateSchema({ type: 'strin' }), false, 'the check notices a bad schema');
  });

  test('the published allocateElasticIP paths and components are kept verbatim', () => {
    assert.deepEqual(missingFrom(seed.paths, document.paths, 'paths', []), []);
    assert.deepEqual(missingFrom(seed.components, document.components, 'components', []), []);
  });

  test('the subset check itself notices a changed published value', () => {
    const altered = structuredClone(document) as {
      components: { schemas: { name: { maxLength: number } } };
    };
    altered.components.schemas.name.maxLength = 256;
    assert.notDeepEqual(missingFrom(seed.components, altered.components, 'components', []), []);
  });

  test('info, tags and servers are ours, so docs never call the provider', () => {
    assert.deepEqual(document.servers, [{ url: '/' }]);
    assert.doesNotMatch(JSON.stringify(document.info), /gmicloud/i);
  });

  test('every operation has a handler and every handler an operation', () => {
    const ids = listOperations(loadOpenApi({ maxAllocateCount: 100 }))
      .map((o) => o.operationId)
      .sort();
    assert.deepEqual(ids, Object.keys(operationHandlers).sort());
    assert.deepEqual(ids, [
      'allocateElasticIP',
      'associateElasticIP',
      'disassociateElasticIP',
      'getAddressHistory',
      'getElasticIP',
      'getHealth',
      'getReadiness',
      'listAssociations',
      'listElasticIPProducts',
      'listElasticIPs',
      'listEvents',
      'listOperatorActions',
      'listPools',
      'listQuotas',
      'registerInstance',
      'releaseElasticIP',
      'removeInstance',
      'removeQuotaOverride',
      'setQuota',
      'updateElasticIP',
      'updatePool',
    ]);
  });

  test('the app registers exactly the documented routes', async () => {
    const unused = {} as Database;
    const { app } = buildApp({
      db: unused,
      verifier: { verify: async () => ({ ok: false, failure: 'missing' }) },
      maxAllocateCount: 100,
      bodyLimitBytes: 1024,
      logger: false,
    });
    await app.ready();
    for (const op of listOperations(loadOpenApi({ maxAllocateCount: 100 }))) {
      assert.ok(
        app.hasRoute({ method: op.method, url: op.routePath }),
        `${op.method} ${op.routePath}`,
      );
    }
    await app.close();
  });

  test('the served document carries the configured count maximum', () => {
    const doc = loadOpenApi({ maxAllocateCount: 7 });
    const schema = doc.components.schemas.elasticIPAllocateReq as {
      properties: Record<string, { maximum?: number }>;
    };
    const count = schema.properties.count;
    assert.equal(count?.maximum, 7);
  });
});
