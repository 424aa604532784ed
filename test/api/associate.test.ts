/**
 * associateElasticIP and disassociateElasticIP through the real routes, on both engines: the
 * instance checks, idempotent retries (field case C4), refused steals (C3), released EIPs, the
 * events each transition writes, and release of an associated EIP.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'light-my-request';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

interface Tenant {
  orgId: string;
  associate(id: string, body: Record<string, unknown>): Promise<Response>;
  disassociate(id: string): Promise<Response>;
  get(id: string): Promise<Response>;
  release(id: string): Promise<Response>;
  /** A fresh EIP in the IDC, asserting a 200. */
  allocate(idc?: string): Promise<string>;
  /** Registers an instance of this organization through the operator route. */
  instance(type?: 'baremetal' | 'container', idc?: string): Promise<string>;
}

async function tenantOf(t: TestApp): Promise<Tenant> {
  const orgId = randomUUID();
  const headers = { authorization: `Bearer ${await t.token(orgId)}` };
  const ops = { authorization: `Bearer ${await t.operatorToken()}` };
  return {
    orgId,
    associate: (id, body) =>
      t.app.inject({
        method: 'POST',
        url: `/v1/elastic-ips/${id}/associate`,
        headers,
        payload: body,
      }),
    disassociate: (id) =>
      t.app.inject({ method: 'POST', url: `/v1/elastic-ips/${id}/disassociate`, headers }),
    get: (id) => t.app.inject({ method: 'GET', url: `/v1/elastic-ips/${id}`, headers }),
    release: (id) => t.app.inject({ method: 'DELETE', url: `/v1/elastic-ips/${id}`, headers }),
    async allocate(idc = 'test-east1') {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers,
        payload: { idc, product: 'eip.ipv4.test', name: 'web', count: 1 },
      });
      assert.equal(res.statusCode, 200, res.body);
      const [first] = res.json() as { id: string }[];
      assert.ok(first !== undefined);
      return first.id;
    },
    async instance(type = 'baremetal', idc = 'test-east1') {
      const id = randomUUID();
      const res = await t.app.inject({
        method: 'PUT',
        url: `/v1/admin/instances/${id}`,
        headers: ops,
        payload: { orgId, idc, instanceType: type },
      });
      assert.equal(res.statusCode, 200, res.body);
      return id;
    },
  };
}

interface EventRow extends Record<string, unknown> {
  type: string;
  actor: string | null;
  instance_id: string | null;
  instance_type: string | null;
  detail: unknown;
}

function eventsOf(t: TestApp, id: string): Promise<EventRow[]> {
  return t.db.query<EventRow>(
    `SELECT type, actor, instance_id, instance_type, detail FROM eip_events
     WHERE eip_id = $1 AND type <> 'allocated' ORDER BY seq`,
    [id],
  );
}

function notFound(type: string, instance: string, idc = 'test-east1') {
  return { code: 4046, reason: `${type} instance ${instance} was not found in IDC ${idc}` };
}

