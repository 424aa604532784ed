import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isStorableDateTime } from '../../src/timestamps.js';

describe('storable date-times', () => {
  test('accepts RFC 3339 instants PostgreSQL can store', () => {
    for (const t of [
      '2024-01-01T00:00:00Z',
      '2024-02-29T23:59:59.123456+15:59',
      '0001-01-01T00:00:00Z',
    ]) {
      assert.equal(isStorableDateTime(t), true, t);
    }
  });
  test('refuses what PostgreSQL cannot store or would silently change', () => {
    for (const t of [
      '0000-01-01T00:00:00Z',
      '2024-01-01T00:00:00-20:00',
      '2023-02-29T00:00:00Z',
      '2024-02-31T00:00:00Z',
      '2024-01-01T00:00:60Z',
      '2024-01-01T24:00:00Z',
      '2024-01-01 00:00:00Z',
      '2024-01-01T00:00:00',
    ]) {
      assert.equal(isStorableDateTime(t), false, t);
    }
  });
});
