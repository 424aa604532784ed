/**
 * releaseElasticIP, the quarantine and reuse order of released addresses (contract rule 7), and
 * explicit-address allocation (`ipAddress`, including field case C6), on both engines. Each group
 * gets a catalog and database of its own.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'light-my-request';
import { applyCatalog } from '../../src/catalog/apply.js';
import { parseCatalog } from '../../src/catalog/catalog-file.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const CATALOG = `
idcs: [{ name: reuse-1 }, { name: reuse-2 }]
products:
  - { name: eip.one, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.six, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.ex, internetConnectionType: Dual-Homed, maxBandwidth: 5 Gbps }
  - { name: eip.off, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: one, idc: reuse-1, cidr: 203.0.113.5/32, products: [eip.one] }
  - { name: six, idc: reuse-1, cidr: 203.0.113.16/29, products: [eip.six] }
  - { name: ex, idc: reuse-1, cidr: 10.0.0.0/29, products: [eip.ex], reserved: ["10.0.0.6"] }
  - { name: off, idc: reuse-1, cidr: 10.0.1.0/29, products: [eip.off], enabled: false }
`;

const UNAVAILABLE = 4005;

interface Client {
  allocate(body: Record<string, unknown>): Promise<Response>;
  get(id: string): Promise<Response>;
  release(id: string): Promise<Response>;
  /** Allocates and answers the addresses, asserting a 200. */
  take(body: Record<string, unknown>): Promise<{ id: string; ipAddress: string }[]>;
}

function clientOf(t: TestApp, token: string): Client {
  const headers = { authorization: `Bearer ${token}` };
  const client: Client = {
    allocate: (body) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers,
        payload: { idc: 'reuse-1', name: 'web', count: 1, ...body },
      }),
    get: (id) => t.app.inject({ method: 'GET', url: `/v1/elastic-ips/${id}`, headers }),
    release: (id) => t.app.inject({ method: 'DELETE', url: `/v1/elastic-ips/${id}`, headers }),
    async take(body) {
      const res = await client.allocate(body);
      assert.equal(res.statusCode, 200, res.body);
      const out: { id: string; ipAddress: string }[] = [];
      for (const { id } of res.json() as { id: string }[]) {
        out.push({ id, ipAddress: (await client.get(id)).json().ipAddress });
      }
      return out;
    },
  };
  return client;
}

async function newClient(t: TestApp): Promise<{ orgId: string; c: Client }> {
  const orgId = randomUUID();
  return { orgId, c: clientOf(t, await t.token(orgId)) };
}

function unavailable(address: string, why: string) {
  return { code: UNAVAILABLE, reason: `address ${address} is not available: ${why}` };
}

function exhausted(product: string, requested: number, available: number) {
  return {
    code: 5031,
    reason: `no free address for product ${product} in IDC reuse-1: requested ${requested}, available ${available}`,
  };
}

