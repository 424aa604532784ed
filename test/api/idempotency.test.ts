/**
 * Idempotency-Key on allocate (contract rule 9; field case C11 on one process). The parallel and
 * dropped-connection parts of C11, across processes, are in test/pg/c11-idempotency.test.ts.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { canonicalJson } from '../../src/elastic-ips/idempotency.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const CATALOG = `
idcs: [{ name: k-east }]
products:
  - { name: eip.k, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.small, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: k-v4, idc: k-east, cidr: 203.0.113.0/24, products: [eip.k] }
  - { name: k-small, idc: k-east, cidr: 192.0.2.8/31, products: [eip.small] }
quotas:
  default: 6
`;

const REUSED = 4010;

describe('canonical JSON', () => {
  test('key order and spacing do not matter; values and nesting do', () => {
    assert.equal(canonicalJson({ b: 1, a: [{ d: 2, c: 'x' }] }), '{"a":[{"c":"x","d":2}],"b":1}');
    assert.equal(canonicalJson({ a: 1, b: 2 }), canonicalJson({ b: 2, a: 1 }));
    assert.notEqual(canonicalJson({ a: 1 }), canonicalJson({ a: '1' }));
    assert.notEqual(canonicalJson([1, 2]), canonicalJson([2, 1]));
  });
});

for (const backend of BACKENDS) {
  describe(`Idempotency-Key (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
    });
    after(() => t.close());

    const body = (overrides: Record<string, unknown> = {}) => ({
      idc: 'k-east',
      product: 'eip.k',
      name: 'web',
      count: 2,
      ...overrides,
    });
    const allocate = async (
      orgId: string,
      key: string | undefined,
      payload: Record<string, unknown> | string,
    ) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: {
          authorization: `Bearer ${await t.token(orgId)}`,
          'content-type': 'application/json',
          ...(key === undefined ? {} : { 'idempotency-key': key }),
        },
        payload: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });
    const held = async (orgId: string) => {
      const [row] = await t.db.query<{ eips: number; events: number }>(
        `SELECT (SELECT count(*)::int FROM elastic_ips WHERE org_id = $1) AS eips,
                (SELECT count(*)::int FROM eip_events WHERE org_id = $1) AS events`,
        [orgId],
      );
      return row;
    };

    test('C11: a retry with the key answers the same ids and allocates nothing more', async () => {
      const org = randomUUID();
      const first = await allocate(org, 'K', body());
      assert.equal(first.statusCode, 200, first.body);
      assert.equal(first.headers['idempotent-replayed'], undefined);
      const again = await allocate(org, 'K', body());
      assert.equal(again.statusCode, 200, again.body);
      assert.equal(again.headers['idempotent-replayed'], 'true');
      assert.deepEqual(again.json(), first.json());
      assert.deepEqual(await held(org), { eips: 2, events: 2 });
      // The same body in another spelling is the same request.
      const spelled = await allocate(
        org,
        'K',
        '{ "count": 2, "name": "web", "product": "eip.k", "idc": "k-east" }',
      );
      assert.deepEqual(spelled.json(), first.json());
    });

    test('C11: the key with another body is refused and allocates nothing', async () => {
      const org = randomUUID();
      await allocate(org, 'K', body());
      const other = await allocate(org, 'K', body({ count: 3 }));
      assert.equal(other.statusCode, 400);
      assert.deepEqual(other.json(), {
        code: REUSED,
        reason:
          'Idempotency-Key "K" was already used with a different request body in the last 24 hours; use a new key for a new request',
      });
      assert.deepEqual(await held(org), { eips: 2, events: 2 });
    });

    test('keys belong to one organization', async () => {
      const [a, b] = [randomUUID(), randomUUID()];
      const first = await allocate(a, 'shared', body());
      const second = await allocate(b, 'shared', body());
      assert.equal(second.statusCode, 200);
      assert.equal(second.headers['idempotent-replayed'], undefined);
      assert.notDeepEqual(second.json(), first.json());
    });

    test('a replay is answered even when the quota is now used up', async () => {
      const org = randomUUID();
      const first = await allocate(org, 'fill', body({ count: 6 }));
      assert.equal(first.statusCode, 200, first.body);
      const again = await allocate(org, 'fill', body({ count: 6 }));
      assert.deepEqual(again.json(), first.json());
    });

    test('refusals are not stored: the same key succeeds once the cause is gone', async () => {
      const org = randomUUID();
      const busy = randomUUID();
      const taken = await allocate(busy, undefined, body({ product: 'eip.small', count: 2 }));
      assert.equal(taken.statusCode, 200, taken.body);
      const exhausted = await allocate(org, 'retry-me', body({ product: 'eip.small', count: 1 }));
      assert.equal(exhausted.statusCode, 503);
      assert.equal(exhausted.json().code, 5031);
      const invalid = await allocate(org, 'retry-me', body({ count: 0 }));
      assert.equal(invalid.statusCode, 400);
      const [first] = taken.json() as { id: string }[];
      const release = await t.app.inject({
        method: 'DELETE',
        url: `/v1/elastic-ips/${first?.id}`,
        headers: { authorization: `Bearer ${await t.token(busy)}` },
      });
      assert.equal(release.statusCode, 200);
      // Quarantine keeps the released address from another organization; drop it for the test.
      await t.db.query(`UPDATE released_addresses SET released_at = now() - interval '2 days'`);
      const retried = await allocate(org, 'retry-me', body({ product: 'eip.small', count: 1 }));
      assert.equal(retried.statusCode, 200, retried.body);
      assert.equal(retried.headers['idempotent-replayed'], undefined);
    });

    test('after 24 hours the key is free for a new request', async () => {
      const org = randomUUID();
      const first = await allocate(org, 'daily', body());
      await t.db.query(
        `UPDATE idempotency_keys SET created_at = created_at - interval '24 hours 1 second'
          WHERE org_id = $1`,
        [org],
      );
      const next = await allocate(org, 'daily', body({ count: 1 }));
      assert.equal(next.statusCode, 200, next.body);
      assert.equal(next.headers['idempotent-replayed'], undefined);
      assert.notDeepEqual(next.json(), first.json());
      const replay = await allocate(org, 'daily', body({ count: 1 }));
      assert.deepEqual(replay.json(), next.json());
    });

    test('a malformed key is a validation error naming the header', async () => {
      const org = randomUUID();
      const cases: [string, string, string][] = [
        ['', 'minLength', '1'],
        ['x'.repeat(256), 'maxLength', '255'],
        ['has space', 'pattern', '^[\\x21-\\x7e]+$'],
        ['caf\u00e9', 'pattern', '^[\\x21-\\x7e]+$'],
      ];
      for (const [key, expression, argument] of cases) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/elastic-ips',
          headers: {
            authorization: `Bearer ${await t.token(org)}`,
            'content-type': 'application/json',
            'idempotency-key': Buffer.from(key, 'utf8').toString('latin1'),
          },
          payload: JSON.stringify(body()),
        });
        assert.equal(res.statusCode, 400, `${JSON.stringify(key)}: ${res.body}`);
        const answer = res.json();
        assert.equal(answer.message, 'The request headers are invalid; see validationDetail.');
        const details = answer.validationDetail as { field: string; expression: string }[];
        assert.ok(
          details.every((d) => d.field === 'Idempotency-Key'),
          res.body,
        );
        const [detail] = details;
        assert.equal(detail?.expression, expression, res.body);
        assert.equal((detail as { argument?: string }).argument, argument);
      }
      assert.deepEqual(await held(org), { eips: 0, events: 0 });
    });

    test('a bad body and a bad key are both reported as validation errors', async () => {
      const res = await allocate(randomUUID(), 'has space', body({ count: 'two' }));
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().group, 'request');
    });
  });
}
