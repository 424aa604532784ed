/**
 * registerInstance and removeInstance (operator routes), on both engines: idempotent
 * registration, refused attribute changes, unknown IDCs, and removal that disassociates the
 * instance's EIPs with events in the same transaction.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'light-my-request';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

for (const backend of BACKENDS) {
  describe(`instances (${backend})`, () => {
    let t: TestApp;
    let ops: { authorization: string };
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
      ops = { authorization: `Bearer ${await t.operatorToken()}` };
    });
    after(() => t.close());

    const register = (
      id: string,
      body: Record<string, unknown>,
      headers = ops,
    ): Promise<Response> =>
      t.app.inject({ method: 'PUT', url: `/v1/admin/instances/${id}`, headers, payload: body });
    const remove = (id: string, headers = ops): Promise<Response> =>
      t.app.inject({ method: 'DELETE', url: `/v1/admin/instances/${id}`, headers });

    test('register answers the instance; the same registration again answers the same body', async () => {
      const id = randomUUID();
      const orgId = randomUUID();
      const body = { orgId: orgId.toUpperCase(), idc: 'test-east1', instanceType: 'baremetal' };
      const expected = { instanceID: id, orgId, idc: 'test-east1', instanceType: 'baremetal' };
      const first = await register(id.toUpperCase(), body);
      assert.equal(first.statusCode, 200, first.body);
      assert.deepEqual(first.json(), expected);
      const again = await register(id, body);
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(again.json(), expected);
    });

    test('registering an existing instance with other attributes is refused', async () => {
      const id = randomUUID();
      const orgId = randomUUID();
      assert.equal(
        (await register(id, { orgId, idc: 'test-east1', instanceType: 'container' })).statusCode,
        200,
      );
      for (const change of [
        { orgId: randomUUID(), idc: 'test-east1', instanceType: 'container' },
        { orgId, idc: 'test-west1', instanceType: 'container' },
        { orgId, idc: 'test-east1', instanceType: 'baremetal' },
      ]) {
        const res = await register(id, change);
        assert.equal(res.statusCode, 400, res.body);
        assert.deepEqual(res.json(), {
          code: 4008,
          reason: `instance ${id} is registered with orgId ${orgId}, idc test-east1, instanceType container; remove it before registering it with other attributes`,
        });
      }
      const [row] = await t.db.query<{ org_id: string; idc: string; type: string }>(
        'SELECT org_id, idc, type FROM instances WHERE id = $1',
        [id],
      );
      assert.deepEqual(row, { org_id: orgId, idc: 'test-east1', type: 'container' });
    });

    test('an unknown IDC is 404; a malformed body is 400; a non-uuid id is 404', async () => {
      const unknownIdc = await register(randomUUID(), {
        orgId: randomUUID(),
        idc: 'nowhere-1',
        instanceType: 'baremetal',
      });
      assert.equal(unknownIdc.statusCode, 404);
      assert.deepEqual(unknownIdc.json(), { code: 4041, reason: 'IDC nowhere-1 was not found' });

      const invalid = await register(randomUUID(), { orgId: 'x', idc: 'test-east1' });
      assert.equal(invalid.statusCode, 400);
      assert.equal(invalid.json().group, 'request');

      for (const res of [
        await register('not-a-uuid', {
          orgId: randomUUID(),
          idc: 'test-east1',
          instanceType: 'baremetal',
        }),
        await remove('not-a-uuid'),
      ]) {
        assert.equal(res.statusCode, 400, res.body);
        assert.deepEqual(res.json(), {
          group: 'request',
          code: 0,
          message: 'The path parameters are invalid; see validationDetail.',
          validationDetail: [
            {
              field: 'instanceID',
              expression: 'format',
              argument: 'uuid',
              originalValue: '"not-a-uuid"',
              reason: 'This field is not in the required format.',
            },
          ],
        });
      }
    });

    test('tenant tokens get 403 and anonymous callers 401 on the operator routes', async () => {
      const tenant = { authorization: `Bearer ${await t.token()}` };
      const body = { orgId: randomUUID(), idc: 'test-east1', instanceType: 'baremetal' };
      assert.equal((await register(randomUUID(), body, tenant)).statusCode, 403);
      assert.equal((await remove(randomUUID(), tenant)).statusCode, 403);
      const anonymous = await t.app.inject({
        method: 'DELETE',
        url: `/v1/admin/instances/${randomUUID()}`,
      });
      assert.equal(anonymous.statusCode, 401);
    });

    test('removing an unknown instance is 404', async () => {
      const id = randomUUID();
      const res = await remove(id);
      assert.equal(res.statusCode, 404);
      assert.deepEqual(res.json(), { code: 4046, reason: `instance ${id} was not found` });
    });

    test('removing an instance disassociates its EIPs, one event each, and answers the instance', async () => {
      const orgId = randomUUID();
      const tenant = { authorization: `Bearer ${await t.token(orgId)}` };
      const x = randomUUID();
      const y = randomUUID();
      for (const id of [x, y]) {
        assert.equal(
          (await register(id, { orgId, idc: 'test-east1', instanceType: 'container' })).statusCode,
          200,
        );
      }
      const allocated = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: tenant,
        payload: { idc: 'test-east1', product: 'eip.ipv4.test', name: 'rm', count: 3 },
      });
      assert.equal(allocated.statusCode, 200, allocated.body);
      const ids = (allocated.json() as { id: string }[]).map((e) => e.id);
      const [a, b, c] = ids;
      assert.ok(a !== undefined && b !== undefined && c !== undefined);
      for (const [eip, instance] of [
        [a, x],
        [b, x],
        [c, y],
      ] as const) {
        const res = await t.app.inject({
          method: 'POST',
          url: `/v1/elastic-ips/${eip}/associate`,
          headers: tenant,
          payload: { instanceID: instance, instanceType: 'container' },
        });
        assert.equal(res.statusCode, 200, res.body);
      }

      const removed = await remove(x);
      assert.equal(removed.statusCode, 200, removed.body);
      assert.deepEqual(removed.json(), {
        instanceID: x,
        orgId,
        idc: 'test-east1',
        instanceType: 'container',
      });

      const rows = await t.db.query<{
        id: string;
        status: string;
        instance_id: string | null;
        instance_type: string | null;
      }>(
        'SELECT id, status, instance_id, instance_type FROM elastic_ips WHERE id = ANY($1::uuid[]) ORDER BY id',
        [ids],
      );
      const byId = new Map(rows.map((r) => [r.id, r]));
      assert.deepEqual(byId.get(a), {
        id: a,
        status: 'disassociated',
        instance_id: null,
        instance_type: null,
      });
      assert.deepEqual(byId.get(b), {
        id: b,
        status: 'disassociated',
        instance_id: null,
        instance_type: null,
      });
      assert.deepEqual(byId.get(c), {
        id: c,
        status: 'associated',
        instance_id: y,
        instance_type: 'container',
      });
      const events = await t.db.query<{
        eip_id: string;
        actor: string;
        instance_id: string;
        instance_type: string;
      }>(
        `SELECT eip_id, actor, instance_id, instance_type FROM eip_events
         WHERE type = 'disassociated' AND eip_id = ANY($1::uuid[]) ORDER BY eip_id`,
        [ids],
      );
      assert.deepEqual(
        events,
        [a, b].sort().map((eip) => ({
          eip_id: eip,
          actor: 'ops',
          instance_id: x,
          instance_type: 'container',
        })),
      );

      // Gone from the directory: removing again is 404, associating to it too.
      assert.equal((await remove(x)).statusCode, 404);
      const late = await t.app.inject({
        method: 'POST',
        url: `/v1/elastic-ips/${a}/associate`,
        headers: tenant,
        payload: { instanceID: x, instanceType: 'container' },
      });
      assert.equal(late.statusCode, 404);
      assert.equal(late.json().code, 4046);
    });
  });
}
