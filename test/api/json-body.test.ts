/**
 * Strict JSON body reading: what the client sent is exactly what is validated. Duplicate keys,
 * numbers JSON.parse would round, deep nesting, other charsets and encodings, and invalid UTF-8
 * are refused before schema validation, each with its own message.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { allocateBody, BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';

const unreadable = (message: string) => ({ group: 'request', code: 1, message });
const NOT_UTF8 = unreadable('The request body must be UTF-8 encoded JSON.');
const TOO_DEEP = { code: 4132, reason: 'The request body is nested deeper than 32 levels.' };
const duplicateKey = (quoted: string) =>
  unreadable(`The request body has a duplicate key ${quoted}.`);
const inexact = (token: string) =>
  unreadable(`The number ${token} in the request body cannot be represented exactly.`);

/** The allocate body as JSON text, its count field written as `count` (a raw JSON token). */
const withCount = (count: string, extra = '') =>
  `{"idc":"test-east1","product":"eip.ipv4.test","name":"web-1","count":${count}${extra}}`;

describe('strict JSON bodies', () => {
  let t: TestApp;
  let token: string;
  before(async () => {
    t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    token = await t.token();
  });
  after(() => t.close());

  const post = (payload: string | Buffer, headers: Record<string, string> = {}) =>
    t.app.inject({
      method: 'POST',
      url: '/v1/elastic-ips',
      headers: {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
        ...headers,
      },
      payload,
    });
  const expectAnswer = async (
    payload: string | Buffer,
    status: number,
    body: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await post(payload, headers);
    const label = typeof payload === 'string' ? payload.slice(0, 200) : payload.toString('hex');
    assert.equal(res.statusCode, status, `${label}: ${res.body}`);
    assert.deepEqual(res.json(), body, label);
  };

  describe('duplicate keys', () => {
    test('a repeated count is refused, not silently the last one', async () => {
      await expectAnswer(withCount('1', ',"count":2'), 400, duplicateKey('"count"'));
    });

    test('keys are compared decoded, so an escaped spelling is the same key', async () => {
      await expectAnswer(withCount('1', ',"\\u0063ount":2'), 400, duplicateKey('"count"'));
      await expectAnswer(withCount('1', ',"\\u0069dc":"x"'), 400, duplicateKey('"idc"'));
    });

    test('a duplicate in a nested object or an array item is refused too', async () => {
      await expectAnswer(withCount('1', ',"x":{"a":1,"a":1}'), 400, duplicateKey('"a"'));
      await expectAnswer(
        withCount('1', ',"x":[{},{"b":[{"c":1,"c":2}]}]'),
        400,
        duplicateKey('"c"'),
      );
    });

    test('the key is quoted JSON-escaped and cut to 64 characters', async () => {
      const long = 'k'.repeat(100);
      await expectAnswer(
        withCount('1', `,"${long}":1,"${long}":2`),
        400,
        duplicateKey(`"${'k'.repeat(64)}"`),
      );
      await expectAnswer(
        withCount('1', ',"a\\"b\\n\\u0000":1,"a\\"b\\n\\u0000":2'),
        400,
        duplicateKey('"a\\"b\\n\\u0000"'),
      );
    });

    test('equal keys in different objects are not duplicates', async () => {
      const res = await post(withCount('1', ',"x":{"a":1},"y":{"a":1}'));
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 0);
      assert.deepEqual(
        res.json().validationDetail.map((d: { field: string }) => d.field),
        ['x', 'y'],
      );
    });
  });

  describe('numbers', () => {
    for (const count of [
      '99.99999999999999999999',
      '9007199254740993',
      '1e-400',
      '1.00000000000000000001',
      '1e309',
      '-1e309',
    ]) {
      test(`count ${count} is refused as not exactly representable`, async () => {
        await expectAnswer(withCount(count), 400, inexact(count));
      });
    }

    test('a long number is quoted cut to 64 characters', async () => {
      const long = `1.${'0'.repeat(100)}1`;
      await expectAnswer(withCount(long), 400, inexact(long.slice(0, 64)));
      const huge = `1${'0'.repeat(400)}`;
      await expectAnswer(withCount('1', `,"x":${huge}`), 400, inexact(huge.slice(0, 64)));
    });

    test('an inexact number anywhere in the body is refused, not only in count', async () => {
      await expectAnswer(
        withCount('1', ',"x":[1,{"y":9007199254740993}]'),
        400,
        inexact('9007199254740993'),
      );
    });

    for (const count of ['1.0', '1.000', '1e0', '0.1e1', '10e-1', '1E+0']) {
      test(`count ${count}, exactly 1, allocates`, async () => {
        const res = await post(withCount(count));
        assert.equal(res.statusCode, 200, res.body);
      });
    }

    test('exact integers such as 1e2 and 100.000 reach schema validation as 100', async () => {
      for (const count of ['1e2', '100.000', '100']) {
        const res = await post(withCount(count).replace('"web-1"', '"-bad"'));
        assert.equal(res.statusCode, 400, count);
        // Only the name is wrong: count 100 is within the maximum.
        assert.deepEqual(
          res.json().validationDetail.map((d: { field: string }) => d.field),
          ['name'],
          count,
        );
      }
    });

    test('-0 is exact and left to schema validation (below the minimum)', async () => {
      const res = await post(withCount('-0'));
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, 0);
      assert.deepEqual(
        res
          .json()
          .validationDetail.map((d: { field: string; expression: string }) => [
            d.field,
            d.expression,
          ]),
        [['count', 'minimum']],
      );
    });

    test('non-integers, even rounded ones, are left to schema validation', async () => {
      for (const [count, originalValue] of [
        ['1.5', '1.5'],
        ['1.50000000000000000001', '1.5'],
      ] as const) {
        const res = await post(withCount(count));
        assert.equal(res.statusCode, 400, count);
        assert.deepEqual(
          res
            .json()
            .validationDetail.map((d: { expression: string; originalValue: string }) => [
              d.expression,
              d.originalValue,
            ]),
          [['type', originalValue]],
        );
      }
    });
  });

  describe('nesting', () => {
    const nested = (levels: number) =>
      withCount('1', `,"x":${'['.repeat(levels)}${']'.repeat(levels)}`);

    test('32 levels pass the reader; 33 are refused with 413', async () => {
      const atLimit = await post(nested(31));
      assert.equal(atLimit.statusCode, 400, atLimit.body);
      assert.equal(atLimit.json().code, 0);
      await expectAnswer(nested(32), 413, TOO_DEEP);
    });

    test('depth is answered before a duplicate key or an inexact number', async () => {
      await expectAnswer(
        withCount('1e400', `,"count":2,"x":${'{"a":'.repeat(40)}1${'}'.repeat(40)}`),
        413,
        TOO_DEEP,
      );
    });

    test('a deep array body is refused as too deep', async () => {
      await expectAnswer(`${'['.repeat(50_000)}${']'.repeat(50_000)}`, 413, TOO_DEEP);
    });
  });

  describe('order of the checks', () => {
    test('a duplicate key is answered before an inexact number', async () => {
      await expectAnswer(withCount('1e400', ',"count":2'), 400, duplicateKey('"count"'));
    });

    test('broken JSON is answered before what the scan would find', async () => {
      await expectAnswer(
        withCount('1', ',"count":2').slice(0, -1),
        400,
        unreadable('The request body is not valid JSON.'),
      );
    });

    test('prototype-poisoning keys are answered before duplicates', async () => {
      await expectAnswer(
        '{"__proto__":{},"a":1,"a":2}',
        400,
        unreadable('The request body must not contain __proto__ or constructor.prototype keys.'),
      );
    });

    test('encoding and charset are answered before a missing body', async () => {
      await expectAnswer(' ', 400, unreadable('The request body is missing.'));
      await expectAnswer('', 400, NOT_UTF8, { 'content-type': 'application/json; charset=latin1' });
      await expectAnswer(
        '',
        400,
        unreadable('Content-Encoding gzip is not supported; send the body uncompressed.'),
        { 'content-encoding': 'gzip' },
      );
    });
  });

  describe('charset and encoding', () => {
    for (const charset of ['utf-16', 'ISO-8859-1', '"latin1"', 'us-ascii', 'utf-8x', '']) {
      test(`charset=${charset} is refused`, async () => {
        await expectAnswer(JSON.stringify(allocateBody()), 400, NOT_UTF8, {
          'content-type': `application/json; charset=${charset}`,
        });
      });
    }

    for (const contentType of [
      'application/json; charset=utf-8',
      'application/json; charset=UTF-8',
      'application/json;charset=utf8',
      'application/json; charset="utf-8"',
      'Application/JSON; Charset=UTF8',
    ]) {
      test(`${contentType} is accepted`, async () => {
        const res = await post(JSON.stringify(allocateBody()), { 'content-type': contentType });
        assert.equal(res.statusCode, 200, res.body);
      });
    }

    for (const encoding of ['gzip', 'deflate', 'br', 'GZIP', 'gzip, identity']) {
      test(`Content-Encoding ${encoding} is refused`, async () => {
        await expectAnswer(
          JSON.stringify(allocateBody()),
          400,
          unreadable(`Content-Encoding ${encoding} is not supported; send the body uncompressed.`),
          { 'content-encoding': encoding },
        );
      });
    }

    test('Content-Encoding identity is accepted', async () => {
      for (const encoding of ['identity', 'Identity']) {
        const res = await post(JSON.stringify(allocateBody()), { 'content-encoding': encoding });
        assert.equal(res.statusCode, 200, res.body);
      }
    });

    test('invalid UTF-8 is refused, not replaced with U+FFFD', async () => {
      const json = (bytes: number[]) =>
        Buffer.concat([
          Buffer.from('{"idc":"test-east1","product":"eip.ipv4.test","count":1,"name":"web'),
          Buffer.from(bytes),
          Buffer.from('"}'),
        ]);
      for (const bytes of [
        [0xff],
        [0xc3, 0x28], // a lead byte without its continuation
        [0xc0, 0xaf], // an overlong encoding of "/"
        [0xed, 0xa0, 0x80], // an encoded UTF-16 surrogate
        [0xf4, 0x90, 0x80, 0x80], // beyond U+10FFFF
        [0x80], // a lone continuation byte
      ]) {
        await expectAnswer(json(bytes), 400, NOT_UTF8);
      }
      await expectAnswer(Buffer.from([0x7b, 0xe2, 0x82]), 400, NOT_UTF8);
    });

    test('valid UTF-8 reaches validation intact', async () => {
      const res = await post(Buffer.from(JSON.stringify(allocateBody({ name: 'wéb-😀' })), 'utf8'));
      assert.equal(res.statusCode, 400);
      assert.deepEqual(
        res.json().validationDetail.map((d: { originalValue: string }) => d.originalValue),
        ['"wéb-😀"'],
      );
    });

    test('one leading byte order mark is tolerated, a second is not JSON', async () => {
      const bom = Buffer.from([0xef, 0xbb, 0xbf]);
      const body = Buffer.from(JSON.stringify(allocateBody()));
      const once = await post(Buffer.concat([bom, body]));
      assert.equal(once.statusCode, 200, once.body);
      await expectAnswer(
        Buffer.concat([bom, bom, body]),
        400,
        unreadable('The request body is not valid JSON.'),
      );
    });
  });

  describe('large bodies', () => {
    const manyKeys = () => {
      const entries: string[] = [];
      let size = 0;
      for (let i = 0; size < 1000 * 1000; i++) {
        const entry = `"k${i}":${i}.5`;
        entries.push(entry);
        size += entry.length + 1;
      }
      return entries.join(',');
    };

    test('a body near 1 MiB with many keys is read and validated', async () => {
      const res = await post(withCount('1', `,"x":{${manyKeys()}}`));
      assert.equal(res.statusCode, 400, res.body.slice(0, 200));
      assert.equal(res.json().code, 0);
      assert.deepEqual(
        res.json().validationDetail.map((d: { field: string }) => d.field),
        ['x'],
      );
    });

    test('a duplicate at the end of such a body is found', async () => {
      await expectAnswer(withCount('1', `,"x":{${manyKeys()},"k0":1}`), 400, duplicateKey('"k0"'));
    });
  });

  test('a plain valid body still allocates', async () => {
    const res = await post(JSON.stringify(allocateBody({ count: 2 })));
    assert.equal(res.statusCode, 200, res.body);
  });
});
