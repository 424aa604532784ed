/**
 * allocateElasticIP request validation: every constraint of the published elasticIPAllocateReq,
 * with the exact 400 bodies, on both database engines.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { allocateBody, BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const NAME_PATTERN = '^([A-Za-z0-9][A-Za-z0-9_\\-. ]*)?[A-Za-z0-9]$';
const SLUG_PATTERN = '^[a-zA-Z0-9._-]+$';
const INVALID = {
  group: 'request',
  code: 0,
  message: 'The request body is invalid; see validationDetail.',
};

const detail = (field: string, expression: string, argument: string, originalValue: string) => ({
  field,
  expression,
  argument,
  originalValue,
  reason: {
    required: 'This field is required.',
    type: 'This field has the wrong type.',
    pattern: 'This field does not match the required pattern.',
    maxLength: 'This field is too long.',
    minimum: 'This field is below the minimum.',
    maximum: 'This field is above the maximum.',
    additionalProperties: 'This field is not allowed.',
  }[expression],
});

for (const backend of BACKENDS) {
  describe(`allocateElasticIP validation (${backend})`, () => {
    let t: TestApp;
    let token: string;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
      token = await t.token();
    });
    after(() => t.close());

    const post = (payload: string | undefined, contentType = 'application/json') =>
      t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': contentType }),
        },
        ...(payload === undefined ? {} : { payload }),
      });
    const postBody = (body: unknown) => post(JSON.stringify(body));

    const expect400 = async (body: unknown, validationDetail: unknown[]) => {
      const res = await postBody(body);
      assert.equal(res.statusCode, 400, res.body);
      assert.deepEqual(res.json(), { ...INVALID, validationDetail });
    };

    for (const field of ['count', 'idc', 'name', 'product']) {
      test(`allocate refuses a body without ${field} (required)`, async () => {
        const body = allocateBody();
        delete body[field];
        await expect400(body, [detail(field, 'required', '', '')]);
      });
    }

    test('allocate refuses a count sent as a string, with no coercion (type)', async () => {
      await expect400(allocateBody({ count: '2' }), [detail('count', 'type', 'integer', '"2"')]);
    });

    test('allocate refuses a fractional count (type) and reports minimum too when below 1', async () => {
      await expect400(allocateBody({ count: 1.5 }), [detail('count', 'type', 'integer', '1.5')]);
      await expect400(allocateBody({ count: 0.5 }), [
        detail('count', 'minimum', '1', '0.5'),
        detail('count', 'type', 'integer', '0.5'),
      ]);
    });

    test('allocate refuses wrong types for the string fields (type)', async () => {
      await expect400(allocateBody({ idc: 5, name: null, product: ['a'] }), [
        detail('idc', 'type', 'string', '5'),
        detail('name', 'type', 'string', 'null'),
        detail('product', 'type', 'string', '["a"]'),
      ]);
    });

    test('allocate refuses count below the minimum (minimum)', async () => {
      await expect400(allocateBody({ count: 0 }), [detail('count', 'minimum', '1', '0')]);
      await expect400(allocateBody({ count: -3 }), [detail('count', 'minimum', '1', '-3')]);
    });

    test('allocate refuses count above the configured maximum (maximum)', async () => {
      await expect400(allocateBody({ count: 101 }), [detail('count', 'maximum', '100', '101')]);
    });

    test('allocate refuses values that break the patterns (pattern)', async () => {
      await expect400(allocateBody({ idc: 'test east1', name: '-web', product: 'eip/v4' }), [
        detail('idc', 'pattern', SLUG_PATTERN, '"test east1"'),
        detail('name', 'pattern', NAME_PATTERN, '"-web"'),
        detail('product', 'pattern', SLUG_PATTERN, '"eip/v4"'),
      ]);
      for (const name of ['web-', ' web', 'web\n', 'wéb', '']) {
        const res = await postBody(allocateBody({ name }));
        assert.equal(res.statusCode, 400, `name ${JSON.stringify(name)}`);
        assert.equal(res.json().validationDetail[0].expression, 'pattern');
      }
    });

    test('allocate refuses over-long values (maxLength), and cuts originalValue at 256 chars', async () => {
      const idc = 'a'.repeat(51);
      const name = 'n'.repeat(300);
      const product = 'p'.repeat(257);
      await expect400(allocateBody({ idc, name, product }), [
        detail('idc', 'maxLength', '50', JSON.stringify(idc)),
        detail('name', 'maxLength', '255', JSON.stringify(name).slice(0, 256)),
        detail('product', 'maxLength', '256', JSON.stringify(product).slice(0, 256)),
      ]);
    });

    test('allocate accepts values exactly at the length limits', async () => {
      const res = await postBody(allocateBody({ name: `a${' b'.repeat(127)}` }));
      assert.equal(res.statusCode, 200, res.body);
    });

    test('allocate refuses unknown fields, such as a misspelt ipaddress (additionalProperties)', async () => {
      await expect400(allocateBody({ ipaddress: '192.0.2.10', zone: 'x' }), [
        detail('ipaddress', 'additionalProperties', 'false', '"192.0.2.10"'),
        detail('zone', 'additionalProperties', 'false', '"x"'),
      ]);
    });

    test('allocate lists every violation in schema property order', async () => {
      await expect400({ extra: true, product: 'ok', name: '!', count: '1' }, [
        detail('count', 'type', 'integer', '"1"'),
        detail('idc', 'required', '', ''),
        detail('name', 'pattern', NAME_PATTERN, '"!"'),
        detail('extra', 'additionalProperties', 'false', 'true'),
      ]);
    });

    const unreadable = (message: string) => ({ group: 'request', code: 1, message });

    test('allocate answers code 1 for a missing body', async () => {
      const res = await post(undefined);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), unreadable('The request body is missing.'));
      const empty = await post('');
      assert.equal(empty.statusCode, 400);
      assert.deepEqual(empty.json(), unreadable('The request body is missing.'));
    });

    test('allocate answers code 1 for malformed JSON', async () => {
      for (const payload of ['{', '{"count":1,}', 'nope', '{"a":1}}']) {
        const res = await post(payload);
        assert.equal(res.statusCode, 400, payload);
        assert.deepEqual(res.json(), unreadable('The request body is not valid JSON.'), payload);
      }
    });

    test('allocate answers code 1 for JSON that is not an object', async () => {
      for (const payload of ['[]', 'null', '42', '"text"', 'true']) {
        const res = await post(payload);
        assert.equal(res.statusCode, 400, payload);
        assert.deepEqual(
          res.json(),
          unreadable('The request body must be a JSON object.'),
          payload,
        );
      }
    });

    test('allocate answers code 1, not 415, for a wrong content type', async () => {
      for (const type of ['text/plain', 'application/x-www-form-urlencoded', 'application/xml']) {
        const res = await post(JSON.stringify(allocateBody()), type);
        assert.equal(res.statusCode, 400, type);
        assert.deepEqual(
          res.json(),
          unreadable('The request body must be sent as Content-Type: application/json.'),
        );
      }
    });

    test('allocate refuses deeply nested JSON with 413 before echoing any of it', async () => {
      const deep = `{"name":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
      const res = await post(deep);
      assert.equal(res.statusCode, 413);
      assert.deepEqual(res.json(), {
        code: 4132,
        reason: 'The request body is nested deeper than 32 levels.',
      });
      const shallow = await postBody(allocateBody({ name: [[[['x']]]] }));
      assert.equal(shallow.statusCode, 400);
      assert.deepEqual(shallow.json().validationDetail, [
        detail('name', 'type', 'string', '[[[["x"]]]]'),
      ]);
    });

    test('allocate refuses prototype-poisoning keys as unreadable, not as a 500', async () => {
      const res = await post('{"__proto__":{"count":1},"idc":"test-east1"}');
      assert.equal(res.statusCode, 400);
      assert.deepEqual(
        res.json(),
        unreadable('The request body must not contain __proto__ or constructor.prototype keys.'),
      );
    });

    test('allocate refuses a body with more than 64 fields with 413, not one entry per field', async () => {
      const wide: Record<string, unknown> = allocateBody();
      for (let i = 0; i < 61; i++) wide[`k${i}`] = i;
      const res = await postBody(wide);
      assert.equal(res.statusCode, 413);
      assert.deepEqual(res.json(), {
        code: 4133,
        reason: 'The request body has more than 64 fields.',
      });
      delete wide.k60;
      const atLimit = await postBody(wide);
      assert.equal(atLimit.statusCode, 400);
      assert.equal(atLimit.json().validationDetail.length, 60);
    });

    test('allocate refuses a body over the size limit with 413 naming the limit', async () => {
      const res = await postBody(allocateBody({ name: 'a'.repeat(1024 * 1024) }));
      assert.equal(res.statusCode, 413);
      assert.deepEqual(res.json(), {
        code: 4131,
        reason: 'The request body is larger than 1048576 bytes.',
      });
    });
  });
}

describe('allocateElasticIP count bound', () => {
  test('allocate reports the configured EIPD_MAX_ALLOCATE_COUNT as the maximum', async () => {
    const t = await startTestApp({
      backend: 'pglite',
      catalog: BASIC_CATALOG,
      maxAllocateCount: 5,
    });
    try {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${await t.token()}` },
        payload: allocateBody({ count: 6 }),
      });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json().validationDetail, [detail('count', 'maximum', '5', '6')]);
    } finally {
      await t.close();
    }
  });
});