for (const backend of BACKENDS) {
  describe(`release (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
    });
    after(() => t.close());

    test('release answers the released EIP; releasing again changes nothing and adds no event', async () => {
      const { orgId, c } = await newClient(t);
      const [eip] = await c.take({ product: 'eip.six', name: 'rel-1' });
      assert.ok(eip !== undefined);
      const before = (await c.get(eip.id)).json();

      const first = await c.release(eip.id);
      assert.equal(first.statusCode, 200, first.body);
      const body = first.json();
      assert.equal(typeof body.releasedAt, 'string');
      assert.equal(body.updatedAt, body.releasedAt);
      assert.deepEqual(body, {
        ...before,
        status: 'released',
        updatedAt: body.releasedAt,
        releasedAt: body.releasedAt,
      });
      assert.ok(Date.parse(body.releasedAt) >= Date.parse(before.createdAt));

      const again = await c.release(eip.id.toUpperCase());
      assert.equal(again.statusCode, 200, again.body);
      assert.deepEqual(again.json(), body);
      assert.deepEqual((await c.get(eip.id)).json(), body);

      const events = await t.db.query<{ type: string; ip_address: string; actor: string }>(
        'SELECT type, ip_address, actor FROM eip_events WHERE eip_id = $1 ORDER BY seq',
        [eip.id],
      );
      assert.deepEqual(events, [
        { type: 'allocated', ip_address: eip.ipAddress, actor: 'test-user' },
        { type: 'released', ip_address: eip.ipAddress, actor: 'test-user' },
      ]);
      const quarantine = await t.db.query<{ released_by_org: string; same_time: boolean }>(
        `SELECT r.released_by_org, r.released_at = e.released_at AS same_time
         FROM released_addresses r JOIN elastic_ips e ON e.pool = r.pool AND e.address = r.address
         WHERE e.id = $1`,
        [eip.id],
      );
      assert.deepEqual(quarantine, [{ released_by_org: orgId, same_time: true }]);
    });

    test('release of an associated EIP is refused and changes nothing', async () => {
      const { c } = await newClient(t);
      const [eip] = await c.take({ product: 'eip.six' });
      assert.ok(eip !== undefined);
      const instance = randomUUID();
      await t.db.query(
        `UPDATE elastic_ips SET status = 'associated', instance_id = $2, instance_type = 'baremetal'
         WHERE id = $1`,
        [eip.id, instance],
      );
      const before = (await c.get(eip.id)).json();
      const res = await c.release(eip.id);
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), {
        code: 4002,
        reason: `elastic IP ${eip.id} is associated with baremetal ${instance}; disassociate it first`,
      });
      assert.deepEqual((await c.get(eip.id)).json(), before);
      const [row] = await t.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM eip_events WHERE eip_id = $1 AND type = 'released'`,
        [eip.id],
      );
      assert.equal(row?.n, 0);
      // Put it back so the pool's accounting in later tests is not disturbed.
      await t.db.query(
        `UPDATE elastic_ips SET status = 'disassociated', instance_id = NULL, instance_type = NULL
         WHERE id = $1`,
        [eip.id],
      );
      assert.equal((await c.release(eip.id)).statusCode, 200);
    });

    test('release answers 404 for an unknown id, a non-uuid and another organization', async () => {
      const { c } = await newClient(t);
      const { c: other } = await newClient(t);
      const [eip] = await c.take({ product: 'eip.six' });
      assert.ok(eip !== undefined);
      const unknown = randomUUID();
      for (const [client, id] of [
        [c, unknown],
        [c, 'not-a-uuid'],
        [other, eip.id],
      ] as const) {
        const res = await client.release(id);
        assert.equal(res.statusCode, 404, res.body);
        assert.deepEqual(res.json(), { code: 4044, reason: `elastic IP ${id} was not found` });
      }
      assert.equal((await c.get(eip.id)).json().status, 'disassociated');
      assert.equal((await c.release(eip.id)).statusCode, 200);
    });

    test('a request without a token is refused before the id is looked at', async () => {
      const res = await t.app.inject({ method: 'DELETE', url: `/v1/elastic-ips/${randomUUID()}` });
      assert.equal(res.statusCode, 401);
    });
  });

  describe(`quarantine (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
    });
    after(() => t.close());

    test('a released address waits out its quarantine before another organization gets it', async () => {
      const { c: a } = await newClient(t);
      const { c: b } = await newClient(t);
      const [held] = await a.take({ product: 'eip.one' });
      assert.deepEqual(held?.ipAddress, '203.0.113.5');
      assert.ok(held !== undefined);
      assert.equal((await a.release(held.id)).statusCode, 200);

      // Inside the quarantine: nobody gets it at random, not even its own organization.
      for (const client of [b, a]) {
        const res = await client.allocate({ product: 'eip.one' });
        assert.equal(res.statusCode, 503, res.body);
        assert.deepEqual(res.json(), exhausted('eip.one', 1, 0));
      }
      // Another organization cannot ask for it by name either.
      const named = await b.allocate({ product: 'eip.one', ipAddress: '203.0.113.5' });
      assert.equal(named.statusCode, 400, named.body);
      assert.deepEqual(
        named.json(),
        unavailable('203.0.113.5', 'it is held, or was released recently and is in quarantine'),
      );

      // Its own organization recovers it at once, as a new EIP.
      const [recovered] = await a.take({ product: 'eip.one', ipAddress: '203.0.113.5' });
      assert.ok(recovered !== undefined);
      assert.equal(recovered.ipAddress, '203.0.113.5');
      assert.notEqual(recovered.id, held.id);
      assert.equal((await a.get(held.id)).json().status, 'released');
      assert.equal((await a.get(recovered.id)).json().status, 'disassociated');
      const left = await t.db.query("SELECT 1 FROM released_addresses WHERE pool = 'one'");
      assert.equal(left.length, 0, 'recovery takes the address out of quarantine');

      // Released again and the quarantine over (by the database's clock): anyone gets it.
      assert.equal((await a.release(recovered.id)).statusCode, 200);
      await t.db.query(
        "UPDATE released_addresses SET released_at = now() - interval '3601 seconds' WHERE pool = 'one'",
      );
      const [reused] = await b.take({ product: 'eip.one' });
      assert.equal(reused?.ipAddress, '203.0.113.5');
      const full = await b.allocate({ product: 'eip.one' });
      assert.deepEqual(full.json(), exhausted('eip.one', 1, 0));
    });

    test('past the quarantine, another organization may ask for the address by name', async () => {
      const { c: a } = await newClient(t);
      const { c: b } = await newClient(t);
      const [first] = await a.take({ product: 'eip.ex', ipAddress: '10.0.0.5' });
      assert.ok(first !== undefined);
      assert.equal((await a.release(first.id)).statusCode, 200);
      await t.db.query(
        "UPDATE released_addresses SET released_at = now() - interval '2 hours' WHERE pool = 'ex'",
      );
      const [taken] = await b.take({ product: 'eip.ex', ipAddress: '10.0.0.5' });
      assert.equal(taken?.ipAddress, '10.0.0.5');
    });
  });

  describe(`reuse order (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      // No quarantine: the order alone decides which released address comes back first.
      t = await startTestApp({ backend, catalog: CATALOG, quarantineSeconds: 0 });
    });
    after(() => t.close());

    test('never-used addresses first, then the longest-released first', async () => {
      const { c: a } = await newClient(t);
      const { c: b } = await newClient(t);
      const firstThree = await a.take({ product: 'eip.six', count: 3 });
      assert.deepEqual(firstThree.map((e) => e.ipAddress).sort(), [
        '203.0.113.17',
        '203.0.113.18',
        '203.0.113.19',
      ]);
      const byAddress = new Map(firstThree.map((e) => [e.ipAddress, e.id]));
      // .18 is released first, then .17, then .19: that is the reuse order.
      for (const address of ['203.0.113.18', '203.0.113.17', '203.0.113.19']) {
        assert.equal((await a.release(byAddress.get(address) ?? '')).statusCode, 200);
      }

      const fresh = await b.take({ product: 'eip.six', count: 3 });
      assert.deepEqual(
        fresh.map((e) => e.ipAddress).sort(),
        ['203.0.113.20', '203.0.113.21', '203.0.113.22'],
        'never-used addresses go first although released ones are reusable',
      );
      const [oldest] = await b.take({ product: 'eip.six' });
      assert.equal(oldest?.ipAddress, '203.0.113.18');
      // "available" counts reusable released addresses.
      const tooMany = await b.allocate({ product: 'eip.six', count: 3 });
      assert.equal(tooMany.statusCode, 503, tooMany.body);
      assert.deepEqual(tooMany.json(), exhausted('eip.six', 3, 2));
      const [next] = await b.take({ product: 'eip.six' });
      assert.equal(next?.ipAddress, '203.0.113.17');
      const [last] = await b.take({ product: 'eip.six' });
      assert.equal(last?.ipAddress, '203.0.113.19');
      assert.deepEqual(
        (await b.allocate({ product: 'eip.six' })).json(),
        exhausted('eip.six', 1, 0),
      );
      const left = await t.db.query("SELECT 1 FROM released_addresses WHERE pool = 'six'");
      assert.equal(left.length, 0);
    });
  });

  describe(`explicit address (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
    });
    after(() => t.close());

    const invalidAddress = (value: string) => ({
      group: 'request',
      code: 0,
      message: 'The request body is invalid; see validationDetail.',
      validationDetail: [
        {
          field: 'ipAddress',
          expression: 'format',
          argument: 'ip-address',
          originalValue: JSON.stringify(value),
          reason: 'This field is not in the required format.',
        },
      ],
    });

    test('C6: ambiguous IPv4 spellings are refused; 10.0.0.1 and ::ffff:10.0.0.2 are accepted', async () => {
      const { orgId, c } = await newClient(t);
      for (const spelling of [
        '010.0.0.1',
        '10.1',
        '4294967423.0.0.1',
        '1.2.3.4 ',
        '1.2.3.04',
        '1.2.3.256',
      ]) {
        const res = await c.allocate({ product: 'eip.ex', ipAddress: spelling });
        assert.equal(res.statusCode, 400, `${spelling}: ${res.body}`);
        assert.deepEqual(res.json(), invalidAddress(spelling), spelling);
        // Validation comes before existence: an unknown IDC does not change the answer.
        const unknownIdc = await c.allocate({
          idc: 'nowhere',
          product: 'eip.ex',
          ipAddress: spelling,
        });
        assert.deepEqual(unknownIdc.json(), invalidAddress(spelling), spelling);
      }
      const [plain] = await c.take({ product: 'eip.ex', ipAddress: '10.0.0.1' });
      assert.equal(plain?.ipAddress, '10.0.0.1');
      const [mapped] = await c.take({ product: 'eip.ex', ipAddress: '::ffff:10.0.0.2' });
      assert.equal(mapped?.ipAddress, '10.0.0.2');
      const [hexMapped] = await c.take({ product: 'eip.ex', ipAddress: '::FFFF:a00:3' });
      assert.equal(hexMapped?.ipAddress, '10.0.0.3');
      const events = await t.db.query<{ ip_address: string }>(
        "SELECT ip_address FROM eip_events WHERE type = 'allocated' AND org_id = $1 ORDER BY seq",
        [orgId],
      );
      assert.deepEqual(
        events.map((e) => e.ip_address),
        ['10.0.0.1', '10.0.0.2', '10.0.0.3'],
      );
      for (const e of [plain, mapped, hexMapped]) {
        assert.equal((await c.release(e?.id ?? '')).statusCode, 200);
      }
    });

    test('count must be 1 with an explicit address, checked once every field is valid', async () => {
      const { c } = await newClient(t);
      const countDetail = {
        field: 'count',
        expression: 'maximum',
        argument: '1',
        originalValue: '2',
        reason: 'This field is above the maximum.',
      };
      const res = await c.allocate({ product: 'eip.ex', ipAddress: '10.0.0.4', count: 2 });
      assert.equal(res.statusCode, 400);
      assert.deepEqual(res.json(), {
        group: 'request',
        code: 0,
        message: 'The request body is invalid; see validationDetail.',
        validationDetail: [countDetail],
      });
      // The address's syntax is part of the schema, so it is reported with every other field
      // violation; count-must-be-1 is a rule across fields, checked once the fields are valid.
      const both = await c.allocate({ product: 'eip.ex', ipAddress: '010.0.0.4', count: 2 });
      assert.deepEqual(both.json().validationDetail, [
        invalidAddress('010.0.0.4').validationDetail[0],
      ]);
      const [row] = await t.db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM elastic_ips WHERE ip_address = '10.0.0.4'",
      );
      assert.equal(row?.n, 0);
    });

    test('existence comes first, then an address outside the product pools is a 404', async () => {
      const { c } = await newClient(t);
      assert.deepEqual(
        (await c.allocate({ idc: 'nowhere', product: 'eip.ex', ipAddress: '10.0.0.4' })).json(),
        { code: 4041, reason: 'IDC nowhere was not found' },
      );
      assert.deepEqual(
        (await c.allocate({ idc: 'reuse-2', product: 'eip.ex', ipAddress: '10.0.0.4' })).json(),
        { code: 4043, reason: 'product eip.ex is not offered in IDC reuse-2' },
      );
      // Outside every pool; in another product's pool; the network and broadcast addresses; the
      // other family.
      for (const address of ['192.0.2.1', '10.0.1.1', '10.0.0.0', '10.0.0.7', '2001:db8::1']) {
        const res = await c.allocate({ product: 'eip.ex', ipAddress: address });
        assert.equal(res.statusCode, 404, `${address}: ${res.body}`);
        assert.deepEqual(res.json(), {
          code: 4045,
          reason: `address ${address} is not in the pools of product eip.ex in IDC reuse-1`,
        });
      }
    });

    test('reserved, held and disabled-pool addresses are unavailable', async () => {
      const { c: a } = await newClient(t);
      const { c: b } = await newClient(t);
      const reserved = await a.allocate({ product: 'eip.ex', ipAddress: '10.0.0.6' });
      assert.equal(reserved.statusCode, 400);
      assert.deepEqual(reserved.json(), unavailable('10.0.0.6', 'it is reserved'));

      const [held] = await a.take({ product: 'eip.ex', ipAddress: '10.0.0.4' });
      assert.ok(held !== undefined);
      for (const client of [b, a]) {
        const res = await client.allocate({ product: 'eip.ex', ipAddress: '10.0.0.4' });
        assert.equal(res.statusCode, 400, res.body);
        assert.deepEqual(
          res.json(),
          unavailable('10.0.0.4', 'it is held, or was released recently and is in quarantine'),
        );
      }

      const disabled = await a.allocate({ product: 'eip.off', ipAddress: '10.0.1.1' });
      assert.equal(disabled.statusCode, 400, disabled.body);
      assert.deepEqual(disabled.json(), unavailable('10.0.1.1', 'its pool is disabled'));
      assert.equal((await a.release(held.id)).statusCode, 200);
    });

    test('reserving a held address: the apply names it, its EIP keeps it, release retires it', async () => {
      const t2 = await startTestApp({ backend, catalog: CATALOG });
      try {
        const { c } = await newClient(t2);
        const [held] = await c.take({ product: 'eip.ex', ipAddress: '10.0.0.2' });
        assert.ok(held !== undefined);
        const reserving = CATALOG.replace(
          'reserved: ["10.0.0.6"]',
          'reserved: ["10.0.0.6", "10.0.0.2"]',
        );
        const summary = await applyCatalog(t2.db, parseCatalog(reserving, 'c'), 'c');
        assert.deepEqual(summary.reservedStillHeld, ['ex 10.0.0.2']);
        assert.equal((await c.get(held.id)).json().ipAddress, '10.0.0.2');
        const again = await applyCatalog(t2.db, parseCatalog(reserving, 'c'), 'c');
        assert.deepEqual(again.reservedStillHeld, [], 'only a new reservation is reported');
        assert.equal((await c.release(held.id)).statusCode, 200);
        const back = await c.allocate({ product: 'eip.ex', ipAddress: '10.0.0.2' });
        assert.deepEqual(back.json(), unavailable('10.0.0.2', 'it is reserved'));
      } finally {
        await t2.close();
      }
    });

    test('unreserved takes a reservation back: a free address is handed out again, a held one stays held', async () => {
      const t2 = await startTestApp({ backend, catalog: CATALOG });
      try {
        const { c } = await newClient(t2);
        const { c: other } = await newClient(t2);
        const [held] = await c.take({ product: 'eip.ex', ipAddress: '10.0.0.3' });
        assert.ok(held !== undefined);
        const apply = async (pool: string) =>
          applyCatalog(
            t2.db,
            parseCatalog(CATALOG.replace('reserved: ["10.0.0.6"]', pool), 'c'),
            'c',
          );
        // A reservation left out of the file stays: only `unreserved` takes it back.
        await apply('reserved: ["10.0.0.6", "10.0.0.2", "10.0.0.3"]');
        assert.deepEqual((await apply('reserved: []')).poolsUpdated, []);
        const refused = await other.allocate({ product: 'eip.ex', ipAddress: '10.0.0.2' });
        assert.deepEqual(refused.json(), unavailable('10.0.0.2', 'it is reserved'));

        const back = await apply('unreserved: ["10.0.0.2", "10.0.0.3", "10.0.0.6"]');
        assert.deepEqual(back.poolsUpdated, ['ex']);
        assert.deepEqual((await apply('unreserved: ["10.0.0.2"]')).poolsUpdated, [], 'idempotent');
        // Free, so at once any organization's (no quarantine: it was never released by anyone).
        const [freed] = await other.take({ product: 'eip.ex', ipAddress: '10.0.0.2' });
        assert.equal(freed?.ipAddress, '10.0.0.2');
        // Still its holder's; released, it waits out the quarantine like any released address.
        assert.equal((await c.get(held.id)).json().ipAddress, '10.0.0.3');
        assert.equal((await c.release(held.id)).statusCode, 200);
        const early = await other.allocate({ product: 'eip.ex', ipAddress: '10.0.0.3' });
        assert.deepEqual(
          early.json(),
          unavailable('10.0.0.3', 'it is held, or was released recently and is in quarantine'),
        );
        // 10.0.0.6, reserved from the start, is now one of the pool's addresses again.
        const [six] = await other.take({ product: 'eip.ex', ipAddress: '10.0.0.6' });
        assert.equal(six?.ipAddress, '10.0.0.6');
      } finally {
        await t2.close();
      }
    });

    test('an explicit address carved out of the middle of a free range is never handed out again', async () => {
      const t2 = await startTestApp({ backend, catalog: CATALOG });
      try {
        const { c } = await newClient(t2);
        const [middle] = await c.take({ product: 'eip.ex', ipAddress: '10.0.0.3' });
        assert.equal(middle?.ipAddress, '10.0.0.3');
        const rest = await c.take({ product: 'eip.ex', count: 4 });
        assert.deepEqual(rest.map((e) => e.ipAddress).sort(), [
          '10.0.0.1',
          '10.0.0.2',
          '10.0.0.4',
          '10.0.0.5',
        ]);
        const none = await c.allocate({ product: 'eip.ex' });
        assert.deepEqual(none.json(), exhausted('eip.ex', 1, 0));
      } finally {
        await t2.close();
      }
    });
  });
}