for (const backend of BACKENDS) {
  describe(`associate and disassociate (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
    });
    after(() => t.close());

    test('associate answers the associated EIP and writes one event', async () => {
      const c = await tenantOf(t);
      const eip = await c.allocate();
      const x = await c.instance('baremetal');
      const before = (await c.get(eip)).json();

      const res = await c.associate(eip.toUpperCase(), {
        instanceID: x.toUpperCase(),
        instanceType: 'baremetal',
      });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.deepEqual(body, {
        ...before,
        status: 'associated',
        instanceID: x,
        instanceType: 'baremetal',
        updatedAt: body.updatedAt,
      });
      assert.deepEqual((await c.get(eip)).json(), body);
      assert.deepEqual(await eventsOf(t, eip), [
        {
          type: 'associated',
          actor: 'test-user',
          instance_id: x,
          instance_type: 'baremetal',
          detail: null,
        },
      ]);
    });

    test('C4: associating twice to the same instance answers identical bodies and one event', async () => {
      const c = await tenantOf(t);
      const eip = await c.allocate();
      const x = await c.instance('container');
      const first = await c.associate(eip, { instanceID: x, instanceType: 'container' });
      assert.equal(first.statusCode, 200, first.body);
      const second = await c.associate(eip, {
        instanceID: x,
        instanceType: 'container',
        allowReassociation: true,
      });
      assert.equal(second.statusCode, 200, second.body);
      assert.deepEqual(second.json(), first.json());
      assert.equal((await eventsOf(t, eip)).length, 1);
    });

    test('C3: associating to another instance without allowReassociation is refused; with it the EIP moves', async () => {
      const c = await tenantOf(t);
      const eip = await c.allocate();
      const x = await c.instance('baremetal');
      const y = await c.instance('container');
      assert.equal(
        (await c.associate(eip, { instanceID: x, instanceType: 'baremetal' })).statusCode,
        200,
      );
      const onX = (await c.get(eip)).json();

      for (const allow of [undefined, false]) {
        const refused = await c.associate(eip, {
          instanceID: y,
          instanceType: 'container',
          ...(allow === undefined ? {} : { allowReassociation: allow }),
        });
        assert.equal(refused.statusCode, 400);
        assert.deepEqual(refused.json(), {
          code: 4003,
          reason: `elastic IP ${eip} is associated with baremetal ${x}; set allowReassociation to move it`,
        });
        assert.deepEqual((await c.get(eip)).json(), onX);
      }

      const moved = await c.associate(eip, {
        instanceID: y,
        instanceType: 'container',
        allowReassociation: true,
      });
      assert.equal(moved.statusCode, 200, moved.body);
      assert.deepEqual(moved.json(), {
        ...onX,
        instanceID: y,
        instanceType: 'container',
        updatedAt: moved.json().updatedAt,
      });
      assert.deepEqual(await eventsOf(t, eip), [
        {
          type: 'associated',
          actor: 'test-user',
          instance_id: x,
          instance_type: 'baremetal',
          detail: null,
        },
        {
          type: 'associated',
          actor: 'test-user',
          instance_id: y,
          instance_type: 'container',
          detail: { previousInstanceID: x, previousInstanceType: 'baremetal' },
        },
      ]);
    });

    test('an instance that is unknown, of another organization, in another IDC or of another type is not found', async () => {
      const c = await tenantOf(t);
      const other = await tenantOf(t);
      const eip = await c.allocate();
      const before = (await c.get(eip)).json();
      const unknown = randomUUID();
      const foreign = await other.instance('baremetal');
      const west = await c.instance('baremetal', 'test-west1');
      const container = await c.instance('container');

      const cases: [string, string][] = [
        [unknown, 'baremetal'],
        [foreign, 'baremetal'],
        [west, 'baremetal'],
        [container, 'baremetal'],
      ];
      for (const [instance, type] of cases) {
        const res = await c.associate(eip, { instanceID: instance, instanceType: type });
        assert.equal(res.statusCode, 404, res.body);
        assert.deepEqual(res.json(), notFound(type, instance));
      }
      assert.deepEqual((await c.get(eip)).json(), before);
      assert.deepEqual(await eventsOf(t, eip), []);
    });

    test('an unknown, foreign or malformed EIP id is 404 before the instance is judged', async () => {
      const c = await tenantOf(t);
      const other = await tenantOf(t);
      const foreignEip = await other.allocate();
      const x = await c.instance();
      const missing = randomUUID();
      for (const id of [missing, foreignEip, 'not-a-uuid']) {
        for (const res of [
          await c.associate(id, { instanceID: randomUUID(), instanceType: 'baremetal' }),
          await c.associate(id, { instanceID: x, instanceType: 'baremetal' }),
          await c.disassociate(id),
        ]) {
          assert.equal(res.statusCode, 404, res.body);
          assert.deepEqual(res.json(), {
            code: 4044,
            reason: `elastic IP ${id} was not found`,
          });
        }
      }
    });

    test('validation comes before existence; anonymous callers get 401', async () => {
      const c = await tenantOf(t);
      const res = await c.associate(randomUUID(), { instanceID: 'nope', instanceType: 'vm' });
      assert.equal(res.statusCode, 400, res.body);
      const body = res.json();
      assert.equal(body.group, 'request');
      assert.equal(body.code, 0);
      assert.deepEqual(
        body.validationDetail.map((d: { field: string; expression: string }) => [
          d.field,
          d.expression,
        ]),
        [
          ['instanceID', 'format'],
          ['instanceType', 'enum'],
        ],
      );
      const anonymous = await t.app.inject({
        method: 'POST',
        url: `/v1/elastic-ips/${randomUUID()}/associate`,
        payload: { instanceID: randomUUID(), instanceType: 'baremetal' },
      });
      assert.equal(anonymous.statusCode, 401);
    });

    test('C4: disassociate answers the disassociated EIP; twice gives identical bodies and one event', async () => {
      const c = await tenantOf(t);
      const eip = await c.allocate();
      const x = await c.instance('baremetal');
      const fresh = (await c.get(eip)).json();

      const untouched = await c.disassociate(eip);
      assert.equal(untouched.statusCode, 200, untouched.body);
      assert.deepEqual(untouched.json(), fresh);
      assert.deepEqual(await eventsOf(t, eip), []);

      assert.equal(
        (await c.associate(eip, { instanceID: x, instanceType: 'baremetal' })).statusCode,
        200,
      );
      const first = await c.disassociate(eip);
      assert.equal(first.statusCode, 200, first.body);
      const body = first.json();
      assert.deepEqual(body, { ...fresh, updatedAt: body.updatedAt });
      const second = await c.disassociate(eip.toUpperCase());
      assert.equal(second.statusCode, 200, second.body);
      assert.deepEqual(second.json(), body);
      assert.deepEqual(
        (await eventsOf(t, eip)).map((e) => [e.type, e.actor, e.instance_id, e.instance_type]),
        [
          ['associated', 'test-user', x, 'baremetal'],
          ['disassociated', 'test-user', x, 'baremetal'],
        ],
      );
    });

    test('release of an associated EIP is refused; after disassociate it succeeds', async () => {
      const c = await tenantOf(t);
      const eip = await c.allocate();
      const x = await c.instance('container');
      assert.equal(
        (await c.associate(eip, { instanceID: x, instanceType: 'container' })).statusCode,
        200,
      );
      const associated = (await c.get(eip)).json();
      const refused = await c.release(eip);
      assert.equal(refused.statusCode, 400);
      assert.deepEqual(refused.json(), {
        code: 4002,
        reason: `elastic IP ${eip} is associated with container ${x}; disassociate it first`,
      });
      assert.deepEqual((await c.get(eip)).json(), associated);
      assert.equal((await c.disassociate(eip)).statusCode, 200);
      const released = await c.release(eip);
      assert.equal(released.statusCode, 200, released.body);
      assert.equal(released.json().status, 'released');
    });

    test('associate and disassociate of a released EIP answer 400 4006 and change nothing', async () => {
      const c = await tenantOf(t);
      const eip = await c.allocate();
      const x = await c.instance();
      assert.equal((await c.release(eip)).statusCode, 200);
      const released = (await c.get(eip)).json();
      for (const res of [
        await c.associate(eip, { instanceID: x, instanceType: 'baremetal' }),
        // The released check comes before the instance is judged.
        await c.associate(eip, { instanceID: randomUUID(), instanceType: 'container' }),
        await c.disassociate(eip),
      ]) {
        assert.equal(res.statusCode, 400, res.body);
        assert.deepEqual(res.json(), { code: 4006, reason: `elastic IP ${eip} is released` });
      }
      assert.deepEqual((await c.get(eip)).json(), released);
      assert.deepEqual(
        (await eventsOf(t, eip)).map((e) => e.type),
        ['released'],
      );
    });
  });
}
