/**
 * Retention: events and idempotency keys past their age are pruned; a stream reader whose cursor
 * is behind the pruned part is told so instead of silently missing events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pruneOnce } from '../../src/maintenance/retention.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const CATALOG = `
idcs: [{ name: r-east }]
products:
  - { name: eip.r, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: r-v4, idc: r-east, cidr: 203.0.113.0/24, products: [eip.r] }
`;
const SETTINGS = { eventRetentionDays: 30, idempotencyRetentionHours: 24 };

for (const backend of BACKENDS) {
  describe(`retention (${backend})`, () => {
    let t: TestApp;
    let operator: string;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
      operator = await t.operatorToken();
    });
    after(() => t.close());

    const allocate = async (orgId: string, key: string, count: number) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${await t.token(orgId)}`, 'idempotency-key': key },
        payload: { idc: 'r-east', product: 'eip.r', name: 'r', count },
      });
      assert.equal(res.statusCode, 200, res.body);
      return res;
    };
    const events = async (cursor?: string) =>
      t.app.inject({
        method: 'GET',
        url: `/v1/admin/events?limit=1000${cursor === undefined ? '' : `&cursor=${cursor}`}`,
        headers: { authorization: `Bearer ${operator}` },
      });

    test('old events go as a prefix of the stream; a cursor behind it is refused', async () => {
      const org = randomUUID();
      await allocate(org, 'old-1', 3);
      const early = (await events()).json() as { cursor: string };
      await allocate(org, 'old-2', 2);
      const middle = (await events()).json() as { cursor: string; events: { seq: string }[] };
      await allocate(org, 'new', 1);
      // The first five events (two allocations) are 31 days old.
      await t.db.query(
        `UPDATE eip_events SET occurred_at = occurred_at - interval '31 days'
          WHERE seq IN (SELECT seq FROM eip_events ORDER BY tx_id, seq LIMIT 5)`,
      );
      // Small batches, so that the loop over batches is exercised too.
      const outcome = await pruneOnce(t.db, SETTINGS, 2);
      assert.deepEqual(outcome, { events: 5, idempotencyKeys: 0, ran: true });
      const left = (await events()).json() as { events: { seq: string }[] };
      assert.equal(left.events.length, 1);

      const stale = await events(early.cursor);
      assert.equal(stale.statusCode, 400);
      assert.deepEqual(stale.json(), {
        code: 4011,
        reason:
          'events after this cursor were pruned (retention); resynchronize from GET /v1/admin/associations and follow its cursor',
      });
      // A reader that had read everything pruned continues as if nothing happened.
      const current = await events(middle.cursor);
      assert.equal(current.statusCode, 200, current.body);
      assert.deepEqual(current.json().events, left.events);
      // Nothing more is old: a second run prunes nothing.
      assert.deepEqual(await pruneOnce(t.db, SETTINGS), {
        events: 0,
        idempotencyKeys: 0,
        ran: true,
      });
    });

    test('an old event after a young one stays until the young one is old too', async () => {
      await t.db.query('DELETE FROM eip_events');
      const org = randomUUID();
      await allocate(org, 'a', 1);
      await allocate(org, 'b', 1);
      await t.db.query(
        `UPDATE eip_events SET occurred_at = occurred_at - interval '40 days'
          WHERE seq = (SELECT max(seq) FROM eip_events)`,
      );
      assert.equal((await pruneOnce(t.db, SETTINGS)).events, 0);
    });

    test('idempotency keys past retention are pruned, younger ones kept and still replayed', async () => {
      const org = randomUUID();
      await allocate(org, 'stale', 1);
      const young = await allocate(org, 'young', 1);
      await t.db.query(
        `UPDATE idempotency_keys SET created_at = created_at - interval '25 hours'
          WHERE org_id = $1 AND key = 'stale'`,
        [org],
      );
      const outcome = await pruneOnce(t.db, SETTINGS);
      assert.equal(outcome.idempotencyKeys, 1);
      const keys = await t.db.query<{ key: string }>(
        'SELECT key FROM idempotency_keys WHERE org_id = $1',
        [org],
      );
      assert.deepEqual(keys, [{ key: 'young' }]);
      const replay = await allocate(org, 'young', 1);
      assert.deepEqual(replay.json(), young.json());
    });
  });
}
