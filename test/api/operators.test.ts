/**
 * The operator surface (/v1/admin/): authentication, pool utilization (including C12's exact /64
 * size), enabling and disabling pools, address history, the event stream and the association
 * snapshot, on both engines.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { Response } from 'light-my-request';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

const CATALOG = `
idcs: [{ name: ops-1 }, { name: ops-2 }]
products:
  - { name: eip.v4, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: eip.v6, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: small, idc: ops-1, cidr: 203.0.113.0/29, products: [eip.v4], reserved: ["203.0.113.1"] }
  - { name: big6, idc: ops-1, cidr: "2001:db8:1::/64", products: [eip.v6] }
  - { name: far, idc: ops-2, cidr: 198.51.100.0/30, products: [eip.v4] }
`;

const ENDPOINTS: { method: 'GET' | 'PATCH'; url: string; payload?: Record<string, unknown> }[] = [
  { method: 'GET', url: '/v1/admin/events' },
  { method: 'GET', url: '/v1/admin/associations' },
  { method: 'GET', url: '/v1/admin/address-history?ipAddress=203.0.113.2' },
  { method: 'GET', url: '/v1/admin/pools' },
  { method: 'PATCH', url: '/v1/admin/pools/small', payload: { enabled: true } },
];

interface EventBody {
  seq: string;
  type: string;
  eipId: string;
  orgId: string;
  actor: string | null;
  idc: string;
  ipAddress: string;
  instanceID: string | null;
  instanceType: string | null;
  occurredAt: string;
  cursor: string;
}

function smallPool(counts: { used: string; quarantined: string; free: string }, enabled = true) {
  return {
    name: 'small',
    idc: 'ops-1',
    cidr: '203.0.113.0/29',
    enabled,
    products: ['eip.v4'],
    size: '8',
    // .1 to .6 are usable; .1 is reserved.
    usable: '5',
    ...counts,
  };
}

const BIG6 = {
  name: 'big6',
  idc: 'ops-1',
  cidr: '2001:db8:1::/64',
  enabled: true,
  products: ['eip.v6'],
  size: '18446744073709551616',
  // All but the subnet-router anycast address.
  usable: '18446744073709551615',
  used: '0',
  quarantined: '0',
  free: '18446744073709551615',
};

const FAR = {
  name: 'far',
  idc: 'ops-2',
  cidr: '198.51.100.0/30',
  enabled: true,
  products: ['eip.v4'],
  size: '4',
  usable: '2',
  used: '0',
  quarantined: '0',
  free: '2',
};

for (const backend of BACKENDS) {
  describe(`operator surface (${backend})`, () => {
    let t: TestApp;
    let ops: Record<string, string>;
    let orgId: string;
    let tenant: Record<string, string>;

    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG });
      ops = { authorization: `Bearer ${await t.operatorToken()}` };
      orgId = randomUUID();
      tenant = { authorization: `Bearer ${await t.token(orgId)}` };
    });
    after(async () => {
      await t.close();
    });

    const admin = (method: 'GET' | 'PATCH', url: string, payload?: Record<string, unknown>) =>
      t.app.inject({ method, url, headers: ops, ...(payload === undefined ? {} : { payload }) });

    async function allocate(body: Record<string, unknown>): Promise<string[]> {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: tenant,
        payload: { idc: 'ops-1', product: 'eip.v4', name: 'w', count: 1, ...body },
      });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { id: string }[]).map((e) => e.id);
    }

    async function ipOf(id: string): Promise<string> {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${id}`,
        headers: tenant,
      });
      return res.json().ipAddress;
    }

    /**
     * Follows the stream from `cursor` until it runs dry with `done` satisfied. PostgreSQL may hold
     * events back while any transaction in the cluster that started earlier is still running
     * (other test processes share the server), so the reader polls, as an agent would.
     */
    async function follow(
      cursor: string,
      done: (events: EventBody[]) => boolean,
      limit = 2,
    ): Promise<{ events: EventBody[]; cursor: string }> {
      const events: EventBody[] = [];
      let at = cursor;
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await admin('GET', `/v1/admin/events?limit=${limit}&cursor=${at}`);
        assert.equal(res.statusCode, 200, res.body);
        const page = res.json() as { events: EventBody[]; cursor: string };
        events.push(...page.events);
        at = page.cursor;
        if (page.events.length > 0) continue;
        if (done(events)) return { events, cursor: at };
        assert.ok(Date.now() < deadline, `the stream stalled after ${events.length} events`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    const count = (n: number) => (events: EventBody[]) => events.length >= n;

    test('every operator endpoint: 401 without a token, 403 with a tenant token', async () => {
      for (const e of ENDPOINTS) {
        const none = await t.app.inject({ method: e.method, url: e.url, payload: e.payload });
        assert.equal(none.statusCode, 401, `${e.method} ${e.url}`);
        assert.deepEqual(none.json(), {
          code: 0,
          group: 'auth_verify',
          message: 'Invalid access token.',
        });
        assert.match(String(none.headers['www-authenticate']), /^Bearer/);
        const asTenant = await t.app.inject({
          method: e.method,
          url: e.url,
          headers: tenant,
          payload: e.payload,
        });
        assert.equal(asTenant.statusCode, 403, `${e.method} ${e.url}`);
        assert.deepEqual(asTenant.json(), {
          code: 4031,
          reason: 'this operation needs the eip:admin scope',
        });
      }
    });

    test('C12: utilization reports a /64 size exactly as 18446744073709551616', async () => {
      const res = await admin('GET', '/v1/admin/pools?idc=ops-1');
      assert.equal(res.statusCode, 200, res.body);
      const big = (res.json() as { name: string }[]).find((p) => p.name === 'big6');
      assert.deepEqual(big, BIG6);
    });

    test('listPools: exact counts; the idc filter; an unknown idc is a 404', async () => {
      const all = await admin('GET', '/v1/admin/pools');
      assert.equal(all.statusCode, 200, all.body);
      assert.deepEqual(all.json(), [
        BIG6,
        FAR,
        smallPool({ used: '0', quarantined: '0', free: '5' }),
      ]);
      const two = await admin('GET', '/v1/admin/pools?idc=ops-2');
      assert.deepEqual(two.json(), [FAR]);
      const unknown = await admin('GET', '/v1/admin/pools?idc=nowhere');
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), { code: 4041, reason: 'IDC nowhere was not found' });
    });

    test('utilization stays consistent after allocations and a release', async () => {
      const ids = await allocate({ count: 3 });
      const first = ids[0];
      assert.ok(first !== undefined);
      const rel = await t.app.inject({
        method: 'DELETE',
        url: `/v1/elastic-ips/${first}`,
        headers: tenant,
      });
      assert.equal(rel.statusCode, 200, rel.body);
      const res = await admin('GET', '/v1/admin/pools?idc=ops-1');
      const small = (res.json() as { name: string }[]).find((p) => p.name === 'small');
      assert.deepEqual(small, smallPool({ used: '2', quarantined: '1', free: '2' }));
      // The same free count as the allocator's own structures: never-used plus past quarantine.
      const [row] = await t.db.query<{ n: string }>(
        `SELECT ((SELECT COALESCE(SUM(hi - next_free + 1), 0) FROM pool_free_ranges WHERE pool = 'small')
               + (SELECT count(*) FROM released_addresses
                  WHERE pool = 'small' AND released_at <= now() - interval '3600 seconds'))::text AS n`,
      );
      assert.equal(row?.n, '2');
      // Put the pool back as it was for the tests that follow.
      await t.db.query(`UPDATE released_addresses SET released_at = now() - interval '2 hours'`);
      const later = await admin('GET', '/v1/admin/pools?idc=ops-1');
      const again = (later.json() as { name: string }[]).find((p) => p.name === 'small');
      assert.deepEqual(again, smallPool({ used: '2', quarantined: '0', free: '3' }));
    });

    test('updatePool: a disabled pool takes no new allocations, its EIPs stay', async () => {
      const [kept] = await allocate({ idc: 'ops-2' });
      assert.ok(kept !== undefined);
      const off = await admin('PATCH', '/v1/admin/pools/far', { enabled: false });
      assert.equal(off.statusCode, 200, off.body);
      assert.deepEqual(off.json(), { ...FAR, enabled: false, used: '1', free: '1' });
      const refused = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: tenant,
        payload: { idc: 'ops-2', product: 'eip.v4', name: 'w', count: 1 },
      });
      assert.equal(refused.statusCode, 503, refused.body);
      assert.equal(refused.json().code, 5031);
      const still = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${kept}`,
        headers: tenant,
      });
      assert.equal(still.statusCode, 200);
      assert.equal(still.json().status, 'disassociated');
      // Idempotent, and enabling again lets allocation through.
      const offAgain = await admin('PATCH', '/v1/admin/pools/far', { enabled: false });
      assert.deepEqual(offAgain.json(), off.json());
      const on = await admin('PATCH', '/v1/admin/pools/far', { enabled: true });
      assert.deepEqual(on.json(), { ...FAR, used: '1', free: '1' });
      await allocate({ idc: 'ops-2' });
    });

    test('updatePool: unknown pool is a 404, a bad body a 400', async () => {
      const missing = await admin('PATCH', '/v1/admin/pools/nope', { enabled: false });
      assert.equal(missing.statusCode, 404);
      assert.deepEqual(missing.json(), { code: 4047, reason: 'pool nope was not found' });
      const bad = await admin('PATCH', '/v1/admin/pools/small', { enabled: 'no' });
      assert.equal(bad.statusCode, 400);
      assert.equal(bad.json().group, 'request');
      const extra = await admin('PATCH', '/v1/admin/pools/small', { enabled: true, x: 1 });
      assert.equal(extra.statusCode, 400);
      // The pool name is checked against the document before anything reaches the database.
      const nul = await admin('PATCH', '/v1/admin/pools/x%00', { enabled: true });
      assert.equal(nul.statusCode, 400, nul.body);
      assert.equal(nul.json().validationDetail[0].field, 'pool');
    });

    test('listEvents: every event once, in order, across pages; a bad cursor is a 400', async () => {
      // The stream shows a transaction's events only once every older transaction on the server
      // has ended, and other databases' sessions count: wait until it shows all there is.
      const [existing] = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM eip_events',
      );
      const start = await follow('', count(existing?.n ?? 0), 1000);
      const [id] = await allocate({ idc: 'ops-1', product: 'eip.v6', name: 'ev' });
      assert.ok(id !== undefined);
      const ip = await ipOf(id);
      const ren = await t.app.inject({
        method: 'PATCH',
        url: `/v1/elastic-ips/${id}`,
        headers: tenant,
        payload: { name: 'ev2' },
      });
      assert.equal(ren.statusCode, 200, ren.body);
      const rel = await t.app.inject({
        method: 'DELETE',
        url: `/v1/elastic-ips/${id}`,
        headers: tenant,
      });
      assert.equal(rel.statusCode, 200, rel.body);

      // From the beginning: everything so far, ending with this EIP's three events.
      const all = await follow(
        '',
        (events) => events.filter((e) => e.eipId === id).length === 3,
        1000,
      );
      const mine = all.events.filter((e) => e.eipId === id);
      assert.deepEqual(
        mine.map(({ seq: _s, occurredAt: _o, cursor: _c, ...rest }) => rest),
        ['allocated', 'renamed', 'released'].map((type) => ({
          type,
          eipId: id,
          orgId,
          actor: 'test-user',
          idc: 'ops-1',
          ipAddress: ip,
          instanceID: null,
          instanceType: null,
        })),
      );
      for (const e of mine) {
        assert.match(e.seq, /^[1-9][0-9]*$/);
        assert.ok(!Number.isNaN(Date.parse(e.occurredAt)));
      }
      const seqs = all.events.map((e) => e.seq);
      assert.equal(new Set(seqs).size, seqs.length);

      // Following from before the three, a page of one at a time, gives exactly them.
      const paged = await follow(start.cursor, count(3), 1);
      assert.deepEqual(
        paged.events.map((e) => e.seq),
        mine.map((e) => e.seq),
      );
      // Each event's cursor continues right after it, as the page's does after its last.
      const [first, second, third] = mine;
      assert.ok(first !== undefined && second !== undefined && third !== undefined);
      const afterFirst = await admin('GET', `/v1/admin/events?cursor=${first.cursor}&limit=2`);
      assert.deepEqual(
        (afterFirst.json() as { events: { seq: string }[] }).events.map((e) => e.seq),
        [second.seq, third.seq],
      );
      assert.equal(third.cursor, paged.cursor);
      const quiet = await admin('GET', `/v1/admin/events?cursor=${paged.cursor}`);
      assert.deepEqual(quiet.json(), { events: [], cursor: paged.cursor });

      for (const cursor of [
        'garbage!',
        'eyJ4IjoxfQ',
        Buffer.from('{"x":"-1","s":"0"}').toString('base64url'),
        Buffer.from('{"x":"99999999999999999999","s":"0"}').toString('base64url'),
        // Well formed, but ahead of every transaction: it would read nothing, forever.
        Buffer.from('{"x":"9223372036854775807","s":"1"}').toString('base64url'),
      ]) {
        const res = await admin('GET', `/v1/admin/events?cursor=${cursor}`);
        assert.equal(res.statusCode, 400, cursor);
        assert.deepEqual(res.json(), { code: 4007, reason: 'cursor is invalid' });
      }
      const badLimit = await admin('GET', '/v1/admin/events?limit=0');
      assert.equal(badLimit.statusCode, 400);
    });

    test('listAssociations: the associated EIPs and a cursor that follows on from them', async () => {
      const [id] = await allocate({ name: 'assoc' });
      assert.ok(id !== undefined);
      const instance = randomUUID();
      // Associated directly: this suite is about the snapshot, not the associate operation.
      await t.db.query(
        `UPDATE elastic_ips SET status = 'associated', instance_id = $2, instance_type = 'container'
         WHERE id = $1`,
        [id, instance],
      );
      const ip = await ipOf(id);
      // Wait until the allocation has settled into the stream, so the cursor is past it.
      const settled = await follow('', (events) => events.some((e) => e.eipId === id), 1000);
      let snap: { associations: unknown[]; cursor: string } = { associations: [], cursor: '' };
      const deadline = Date.now() + 10_000;
      for (;;) {
        const res = await admin('GET', '/v1/admin/associations');
        assert.equal(res.statusCode, 200, res.body);
        snap = res.json();
        const caught = await admin('GET', `/v1/admin/events?limit=1000&cursor=${snap.cursor}`);
        if ((caught.json() as { events: unknown[] }).events.length === 0) break;
        assert.ok(Date.now() < deadline, 'the stream did not settle');
      }
      assert.deepEqual(snap.associations, [
        {
          eipId: id,
          orgId,
          idc: 'ops-1',
          ipAddress: ip,
          instanceID: instance,
          instanceType: 'container',
        },
      ]);
      assert.ok(settled.events.some((e) => e.eipId === id && e.type === 'allocated'));
      // A change after the snapshot is what following its cursor delivers.
      const ren = await t.app.inject({
        method: 'PATCH',
        url: `/v1/elastic-ips/${id}`,
        headers: tenant,
        payload: { name: 'renamed' },
      });
      assert.equal(ren.statusCode, 200, ren.body);
      const next = await follow(snap.cursor, count(1));
      assert.deepEqual(
        next.events.map((e) => [e.type, e.eipId]),
        [['renamed', id]],
      );
    });
  });

  describe(`address history (${backend})`, () => {
    let t: TestApp;
    let ops: Record<string, string>;

    before(async () => {
      t = await startTestApp({ backend, catalog: CATALOG, quarantineSeconds: 0 });
      ops = { authorization: `Bearer ${await t.operatorToken()}` };
    });
    after(async () => {
      await t.close();
    });

    const history = (query: string): Promise<Response> =>
      t.app.inject({ method: 'GET', url: `/v1/admin/address-history?${query}`, headers: ops });

    test('an address held by three organizations in turn: the right holder at each instant', async () => {
      const address = '2001:db8:1::7';
      const holders: { orgId: string; id: string }[] = [];
      for (const [i, period] of [
        ['2024-01-01T00:00:00Z', '2024-02-01T00:00:00Z'],
        ['2024-03-01T00:00:00Z', '2024-04-01T00:00:00Z'],
        ['2024-05-01T00:00:00Z', null],
      ].entries()) {
        const orgId = randomUUID();
        const headers = { authorization: `Bearer ${await t.token(orgId)}` };
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/elastic-ips',
          headers,
          payload: { idc: 'ops-1', product: 'eip.v6', name: `h${i}`, count: 1, ipAddress: address },
        });
        assert.equal(res.statusCode, 200, res.body);
        const [eip] = res.json() as { id: string }[];
        assert.ok(eip !== undefined);
        holders.push({ orgId, id: eip.id });
        if (period[1] !== null) {
          const rel = await t.app.inject({
            method: 'DELETE',
            url: `/v1/elastic-ips/${eip.id}`,
            headers,
          });
          assert.equal(rel.statusCode, 200, rel.body);
        }
        // The holdings are moved to fixed dates so that instants can be picked exactly.
        await t.db.query('UPDATE elastic_ips SET created_at = $2, released_at = $3 WHERE id = $1', [
          eip.id,
          period[0],
          period[1],
        ]);
      }
      const holding = (n: number, from: string, until: string | null) => ({
        eipId: holders[n]?.id,
        orgId: holders[n]?.orgId,
        ipAddress: address,
        from,
        until,
      });
      const first = holding(0, '2024-01-01T00:00:00.000Z', '2024-02-01T00:00:00.000Z');
      const second = holding(1, '2024-03-01T00:00:00.000Z', '2024-04-01T00:00:00.000Z');
      const third = holding(2, '2024-05-01T00:00:00.000Z', null);

      // Any spelling of the address.
      const all = await history(`ipAddress=${encodeURIComponent('2001:DB8:1:0:0:0:0:7')}`);
      assert.equal(all.statusCode, 200, all.body);
      assert.deepEqual(all.json(), [first, second, third]);

      const at = async (instant: string) => {
        const res = await history(
          `ipAddress=${encodeURIComponent(address)}&at=${encodeURIComponent(instant)}`,
        );
        assert.equal(res.statusCode, 200, res.body);
        return res.json();
      };
      assert.deepEqual(await at('2023-12-31T23:59:59Z'), []);
      assert.deepEqual(await at('2024-01-01T00:00:00Z'), [first]);
      assert.deepEqual(await at('2024-01-15T12:00:00+02:00'), [first]);
      // until is exclusive: released at that instant, no longer held.
      assert.deepEqual(await at('2024-02-01T00:00:00Z'), []);
      assert.deepEqual(await at('2024-03-20T08:30:00.5Z'), [second]);
      assert.deepEqual(await at('2024-06-01T00:00:00Z'), [third]);
      assert.deepEqual(await at('2030-01-01T00:00:00Z'), [third]);
    });

    test('an address never held is an empty list; a malformed one is a 400', async () => {
      const none = await history('ipAddress=203.0.113.6');
      assert.equal(none.statusCode, 200);
      assert.deepEqual(none.json(), []);
      for (const bad of ['010.0.0.1', 'not-an-ip']) {
        const res = await history(`ipAddress=${bad}`);
        assert.equal(res.statusCode, 400, bad);
        assert.equal(res.json().group, 'request');
        assert.equal(res.json().validationDetail[0].field, 'ipAddress');
      }
      const badAt = await history('ipAddress=203.0.113.6&at=yesterday');
      assert.equal(badAt.statusCode, 400);
      const missing = await history('');
      assert.equal(missing.statusCode, 400);
    });
  });
}

for (const backend of BACKENDS) {
  describe(`event stream across transaction-id digit boundaries (${backend})`, () => {
    test('events are ordered by transaction id as a number, not as text (9 before 10)', async () => {
      const t = await startTestApp({ backend, catalog: BASIC_CATALOG });
      try {
        const token = await t.token();
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/elastic-ips',
          headers: { authorization: `Bearer ${token}` },
          payload: { idc: 'test-east1', product: 'eip.ipv4.test', name: 'digits', count: 3 },
        });
        assert.equal(res.statusCode, 200, res.body);
        // Give the three events transaction ids that sort differently as text and as numbers;
        // all far below any live transaction, so the stream may return them at once.
        await t.db.query(
          `UPDATE eip_events SET tx_id = v.tx::xid8
           FROM (SELECT seq, (ARRAY['9','10','99'])[row_number() OVER (ORDER BY seq)] AS tx
                 FROM eip_events) v
           WHERE eip_events.seq = v.seq`,
        );
        const ops = await t.operatorToken();
        const seen: string[] = [];
        let cursor = '';
        for (let page = 0; page < 5; page++) {
          const r = await t.app.inject({
            method: 'GET',
            url: `/v1/admin/events?limit=1${cursor === '' ? '' : `&cursor=${cursor}`}`,
            headers: { authorization: `Bearer ${ops}` },
          });
          assert.equal(r.statusCode, 200, r.body);
          const body = r.json() as { events: { seq: string }[]; cursor: string };
          seen.push(...body.events.map((e) => e.seq));
          cursor = body.cursor;
        }
        assert.deepEqual(seen, ['1', '2', '3'], 'each event once, in transaction-id order');
        const snapshot = await t.app.inject({
          method: 'GET',
          url: '/v1/admin/associations',
          headers: { authorization: `Bearer ${ops}` },
        });
        const after = await t.app.inject({
          method: 'GET',
          url: `/v1/admin/events?cursor=${snapshot.json().cursor}`,
          headers: { authorization: `Bearer ${ops}` },
        });
        assert.deepEqual(after.json().events, [], 'the snapshot cursor is after the last event');
      } finally {
        await t.close();
      }
    });
  });
}
