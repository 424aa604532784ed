import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { initialFreeRanges, MAX_STRIPES } from '../../src/ipam/free-ranges.js';

describe('initialFreeRanges', () => {
  test('covers exactly the usable addresses minus reserved ones, in disjoint sorted stripes', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }),
        fc.bigInt({ min: 0n, max: 300n }),
        fc.array(fc.bigInt({ min: 0n, max: 300n }), { maxLength: 20 }),
        (first, span, offsets) => {
          const last = first + span;
          const reserved = offsets.map((o) => first + o);
          const ranges = initialFreeRanges(first, last, reserved);
          assert.ok(ranges.length <= MAX_STRIPES + reserved.length);
          const covered: bigint[] = [];
          let previousHi = first - 1n;
          for (const r of ranges) {
            assert.ok(r.lo <= r.hi && r.lo > previousHi, 'sorted, disjoint, non-empty');
            previousHi = r.hi;
            for (let a = r.lo; a <= r.hi; a++) covered.push(a);
          }
          const expected: bigint[] = [];
          const blocked = new Set(reserved);
          for (let a = first; a <= last; a++) if (!blocked.has(a)) expected.push(a);
          assert.deepEqual(covered, expected);
        },
      ),
    );
  });

  test('a /8 is a handful of rows, not one per address', () => {
    const ranges = initialFreeRanges(1n, 2n ** 24n - 2n, [5n]);
    assert.equal(ranges.length, MAX_STRIPES + 1);
  });

  test('an empty range gives nothing', () => {
    assert.deepEqual(initialFreeRanges(5n, 4n, []), []);
  });
});
