/**
 * Every change records who made it: tenants' changes to their EIPs are events (listEvents) with
 * the token's `sub` as actor, and so are the disassociations an operator's instance removal
 * causes; operators' other changes (instances, pools, quotas) are in listOperatorActions with
 * theirs. Calls that change nothing record nothing.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { mintToken } from '../../src/auth/tokens.js';
import {
  allocateBody,
  BASIC_CATALOG,
  startTestApp,
  TEST_SECRET,
  type TestApp,
} from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

type Event = { type: string; eipId: string; actor: string | null };
type Action = {
  seq: string;
  action: string;
  actor: string | null;
  target: string;
  detail: Record<string, unknown>;
  occurredAt: string;
};

for (const backend of BACKENDS) {
  describe(`actors in history (${backend})`, () => {
    let t: TestApp;
    let carol: string;
    let dave: string;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
      const operator = (subject: string) =>
        mintToken({ secret: TEST_SECRET, scope: 'eip:admin', subject, ttlSeconds: 600 });
      carol = await operator('carol@ops');
      dave = await operator('dave@ops');
    });
    after(async () => t?.close());

    async function call(
      token: string,
      method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
      url: string,
      payload?: unknown,
    ) {
      const res = await t.app.inject({
        method,
        url,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }),
      });
      assert.equal(res.statusCode, 200, `${method} ${url}: ${res.body}`);
      return res.json() as unknown;
    }

    async function events(eipId: string): Promise<Array<[string, string | null]>> {
      const page = (await call(carol, 'GET', '/v1/admin/events?limit=1000')) as { events: Event[] };
      return page.events.filter((e) => e.eipId === eipId).map((e) => [e.type, e.actor]);
    }

    async function actions(since: string): Promise<Action[]> {
      const page = (await call(
        carol,
        'GET',
        `/v1/admin/operator-actions?limit=1000${since === '' ? '' : `&cursor=${since}`}`,
      )) as { actions: Action[]; cursor: string };
      return page.actions;
    }

    async function cursorNow(): Promise<string> {
      return (
        (await call(carol, 'GET', '/v1/admin/operator-actions?limit=1000')) as { cursor: string }
      ).cursor;
    }

    test("tenants' changes carry their token's sub; an instance removal carries the operator's", async () => {
      const orgId = randomUUID();
      const alice = await t.token(orgId, { subject: 'alice' });
      const bob = await t.token(orgId, { subject: 'bob' });
      const instance = randomUUID();
      await call(dave, 'PUT', `/v1/admin/instances/${instance}`, {
        orgId,
        idc: 'test-east1',
        instanceType: 'baremetal',
      });
      const [{ id }] = (await call(alice, 'POST', '/v1/elastic-ips', allocateBody())) as [
        { id: string },
      ];
      await call(bob, 'PATCH', `/v1/elastic-ips/${id}`, { name: 'renamed' });
      await call(alice, 'POST', `/v1/elastic-ips/${id}/associate`, {
        instanceID: instance,
        instanceType: 'baremetal',
      });
      await call(bob, 'POST', `/v1/elastic-ips/${id}/disassociate`);
      await call(alice, 'POST', `/v1/elastic-ips/${id}/associate`, {
        instanceID: instance,
        instanceType: 'baremetal',
      });
      await call(carol, 'DELETE', `/v1/admin/instances/${instance}`);
      await call(bob, 'DELETE', `/v1/elastic-ips/${id}`);
      assert.deepEqual(await events(id), [
        ['allocated', 'alice'],
        ['renamed', 'bob'],
        ['associated', 'alice'],
        ['disassociated', 'bob'],
        ['associated', 'alice'],
        ['disassociated', 'carol@ops'],
        ['released', 'bob'],
      ]);
    });

    test("operators' changes to instances, pools and quotas are listed with their actor", async () => {
      const since = await cursorNow();
      const orgId = randomUUID();
      const instance = randomUUID();
      const registration = { orgId, idc: 'test-west1', instanceType: 'container' };
      await call(carol, 'PUT', `/v1/admin/instances/${instance}`, registration);
      // The same registration again changes nothing and records nothing.
      await call(dave, 'PUT', `/v1/admin/instances/${instance}`, registration);
      await call(dave, 'PATCH', '/v1/admin/pools/west-v4', { enabled: false });
      await call(carol, 'PATCH', '/v1/admin/pools/west-v4', { enabled: false });
      await call(carol, 'PATCH', '/v1/admin/pools/west-v4', { enabled: true });
      await call(dave, 'PUT', `/v1/admin/organizations/${orgId}/quotas/test-west1`, { limit: 7 });
      await call(carol, 'PUT', `/v1/admin/organizations/${orgId}/quotas/test-west1`, { limit: 7 });
      await call(carol, 'DELETE', `/v1/admin/organizations/${orgId}/quotas/test-west1`);
      await call(dave, 'DELETE', `/v1/admin/organizations/${orgId}/quotas/test-west1`);
      await call(dave, 'DELETE', `/v1/admin/instances/${instance}`);

      const listed = await actions(since);
      assert.deepEqual(
        listed.map((a) => [a.action, a.actor, a.target, a.detail]),
        [
          ['instance_registered', 'carol@ops', instance, registration],
          ['pool_updated', 'dave@ops', 'west-v4', { enabled: false }],
          ['pool_updated', 'carol@ops', 'west-v4', { enabled: true }],
          ['quota_set', 'dave@ops', `${orgId}/test-west1`, { orgId, idc: 'test-west1', limit: 7 }],
          [
            'quota_override_removed',
            'carol@ops',
            `${orgId}/test-west1`,
            { orgId, idc: 'test-west1' },
          ],
          ['instance_removed', 'dave@ops', instance, { ...registration, disassociated: 0 }],
        ],
      );
      for (const a of listed) assert.ok(!Number.isNaN(Date.parse(a.occurredAt)));
      // Paging: one at a time, the cursor moves through the same list.
      const first = (await call(
        carol,
        'GET',
        `/v1/admin/operator-actions?limit=1&cursor=${since}`,
      )) as {
        actions: Action[];
        cursor: string;
      };
      assert.deepEqual(first.actions, listed.slice(0, 1));
      const rest = await actions(first.cursor);
      assert.deepEqual(rest, listed.slice(1));
    });

    test('paging follows seq as a number: every action once, 9 before 10', async () => {
      // Enough actions that seqs reach two digits, whatever the tests above recorded.
      for (let i = 0; i < 12; i++) {
        await call(dave, 'PATCH', '/v1/admin/pools/west-v4', { enabled: i % 2 === 1 });
      }
      const all = (await actions('')).map((a) => BigInt(a.seq));
      assert.ok(all.length >= 12 && all.some((seq) => seq >= 10n), `seqs ${all.join(',')}`);
      const paged: bigint[] = [];
      let cursor = '';
      for (;;) {
        const page = (await call(
          carol,
          'GET',
          `/v1/admin/operator-actions?limit=2${cursor === '' ? '' : `&cursor=${cursor}`}`,
        )) as { actions: Action[]; cursor: string };
        if (page.actions.length === 0) break;
        paged.push(...page.actions.map((a) => BigInt(a.seq)));
        cursor = page.cursor;
      }
      const ascending = [...all].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(paged, ascending, 'pages of 2 list every action once, in numeric order');
      assert.deepEqual(all, ascending, 'one page is in numeric order');
    });

    test('the history is for operators only, and a bad cursor is a 400', async () => {
      const tenant = await t.token();
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/admin/operator-actions',
        headers: { authorization: `Bearer ${tenant}` },
      });
      assert.equal(res.statusCode, 403);
      const bad = await t.app.inject({
        method: 'GET',
        url: '/v1/admin/operator-actions?cursor=nonsense',
        headers: { authorization: `Bearer ${carol}` },
      });
      assert.equal(bad.statusCode, 400);
      assert.equal((bad.json() as { code: number }).code, 4007);
      // Well formed, but past the newest action: it would read nothing, forever.
      const ahead = await t.app.inject({
        method: 'GET',
        url: `/v1/admin/operator-actions?cursor=${Buffer.from('{"s":"1000000"}').toString('base64url')}`,
        headers: { authorization: `Bearer ${carol}` },
      });
      assert.equal(ahead.statusCode, 400, ahead.body);
      assert.equal((ahead.json() as { code: number }).code, 4007);
    });
  });
}
