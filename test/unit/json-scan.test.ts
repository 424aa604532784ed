/**
 * scanJson and isExactNumber: the second pass over JSON text that finds deep nesting, duplicate
 * keys and numbers JSON.parse cannot read exactly.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { isExactNumber, scanJson } from '../../src/http/json-scan.js';

const LIMIT = 32;
const scan = (text: string, maxDepth = LIMIT) => {
  // Every input here is valid JSON, as the scanner requires.
  JSON.parse(text);
  return scanJson(text, maxDepth);
};

describe('scanJson depth', () => {
  test('counts open objects and arrays, not scalars', () => {
    assert.deepEqual(scan('1'), { depth: 0, problem: undefined });
    assert.deepEqual(scan('"[{"'), { depth: 0, problem: undefined });
    assert.deepEqual(scan('{}'), { depth: 1, problem: undefined });
    assert.deepEqual(scan('{"a":[1,{"b":[]}],"c":{}}'), { depth: 4, problem: undefined });
    assert.deepEqual(scan('[[],[[]],[]]'), { depth: 3, problem: undefined });
    assert.deepEqual(scan('{"a\\"[":"]\\\\","b":"{{"}'), { depth: 1, problem: undefined });
  });

  test('refuses nesting past the limit, and stops there', () => {
    const at = `${'['.repeat(LIMIT)}${']'.repeat(LIMIT)}`;
    assert.deepEqual(scan(at), { depth: LIMIT, problem: undefined });
    const over = `{"a":${'['.repeat(LIMIT)}${']'.repeat(LIMIT)}}`;
    assert.deepEqual(scan(over), { depth: LIMIT + 1, problem: { kind: 'too-deep' } });
    const hostile = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    assert.deepEqual(scan(hostile), { depth: LIMIT + 1, problem: { kind: 'too-deep' } });
  });

  test('depth comes before duplicates and numbers, wherever they are', () => {
    const text = `{"a":1,"a":1e400,"b":${'['.repeat(40)}${']'.repeat(40)}}`;
    assert.deepEqual(scan(text).problem, { kind: 'too-deep' });
  });
});

describe('scanJson duplicate keys', () => {
  const duplicate = (text: string) => {
    const { problem } = scan(text);
    return problem?.kind === 'duplicate-key' ? problem.key : undefined;
  };

  test('finds a duplicate at any depth, comparing decoded keys', () => {
    assert.equal(duplicate('{"count":1,"count":2}'), 'count');
    assert.equal(duplicate('{"count":1,"\\u0063ount":2}'), 'count');
    assert.equal(duplicate('{"a\\/b":1,"a/b":2}'), 'a/b');
    assert.equal(duplicate('{"x":[{"y":{"k":1,"k":{}}}]}'), 'k');
    assert.equal(duplicate('{"":1,"":2}'), '');
    assert.equal(duplicate('{"\\"":1,"\\u0022":2}'), '"');
    assert.equal(duplicate('{"😀":1,"\\ud83d\\ude00":2}'), '😀');
  });

  test('keys of different objects, values and array items are not duplicates', () => {
    for (const text of [
      '{"a":{"a":1},"b":{"a":1}}',
      '{"a":"a","b":"a"}',
      '[{"a":1},{"a":1}]',
      '["a","a"]',
      '{"a":[{"b":1}],"b":[{"a":1}]}',
      '{"Count":1,"count":2}',
      '{"a\\\\":1,"a":2}',
    ]) {
      assert.deepEqual(scan(text).problem, undefined, text);
    }
  });

  test('reports the first duplicate in the text, before any inexact number', () => {
    assert.equal(duplicate('{"n":1e400,"b":{"c":1,"c":2},"a":1,"a":2}'), 'c');
  });
});

describe('isExactNumber', () => {
  test('refuses numbers read as an integer they are not', () => {
    for (const token of [
      '99.99999999999999999999',
      '9007199254740993',
      '-9007199254740993',
      '1e-400',
      '-1e-400',
      '1.00000000000000000001',
      '1e309',
      '-1e309',
      '123456789012345678901234567890',
      `1${'0'.repeat(400)}`,
      `0.${'0'.repeat(500_000)}1`,
      `1e-${'0'.repeat(100)}400`,
      '1e23',
      '1e1000000000000000000000',
      '1.7976931348623157e308',
      '18014398509481985',
    ]) {
      assert.equal(isExactNumber(token), false, token.slice(0, 80));
    }
  });

  test('accepts exact integers however written, and leaves non-integers alone', () => {
    for (const token of [
      '0',
      '-0',
      '0.000',
      '-0.0e-999999',
      '0e99999999999999999',
      '1.0',
      '1e2',
      '100.000',
      '1E+2',
      '10000e-2',
      '0.1e1',
      '9007199254740992',
      '9007199254740992e0',
      '18014398509481984',
      '1e21',
      '1e22',
      BigInt(Number.MAX_VALUE).toString(),
      `-${BigInt(Number.MAX_VALUE)}.000e0`,
      '1.5',
      '0.1',
      '1.00000000000000001e-5',
      '1e-7',
    ]) {
      assert.equal(isExactNumber(token), true, token.slice(0, 80));
    }
  });

  test('agrees with a plain BigInt reference on integers near 2^53 and beyond', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), (n) => {
        assert.equal(isExactNumber(n.toString()), BigInt(Number(n)) === n);
      }),
    );
  });

  test('accepts every integer double written exactly, with any point and exponent', () => {
    const written = fc
      .record({
        value: fc.double({ noNaN: true, noDefaultInfinity: true }).filter(Number.isInteger),
        point: fc.nat(),
        zeros: fc.nat({ max: 3 }),
      })
      .map(({ value, point, zeros }) => {
        const digits = (value < 0 ? -BigInt(value) : BigInt(value)).toString();
        // digits = whole.fraction × 10^(fraction length), zeros appended to the fraction.
        const split = point % (digits.length + 1);
        const whole = digits.slice(0, split) || '0';
        const fraction = `${digits.slice(split)}${'0'.repeat(zeros)}`;
        const sign = value < 0 || Object.is(value, -0) ? '-' : '';
        return `${sign}${whole}.${fraction || '0'}e${digits.length - split}`;
      });
    fc.assert(
      fc.property(written, (token) => assert.equal(isExactNumber(token), true, token)),
      { numRuns: 1000 },
    );
  });

  test('agrees with the definition on random decimal tokens', () => {
    const token = fc
      .record({
        negative: fc.boolean(),
        whole: fc.stringMatching(/^(0|[1-9]\d{0,24})$/),
        fraction: fc.option(fc.stringMatching(/^\d{1,25}$/), { nil: undefined }),
        exponent: fc.option(fc.integer({ min: -340, max: 340 }), { nil: undefined }),
      })
      .map(({ negative, whole, fraction, exponent }) => ({
        text: `${negative ? '-' : ''}${whole}${fraction === undefined ? '' : `.${fraction}`}${exponent === undefined ? '' : `e${exponent}`}`,
        digits: `${whole}${fraction ?? ''}`,
        scale: (exponent ?? 0) - (fraction?.length ?? 0),
      }));
    fc.assert(
      fc.property(token, ({ text, digits, scale }) => {
        const value = Number(text);
        // The written value is ±digits × 10^scale: exact iff read as that very number.
        let expected: boolean;
        if (!Number.isFinite(value)) expected = false;
        else if (!Number.isInteger(value)) expected = true;
        else {
          const magnitude = BigInt(digits);
          const target = BigInt(value) < 0n ? -BigInt(value) : BigInt(value);
          expected =
            scale >= 0
              ? magnitude * 10n ** BigInt(scale) === target
              : magnitude === target * 10n ** BigInt(-scale);
        }
        assert.equal(isExactNumber(text), expected, text);
        // The scanner skips short tokens without an exponent: it must still agree.
        const { problem } = scanJson(`[${text}]`, 1);
        assert.deepEqual(problem, expected ? undefined : { kind: 'inexact-number', token: text });
      }),
      { numRuns: 2000 },
    );
  });
});

describe('scanJson numbers', () => {
  test('reports the first inexact number token, anywhere in the text', () => {
    assert.deepEqual(scan('{"a":[1,2.5,1e-400,1e400]}').problem, {
      kind: 'inexact-number',
      token: '1e-400',
    });
    assert.deepEqual(scan('-1e309').problem, { kind: 'inexact-number', token: '-1e309' });
    assert.deepEqual(scan('{"a":1.0,"b":-0,"c":1e2,"d":"1e400"}').problem, undefined);
  });
});

/** A JSON value with distinct keys, exact numbers and, sometimes, keys needing escapes. */
const { value: jsonValue } = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant(null),
    fc.boolean(),
    fc.maxSafeInteger(),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.string({ unit: 'grapheme-composite', maxLength: 8 }),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), tie('value'), {
      maxKeys: 5,
      noNullPrototype: true,
    }),
  ),
}));

