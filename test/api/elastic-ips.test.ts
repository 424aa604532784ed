/**
 * allocateElasticIP and getElasticIP outcomes on both engines: success bodies, the 404s, events.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { allocateBody, BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

for (const backend of BACKENDS) {
  describe(`elastic IPs (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
    });
    after(() => t.close());

    const allocate = async (token: string, body: Record<string, unknown>) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token}` },
        payload: body,
      });
    const get = async (token: string, id: string) =>
      t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${id}`,
        headers: { authorization: `Bearer ${token}` },
      });

    test('allocate returns one uuid per address and get shows each disassociated', async () => {
      const orgId = randomUUID();
      const token = await t.token(orgId);
      const res = await allocate(token, allocateBody({ count: 2, name: 'web 1' }));
      assert.equal(res.statusCode, 200, res.body);
      const ids = res.json() as { id: string }[];
      assert.equal(ids.length, 2);
      const seen = new Set<string>();
      for (const { id } of ids) {
        assert.match(id, UUID);
        const got = await get(token, id);
        assert.equal(got.statusCode, 200, got.body);
        const eip = got.json();
        assert.deepEqual(
          { ...eip, ipAddress: undefined, createdAt: undefined, updatedAt: undefined },
          {
            id,
            orgId,
            status: 'disassociated',
            internetConnectionType: 'BGP',
            maxBandwidth: '100 Gbps',
            name: 'web 1',
            idc: 'test-east1',
            ipAddress: undefined,
            product: 'eip.ipv4.test',
            instanceID: null,
            instanceType: null,
            createdAt: undefined,
            updatedAt: undefined,
            releasedAt: null,
          },
        );
        assert.match(eip.ipAddress, /^192\.0\.2\.(\d+)$/);
        const last = Number(eip.ipAddress.split('.')[3]);
        assert.ok(last >= 2 && last <= 254, `${eip.ipAddress} is not a usable, unreserved address`);
        seen.add(eip.ipAddress);
        assert.ok(!Number.isNaN(Date.parse(eip.createdAt)));
      }
      assert.equal(seen.size, 2);
    });

    test('allocate of an IPv6 product answers RFC 5952 addresses with the product attributes', async () => {
      const token = await t.token();
      const res = await allocate(token, allocateBody({ product: 'eip.ipv6.test', count: 3 }));
      assert.equal(res.statusCode, 200, res.body);
      for (const { id } of res.json() as { id: string }[]) {
        const eip = (await get(token, id)).json();
        assert.match(eip.ipAddress, /^2001:db8::[0-9a-f]{1,4}$/);
        assert.notEqual(eip.ipAddress, '2001:db8::');
        assert.equal(eip.internetConnectionType, 'Dual-Homed');
        assert.equal(eip.maxBandwidth, '25 Gbps');
      }
    });

    test('allocate writes one allocated event per address, with the token subject as actor', async () => {
      const orgId = randomUUID();
      const token = await t.token(orgId, { subject: 'alice@example.test' });
      const res = await allocate(token, allocateBody({ count: 3 }));
      const ids = (res.json() as { id: string }[]).map((r) => r.id).sort();
      const events = await t.db.query<{
        eip_id: string;
        type: string;
        actor: string;
        ip_address: string;
      }>(
        'SELECT eip_id, type, actor, ip_address FROM eip_events WHERE org_id = $1 ORDER BY eip_id',
        [orgId],
      );
      assert.deepEqual(
        events.map((e) => [e.eip_id, e.type, e.actor]),
        ids.map((id) => [id, 'allocated', 'alice@example.test']),
      );
    });

    test('get accepts an upper-case uuid and answers the id in lower case', async () => {
      const token = await t.token();
      const [created] = (await allocate(token, allocateBody())).json() as { id: string }[];
      assert.ok(created);
      const res = await get(token, created.id.toUpperCase());
      assert.equal(res.statusCode, 200);
      assert.equal(res.json().id, created.id);
    });

    test('get answers 404 for an unknown id, another organization, and a non-uuid', async () => {
      const owner = await t.token();
      const [created] = (await allocate(owner, allocateBody())).json() as { id: string }[];
      assert.ok(created);
      const stranger = await t.token();
      const unknown = randomUUID();
      for (const [token, id, expectedId] of [
        [owner, unknown, unknown],
        [stranger, created.id, created.id],
        [owner, 'not-a-uuid', 'not-a-uuid'],
        [owner, `${created.id}0`, `${created.id}0`],
        [owner, `urn:uuid:${created.id}`, `urn:uuid:${created.id}`],
        [owner, 'x'.repeat(80), `${'x'.repeat(64)}…`],
      ] as const) {
        const res = await get(token, id);
        assert.equal(res.statusCode, 404, id);
        assert.deepEqual(res.json(), {
          code: 4044,
          reason: `elastic IP ${expectedId} was not found`,
        });
      }
    });

    test('allocate answers 404 for an unknown IDC, an unknown product, and a product not offered there', async () => {
      const token = await t.token();
      const cases = [
        [{ idc: 'nowhere-1' }, { code: 4041, reason: 'IDC nowhere-1 was not found' }],
        [{ product: 'eip.none' }, { code: 4042, reason: 'product eip.none was not found' }],
        [
          { product: 'eip.unoffered' },
          { code: 4043, reason: 'product eip.unoffered is not offered in IDC test-east1' },
        ],
        [
          { idc: 'test-west1', product: 'eip.ipv6.test' },
          { code: 4043, reason: 'product eip.ipv6.test is not offered in IDC test-west1' },
        ],
      ] as const;
      for (const [override, body] of cases) {
        const res = await allocate(token, allocateBody(override));
        assert.equal(res.statusCode, 404, res.body);
        assert.deepEqual(res.json(), body);
      }
    });

    test('validation comes before existence: a bad body naming an unknown IDC is a 400', async () => {
      const res = await allocate(await t.token(), allocateBody({ idc: 'nowhere-1', count: 0 }));
      assert.equal(res.statusCode, 400);
    });

    test('an unknown route is a 404 in the error shape', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/v1/nothing-here' });
      assert.equal(res.statusCode, 404);
      assert.deepEqual(res.json(), { code: 4040, reason: 'no route GET /v1/nothing-here' });
    });
  });
}
