/**
 * listElasticIPs on both engines: order, every filter, released EIPs, query validation, C6 for the
 * ipAddress filter, cursors, isolation between organizations, and keyset paging that returns
 * every EIP exactly once (also while the organization keeps allocating, on PostgreSQL).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import type { ElasticIpResponse } from '../../src/elastic-ips/repository.js';
import { allocateBody, BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

/** The basic catalog with a bigger IPv4 pool in test-east1: the paging tests allocate hundreds. */
const LIST_CATALOG = BASIC_CATALOG.replace('cidr: 192.0.2.0/24', 'cidr: 100.64.0.0/20').replace(
  'reserved: [192.0.2.1]',
  'reserved: [100.64.0.1]',
);
assert.notEqual(LIST_CATALOG, BASIC_CATALOG);

const NEXT = /^<(\/v1\/elastic-ips\?[^>]*)>; rel="next"$/;

for (const backend of BACKENDS) {
  describe(`listElasticIPs (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: LIST_CATALOG });
    });
    after(() => t.close());

    const allocate = async (token: string, overrides: Record<string, unknown> = {}) => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${token}` },
        payload: allocateBody(overrides),
      });
      assert.equal(res.statusCode, 200, res.body);
      return (res.json() as { id: string }[]).map((r) => r.id);
    };
    const get = async (token: string, id: string): Promise<ElasticIpResponse> => {
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${id}`,
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.statusCode, 200, res.body);
      return res.json();
    };
    const list = (token: string, query = '') =>
      t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips${query === '' ? '' : `?${query}`}`,
        headers: { authorization: `Bearer ${token}` },
      });
    /** The ids a query lists (one page, which must be the last). */
    const ids = async (token: string, query = '') => {
      const res = await list(token, query);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers.link, undefined);
      return (res.json() as ElasticIpResponse[]).map((e) => e.id);
    };
    /** Follows Link headers from `first`; answers every page's ids. */
    const pages = async (token: string, first: string) => {
      const seen: string[][] = [];
      let url: string | undefined = `/v1/elastic-ips?${first}`;
      while (url !== undefined) {
        const res: LightMyRequestResponse = await t.app.inject({
          method: 'GET',
          url,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.statusCode, 200, res.body);
        seen.push((res.json() as ElasticIpResponse[]).map((e) => e.id));
        const link = res.headers.link;
        if (link === undefined) url = undefined;
        else {
          assert.equal(typeof link, 'string');
          const match = NEXT.exec(String(link));
          assert.ok(match, `unexpected Link ${String(link)}`);
          url = match[1];
        }
      }
      return seen;
    };
    const bySortKey = (a: ElasticIpResponse, b: ElasticIpResponse) =>
      (a.createdAt ?? '').localeCompare(b.createdAt ?? '') || a.id.localeCompare(b.id);
    const release = (id: string) =>
      t.db.query(
        `UPDATE elastic_ips SET status = 'released', released_at = now(), updated_at = now()
         WHERE id = $1`,
        [id],
      );

    test('lists the EIPs of the organization as elasticIPResp, sorted by (createdAt, id)', async () => {
      const token = await t.token();
      const first = await allocate(token, { count: 3, name: 'batch-1' });
      const second = await allocate(token, { product: 'eip.ipv6.test', name: 'batch-2' });
      const expected = await Promise.all([...first, ...second].map((id) => get(token, id)));
      expected.sort(bySortKey);
      const res = await list(token);
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.headers.link, undefined);
      assert.deepEqual(res.json(), expected);
      // The three of one request share created_at: the id breaks the tie.
      assert.deepEqual(
        (res.json() as ElasticIpResponse[]).slice(0, 3).map((e) => e.id),
        [...first].sort(),
      );
    });

    test('an empty organization lists []', async () => {
      const res = await list(await t.token());
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), []);
      assert.equal(res.headers.link, undefined);
    });

    test('another organization never sees the EIPs, whatever the filters', async () => {
      const owner = await t.token();
      const [id] = await allocate(owner, { name: 'private-1' });
      assert.ok(id);
      const eip = await get(owner, id);
      const stranger = await t.token();
      assert.deepEqual(await ids(stranger), []);
      assert.deepEqual(await ids(stranger, 'name=private-1'), []);
      assert.deepEqual(await ids(stranger, `ipAddress=${eip.ipAddress}`), []);
      assert.deepEqual(await ids(owner, `ipAddress=${eip.ipAddress}`), [id]);
    });

    test('each filter, alone and combined; name is an exact match', async () => {
      const token = await t.token();
      const east = await allocate(token, { count: 2, name: 'east-a' });
      const [west] = await allocate(token, { idc: 'test-west1', name: 'west-b' });
      const [v6] = await allocate(token, { product: 'eip.ipv6.test', name: 'east-c' });
      assert.ok(west && v6 && east[0] && east[1]);
      const instance = randomUUID();
      await t.db.query(
        `UPDATE elastic_ips SET status = 'associated', instance_id = $2, instance_type = 'baremetal'
         WHERE id = $1`,
        [east[0], instance],
      );
      const sortedEast = [...east].sort();
      assert.deepEqual(await ids(token, 'idc=test-west1'), [west]);
      assert.deepEqual(await ids(token, 'idc=test-east1'), [...sortedEast, v6]);
      assert.deepEqual(await ids(token, 'product=eip.ipv6.test'), [v6]);
      assert.deepEqual(await ids(token, 'product=eip.ipv4.test'), [...sortedEast, west]);
      assert.deepEqual(await ids(token, 'name=east-a'), sortedEast);
      assert.deepEqual(await ids(token, 'name=east'), []);
      assert.deepEqual(await ids(token, 'name=EAST-A'), []);
      // No name holds a NUL (the database cannot store one): found by the fuzzer as a 500.
      assert.deepEqual(await ids(token, 'name=east-a%00'), []);
      assert.deepEqual(await ids(token, 'name=%00'), []);
      assert.deepEqual(await ids(token, 'status=associated'), [east[0]]);
      assert.deepEqual(await ids(token, 'status=disassociated'), [east[1], west, v6]);
      assert.deepEqual(await ids(token, `instanceID=${instance}`), [east[0]]);
      assert.deepEqual(await ids(token, `instanceID=${instance.toUpperCase()}`), [east[0]]);
      assert.deepEqual(await ids(token, `instanceID=${randomUUID()}`), []);
      assert.deepEqual(await ids(token, 'idc=test-east1&product=eip.ipv4.test&name=east-a'), [
        ...sortedEast,
      ]);
      assert.deepEqual(await ids(token, 'idc=test-west1&name=east-a'), []);
      assert.deepEqual(await ids(token, 'idc=nowhere-1'), []);

      const westEip = await get(token, west);
      assert.deepEqual(await ids(token, `ipAddress=${westEip.ipAddress}`), [west]);
      // ::ffff:a.b.c.d is the IPv4 address itself.
      assert.deepEqual(await ids(token, `ipAddress=::ffff:${westEip.ipAddress}`), [west]);
      assert.deepEqual(await ids(token, `ipAddress=::FFFF:${westEip.ipAddress}`), [west]);
      const v6Eip = await get(token, v6);
      // Any spelling of the IPv6 address: upper case, uncompressed.
      assert.match(v6Eip.ipAddress, /^2001:db8::[0-9a-f]{1,4}$/);
      const last = v6Eip.ipAddress.split('::')[1] ?? '';
      assert.deepEqual(await ids(token, `ipAddress=${v6Eip.ipAddress.toUpperCase()}`), [v6]);
      assert.deepEqual(await ids(token, `ipAddress=2001:0db8:0:0:0:0:0:${last}`), [v6]);
      assert.deepEqual(await ids(token, 'ipAddress=203.0.113.9'), []);
    });

    test('released EIPs are listed only when status=released is asked for', async () => {
      const token = await t.token();
      const [kept, gone] = await allocate(token, { count: 2, name: 'rel' });
      assert.ok(kept && gone);
      await release(gone);
      assert.deepEqual(await ids(token), [kept]);
      assert.deepEqual(await ids(token, 'name=rel'), [kept]);
      assert.deepEqual(await ids(token, 'status=released'), [gone]);
      const [released] = (await list(token, 'status=released')).json() as ElasticIpResponse[];
      assert.equal(released?.status, 'released');
      assert.equal(typeof released?.releasedAt, 'string');
      assert.deepEqual(released, await get(token, gone));
    });

    test('query parameters are validated: limit range and type, status enum, unknown ones', async () => {
      const token = await t.token();
      const cases: [string, Record<string, string>][] = [
        [
          'limit=0',
          {
            field: 'limit',
            expression: 'minimum',
            argument: '1',
            originalValue: '"0"',
            reason: 'This field is below the minimum.',
          },
        ],
        [
          'limit=1001',
          {
            field: 'limit',
            expression: 'maximum',
            argument: '1000',
            originalValue: '"1001"',
            reason: 'This field is above the maximum.',
          },
        ],
        [
          'limit=abc',
          {
            field: 'limit',
            expression: 'type',
            argument: 'integer',
            originalValue: '"abc"',
            reason: 'This field has the wrong type.',
          },
        ],
        [
          'limit=1.5',
          {
            field: 'limit',
            expression: 'type',
            argument: 'integer',
            originalValue: '"1.5"',
            reason: 'This field has the wrong type.',
          },
        ],
        [
          'status=bogus',
          {
            field: 'status',
            expression: 'enum',
            argument: 'released,associated,disassociated',
            originalValue: '"bogus"',
            reason: 'This field is not one of the allowed values.',
          },
        ],
        [
          'foo=1',
          {
            field: 'foo',
            expression: 'additionalProperties',
            argument: 'false',
            originalValue: '"1"',
            reason: 'This field is not allowed.',
          },
        ],
        [
          'instanceID=not-a-uuid',
          {
            field: 'instanceID',
            expression: 'format',
            argument: 'uuid',
            originalValue: '"not-a-uuid"',
            reason: 'This field is not in the required format.',
          },
        ],
        [
          'idc=bad%20idc',
          {
            field: 'idc',
            expression: 'pattern',
            argument: '^[a-zA-Z0-9._-]+$',
            originalValue: '"bad idc"',
            reason: 'This field does not match the required pattern.',
          },
        ],
      ];
      for (const [query, detail] of cases) {
        const res = await list(token, query);
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
        assert.deepEqual(
          res.json(),
          {
            group: 'request',
            code: 0,
            message: 'The query parameters are invalid; see validationDetail.',
            validationDetail: [detail],
          },
          query,
        );
      }
    });

    test('validation comes after authentication', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/v1/elastic-ips?limit=0' });
      assert.equal(res.statusCode, 401);
    });

    test('C6: the ipAddress filter refuses ambiguous IPv4 spellings with a 400', async () => {
      const token = await t.token();
      for (const bad of [
        '010.0.0.1',
        '10.1',
        '4294967423.0.0.1',
        '1.2.3.4 ',
        '1.2.3.04',
        '1.2.3.256',
      ]) {
        const res = await list(token, `ipAddress=${encodeURIComponent(bad)}`);
        assert.equal(res.statusCode, 400, `${JSON.stringify(bad)}: ${res.body}`);
        assert.deepEqual(
          res.json(),
          {
            group: 'request',
            code: 0,
            message: 'The query parameters are invalid; see validationDetail.',
            validationDetail: [
              {
                field: 'ipAddress',
                expression: 'format',
                argument: 'ip-address',
                originalValue: JSON.stringify(bad),
                reason: 'This field is not in the required format.',
              },
            ],
          },
          bad,
        );
      }
      const res = await list(token, 'ipAddress=10.0.0.1');
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), []);
    });

    test('the Link header keeps the filters and the limit; the last page has none', async () => {
      const token = await t.token();
      const created = await allocate(token, { count: 5, name: 'paged one' });
      await allocate(token, { name: 'other' });
      const first = await list(token, 'name=paged%20one&limit=2');
      assert.equal(first.statusCode, 200, first.body);
      const link = String(first.headers.link);
      assert.match(
        link,
        /^<\/v1\/elastic-ips\?name=paged%20one&limit=2&cursor=[A-Za-z0-9_-]+>; rel="next"$/,
      );
      const seen = await pages(token, 'name=paged%20one&limit=2');
      assert.deepEqual(
        seen.map((p) => p.length),
        [2, 2, 1],
      );
      assert.deepEqual(seen.flat(), [...created].sort());
      // Exactly `limit` left: no empty last page announced.
      assert.deepEqual(
        (await pages(token, 'name=paged%20one&limit=5')).map((p) => p.length),
        [5],
      );
    });

    test('timestamps differing by a microsecond page exactly once each', async () => {
      const token = await t.token();
      const created = await allocate(token, { count: 4, name: 'micro' });
      const [a, b, c, d] = [...created].sort();
      assert.ok(a && b && c && d);
      // Within one millisecond, so a cursor rounded to a JS Date would skip or repeat.
      const at = [
        [d, '2030-01-01T00:00:00.000001Z'],
        [c, '2030-01-01T00:00:00.000002Z'],
        [b, '2030-01-01T00:00:00.000002Z'],
        [a, '2030-01-01T00:00:00.000999Z'],
      ] as const;
      for (const [id, ts] of at)
        await t.db.query('UPDATE elastic_ips SET created_at = $2 WHERE id = $1', [id, ts]);
      const seen = await pages(token, 'name=micro&limit=1');
      assert.deepEqual(seen, [[d], [b], [c], [a]]);
    });

    test('an invalid cursor is a 400: garbled, edited, or made for other filters or another organization', async () => {
      const token = await t.token();
      await allocate(token, { count: 3, name: 'cur' });
      const first = await list(token, 'name=cur&limit=1');
      const cursor = /cursor=([A-Za-z0-9_-]+)>/.exec(String(first.headers.link))?.[1];
      assert.ok(cursor);
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const edit = (change: Record<string, unknown>) =>
        Buffer.from(JSON.stringify({ ...decoded, ...change })).toString('base64url');
      const bad = [
        'name=cur&cursor=garbage!',
        'name=cur&cursor=abc',
        `name=cur&cursor=${Buffer.from('[1,2]').toString('base64url')}`,
        `name=cur&cursor=${Buffer.from('null').toString('base64url')}`,
        `name=cur&cursor=${edit({ t: '2024-13-01T00:00:00.000000Z' })}`,
        `name=cur&cursor=${edit({ t: '2024-02-30T00:00:00.000000Z' })}`,
        `name=cur&cursor=${edit({ t: 'now' })}`,
        `name=cur&cursor=${edit({ i: 'not-a-uuid' })}`,
        `name=cur&cursor=${edit({ s: 'x' })}`,
        `name=other&cursor=${cursor}`,
        `cursor=${cursor}`,
        `name=cur&status=released&cursor=${cursor}`,
      ];
      for (const query of bad) {
        const res = await list(token, query);
        assert.equal(res.statusCode, 400, `${query}: ${res.body}`);
        assert.deepEqual(res.json(), { code: 4007, reason: 'cursor is invalid' }, query);
      }
      const stranger = await list(await t.token(), `name=cur&cursor=${cursor}`);
      assert.equal(stranger.statusCode, 400);
      assert.deepEqual(stranger.json(), { code: 4007, reason: 'cursor is invalid' });
      // The limit may change between pages.
      const next = await list(token, `name=cur&limit=5&cursor=${cursor}`);
      assert.equal(next.statusCode, 200, next.body);
      assert.equal((next.json() as unknown[]).length, 2);
      const tooLong = await list(token, `cursor=${'a'.repeat(201)}`);
      assert.equal(tooLong.statusCode, 400);
    });

    test('a cursor timestamp edited to anything the database cannot compare is a 400, never a 500', async () => {
      const token = await t.token();
      const created = await allocate(token, { count: 2, name: 'edited' });
      const first = await list(token, 'name=edited&limit=1');
      const cursor = /cursor=([A-Za-z0-9_-]+)>/.exec(String(first.headers.link))?.[1];
      assert.ok(cursor);
      const decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
      const at = (createdAt: string) =>
        list(
          token,
          `name=edited&cursor=${Buffer.from(JSON.stringify({ ...decoded, t: createdAt })).toString('base64url')}`,
        );
      for (const createdAt of [
        '0000-01-01T00:00:00.000000Z',
        '300000-01-01T00:00:00.000000Z',
        '+002024-01-01T00:00:00.000000Z',
        '-0001-01-01T00:00:00.000000Z',
        '2024-00-01T00:00:00.000000Z',
        '2024-13-01T00:00:00.000000Z',
        '2024-01-00T00:00:00.000000Z',
        '2024-01-32T00:00:00.000000Z',
        '2023-02-29T00:00:00.000000Z',
        '2024-02-30T00:00:00.000000Z',
        '2024-04-31T00:00:00.000000Z',
        '2024-01-01T24:00:00.000000Z',
        '2024-01-01T24:00:01.000000Z',
        '2024-01-01T23:60:00.000000Z',
        '2024-01-01T23:59:60.000000Z',
        '2024-01-01T00:00:00.0000000000Z',
        '2024-01-01T00:00:00.000Z',
        '2024-01-01T00:00:00Z',
        '2024-01-01T00:00:00.000000+00:00',
        '2024-01-01t00:00:00.000000z',
        '2024-01-01 00:00:00.000000Z',
        '２０２４-01-01T00:00:00.000000Z',
        'infinity',
        '-infinity',
        'epoch',
        '',
      ]) {
        const res = await at(createdAt);
        assert.equal(res.statusCode, 400, `${createdAt}: ${res.body}`);
        assert.deepEqual(res.json(), { code: 4007, reason: 'cursor is invalid' }, createdAt);
      }
      // The first and last instants PostgreSQL stores with a four-digit year are positions.
      const everything = await at('0001-01-01T00:00:00.000000Z');
      assert.equal(everything.statusCode, 200, everything.body);
      assert.deepEqual(
        (everything.json() as ElasticIpResponse[]).map((e) => e.id),
        [...created].sort(),
      );
      const leap = await at('2024-02-29T23:59:59.999999Z');
      assert.equal(leap.statusCode, 200, leap.body);
      const end = await at('9999-12-31T23:59:59.999999Z');
      assert.equal(end.statusCode, 200, end.body);
      assert.deepEqual(end.json(), []);
    });

    test('250 EIPs paged with limit=100 come back exactly once each', async () => {
      const orgId = randomUUID();
      const token = await t.token(orgId);
      const created = [
        ...(await allocate(token, { count: 100, name: 'bulk' })),
        ...(await allocate(token, { count: 100, name: 'bulk' })),
        ...(await allocate(token, { count: 50, name: 'bulk' })),
      ];
      assert.equal(new Set(created).size, 250);
      const seen = await pages(token, 'limit=100');
      assert.deepEqual(
        seen.map((p) => p.length),
        [100, 100, 50],
      );
      assert.deepEqual([...seen.flat()].sort(), [...created].sort());
      assert.equal(new Set(seen.flat()).size, 250);
      // A page size that cuts through the EIPs of one request (which share created_at).
      const small = await pages(token, 'limit=33');
      assert.equal(small.length, 8);
      assert.deepEqual([...small.flat()].sort(), [...created].sort());
      // Default limit 100.
      assert.deepEqual(
        (await pages(token, '')).map((p) => p.length),
        [100, 100, 50],
      );
      // Every page is in (createdAt, id) order and continues the previous one.
      const all = (await list(token, 'limit=1000')).json() as ElasticIpResponse[];
      assert.deepEqual(
        all.map((e) => e.id),
        small.flat(),
      );
    });

    if (backend === 'postgres') {
      test('250 EIPs paged by 100 come back exactly once while others are allocated and released', async () => {
        const token = await t.token();
        const before = [
          ...(await allocate(token, { count: 100, name: 'busy' })),
          ...(await allocate(token, { count: 100, name: 'busy' })),
          ...(await allocate(token, { count: 50, name: 'busy' })),
        ];
        // Other EIPs of the same organization come and go while the pages are read.
        const churn = Promise.all(
          Array.from({ length: 12 }, async () => {
            const ids = await allocate(token, { count: 5, name: 'churn' });
            const gone = ids.slice(0, 2);
            for (const id of gone) {
              const res = await t.app.inject({
                method: 'DELETE',
                url: `/v1/elastic-ips/${id}`,
                headers: { authorization: `Bearer ${token}` },
              });
              assert.equal(res.statusCode, 200, res.body);
            }
            return { kept: ids.slice(2), gone };
          }),
        );
        const seen = (await pages(token, 'limit=100')).flat();
        const during = await churn;
        assert.equal(new Set(seen).size, seen.length, 'an EIP was listed twice');
        for (const id of before)
          assert.equal(seen.filter((s) => s === id).length, 1, `${id} missing`);
        const kept = during.flatMap((d) => d.kept);
        const gone = during.flatMap((d) => d.gone);
        const known = new Set([...before, ...kept, ...gone]);
        for (const id of seen) assert.ok(known.has(id), `${id} is not the organization's`);
        // Afterwards everything live is there exactly once, and nothing released.
        const final = (await pages(token, 'limit=100')).flat();
        assert.deepEqual([...final].sort(), [...before, ...kept].sort());
      });
    }
  });
}

describe('listElasticIPs integer parameters are plain decimal text', () => {
  test('limit=1e2, 0x10, +5, 01 and " 5" are refused as the wrong type, 5 is accepted', async () => {
    const t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    try {
      const token = await t.token();
      for (const limit of ['1e2', '0x10', '+5', '01', ' 5', 'abc']) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/elastic-ips?limit=${encodeURIComponent(limit)}`,
          headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(res.statusCode, 400, `${limit}: ${res.body}`);
        assert.deepEqual(res.json().validationDetail, [
          {
            field: 'limit',
            expression: 'type',
            argument: 'integer',
            originalValue: JSON.stringify(limit),
            reason: 'This field has the wrong type.',
          },
        ]);
      }
      const ok = await t.app.inject({
        method: 'GET',
        url: '/v1/elastic-ips?limit=5',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(ok.statusCode, 200, ok.body);
    } finally {
      await t.close();
    }
  });
});