function referenceDepth(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Object.values(value);
  return (
    1 + children.reduce((deepest: number, child) => Math.max(deepest, referenceDepth(child)), 0)
  );
}

/** Every UTF-16 unit of a key as a \u escape: decoding, not text, must find the duplicate. */
function escapedKey(key: string): string {
  return `"${Array.from({ length: key.length }, (_, i) => `\\u${key.charCodeAt(i).toString(16).padStart(4, '0')}`).join('')}"`;
}

describe('scanJson properties', () => {
  test('accepts generated JSON and finds the depth a recursive walk finds', () => {
    fc.assert(
      fc.property(jsonValue, fc.integer({ min: 0, max: 3 }), (value, indent) => {
        const text = JSON.stringify(value, null, indent);
        assert.deepEqual(scanJson(text, 1000), {
          depth: referenceDepth(value),
          problem: undefined,
        });
      }),
      { numRuns: 500 },
    );
  });

  test('reports a key injected twice into an object, at any depth', () => {
    const withDuplicate = fc
      .record({
        object: fc.dictionary(fc.string({ unit: 'binary', maxLength: 6 }), jsonValue, {
          minKeys: 1,
          maxKeys: 5,
          noNullPrototype: true,
        }),
        pick: fc.nat(),
        escaped: fc.boolean(),
        wrappers: fc.array(fc.constantFrom('array', 'object'), { maxLength: 4 }),
      })
      .map(({ object, pick, escaped, wrappers }) => {
        const keys = Object.keys(object);
        const key = keys[pick % keys.length] ?? '';
        const copy = escaped ? escapedKey(key) : JSON.stringify(key);
        let text = `{${copy}:0,${JSON.stringify(object).slice(1)}`;
        for (const wrapper of wrappers)
          text = wrapper === 'array' ? `[1,${text}]` : `{"w":${text}}`;
        return { text, key };
      });
    fc.assert(
      fc.property(withDuplicate, ({ text, key }) => {
        assert.deepEqual(scanJson(text, 1000).problem, { kind: 'duplicate-key', key });
      }),
      { numRuns: 500 },
    );
  });
});

describe('scanJson on large text', () => {
  test('handles a 1 MiB object of many keys and finds a duplicate at its very end', () => {
    const entries: string[] = [];
    for (let i = 0; entries.length * 12 < 1024 * 1024; i++) entries.push(`"k${i}":${i}.5`);
    const text = `{${entries.join(',')}}`;
    assert.deepEqual(scanJson(text, LIMIT), { depth: 1, problem: undefined });
    const last = `{${entries.join(',')},"k0":1}`;
    assert.deepEqual(scanJson(last, LIMIT).problem, { kind: 'duplicate-key', key: 'k0' });
  });

  test('handles long strings full of escapes and long digit runs', () => {
    const text = `{"a":"${'\\\\\\"'.repeat(100_000)}","b":${'9'.repeat(200_000)}}`;
    assert.deepEqual(scan(text).problem, {
      kind: 'inexact-number',
      token: '9'.repeat(200_000),
    });
    assert.deepEqual(scan(`[1${'0'.repeat(300_000)}e-300000]`).problem, undefined);
    const almostOne = `1${'0'.repeat(300_000)}1e-300001`;
    assert.deepEqual(scan(`[${almostOne}]`).problem, { kind: 'inexact-number', token: almostOne });
  });
});
