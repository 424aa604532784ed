/**
 * Inputs the schema lets through but the database cannot hold are 400s, and reserved addresses
 * stay out of reuse and out of the utilization counts even when reserved after being handed out.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const catalog = (reserved: string[]) => `
idcs: [{ name: res-1 }]
products: [{ name: eip.res, internetConnectionType: BGP, maxBandwidth: 1 Gbps }]
pools:
  - { name: res-a, idc: res-1, cidr: 198.51.100.0/30, products: [eip.res], reserved: [${reserved.join(', ')}] }
`;

for (const backend of BACKENDS) {
  describe(`reserved addresses and storable inputs (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: catalog([]), quarantineSeconds: 0 });
    });
    after(() => t.close());

    const call = async (
      method: 'GET' | 'POST' | 'PUT' | 'DELETE',
      url: string,
      token: string,
      payload?: unknown,
    ) =>
      t.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }),
      });

    test('a urn:uuid instance id or organization is a 400, not a database error', async () => {
      const token = await t.token();
      const [eip] = (
        await call('POST', '/v1/elastic-ips', token, {
          idc: 'res-1',
          product: 'eip.res',
          name: 'a',
          count: 1,
        })
      ).json() as { id: string }[];
      assert.ok(eip);
      const urn = `urn:uuid:${randomUUID()}`;
      const associate = await call('POST', `/v1/elastic-ips/${eip.id}/associate`, token, {
        instanceID: urn,
        instanceType: 'baremetal',
      });
      assert.equal(associate.statusCode, 400, associate.body);
      assert.equal(associate.json().validationDetail[0].field, 'instanceID');
      const register = await call(
        'PUT',
        `/v1/admin/instances/${randomUUID()}`,
        await t.operatorToken(),
        {
          orgId: urn,
          idc: 'res-1',
          instanceType: 'baremetal',
        },
      );
      assert.equal(register.statusCode, 400, register.body);
      assert.equal(register.json().validationDetail[0].field, 'orgId');
      await call('DELETE', `/v1/elastic-ips/${eip.id}`, token);
    });

    test('a history instant PostgreSQL cannot store is a 400', async () => {
      const ops = await t.operatorToken();
      for (const at of [
        '0000-01-01T00:00:00Z',
        '2024-01-01T00:00:00-20:00',
        '2024-02-31T00:00:00Z',
      ]) {
        const res = await call(
          'GET',
          `/v1/admin/address-history?ipAddress=198.51.100.1&at=${encodeURIComponent(at)}`,
          ops,
        );
        assert.equal(res.statusCode, 400, `${at}: ${res.body}`);
        assert.equal(res.json().validationDetail[0].field, 'at');
      }
    });

    test('an address reserved after its release is never reused, and counts stay exact', async () => {
      const token = await t.token();
      const res = await call('POST', '/v1/elastic-ips', token, {
        idc: 'res-1',
        product: 'eip.res',
        name: 'b',
        count: 2,
      });
      assert.equal(res.statusCode, 200, res.body);
      const ids = (res.json() as { id: string }[]).map((r) => r.id);
      // Release both, then reserve one of them as another process's catalog would: its
      // released row stays behind, since the reservation could not see the release.
      for (const id of ids)
        assert.equal((await call('DELETE', `/v1/elastic-ips/${id}`, token)).statusCode, 200);
      await t.db.query(
        "INSERT INTO pool_reserved_addresses (pool, address) SELECT 'res-a', address FROM released_addresses WHERE pool = 'res-a' ORDER BY address LIMIT 1",
      );
      const again = await call('POST', '/v1/elastic-ips', token, {
        idc: 'res-1',
        product: 'eip.res',
        name: 'c',
        count: 2,
      });
      assert.equal(again.statusCode, 503, again.body);
      assert.match(again.json().reason, /requested 2, available 1$/);
      const one = await call('POST', '/v1/elastic-ips', token, {
        idc: 'res-1',
        product: 'eip.res',
        name: 'c',
        count: 1,
      });
      assert.equal(one.statusCode, 200, one.body);
      const [pool] = (
        await call('GET', '/v1/admin/pools?idc=res-1', await t.operatorToken())
      ).json() as Record<string, string>[];
      assert.deepEqual(
        pool && {
          usable: pool.usable,
          used: pool.used,
          quarantined: pool.quarantined,
          free: pool.free,
        },
        { usable: '1', used: '1', quarantined: '0', free: '0' },
      );
    });
  });
}
