/**
 * updateElasticIP (rename) and listElasticIPProducts on both engines: exact bodies, the 404s and
 * 400s, events, idempotence, and concurrent renames serializing (PostgreSQL).
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ElasticIpResponse } from '../../src/elastic-ips/repository.js';
import { allocateBody, BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

/** An IDC with no pool offers nothing, and neither does one whose only pool is disabled. */
const PRODUCTS_CATALOG = `${BASIC_CATALOG}  - name: south-v4
    idc: test-south1
    cidr: 203.0.113.0/24
    products: [eip.unoffered]
    enabled: false
`.replace('idcs:\n', 'idcs:\n  - name: test-south1\n  - name: test-empty1\n');

for (const backend of BACKENDS) {
  describe(`updateElasticIP (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
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
      const [first] = res.json() as { id: string }[];
      assert.ok(first);
      return first.id;
    };
    const get = async (token: string, id: string): Promise<ElasticIpResponse> =>
      (
        await t.app.inject({
          method: 'GET',
          url: `/v1/elastic-ips/${id}`,
          headers: { authorization: `Bearer ${token}` },
        })
      ).json();
    const rename = (token: string | undefined, id: string, payload: unknown) =>
      t.app.inject({
        method: 'PATCH',
        url: `/v1/elastic-ips/${id}`,
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        payload: JSON.stringify(payload),
      });
    const events = (id: string) =>
      t.db.query<{ type: string; actor: string | null; detail: unknown }>(
        'SELECT type, actor, detail FROM eip_events WHERE eip_id = $1 ORDER BY seq',
        [id],
      );

    test('renames, answers the EIP after the change, and writes one renamed event', async () => {
      const token = await t.token(randomUUID(), { subject: 'bob@example.test' });
      const id = await allocate(token, { name: 'old-name' });
      const before = await get(token, id);
      const res = await rename(token, id.toUpperCase(), { name: 'new name 2' });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json() as ElasticIpResponse;
      assert.deepEqual(
        { ...body, updatedAt: undefined },
        { ...before, name: 'new name 2', updatedAt: undefined },
      );
      assert.ok(Date.parse(body.updatedAt ?? '') >= Date.parse(before.updatedAt ?? ''));
      assert.deepEqual(await get(token, id), body);
      assert.deepEqual(await events(id), [
        {
          type: 'allocated',
          actor: 'bob@example.test',
          detail: { product: 'eip.ipv4.test', pool: 'east-v4', name: 'old-name' },
        },
        {
          type: 'renamed',
          actor: 'bob@example.test',
          detail: { from: 'old-name', to: 'new name 2' },
        },
      ]);
    });

    test('renaming to the same name succeeds and changes nothing', async () => {
      const token = await t.token();
      const id = await allocate(token, { name: 'same' });
      const before = await get(token, id);
      const res = await rename(token, id, { name: 'same' });
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), before);
      assert.deepEqual(
        (await events(id)).map((e) => e.type),
        ['allocated'],
      );
    });

    test('404 for an unknown id, another organization, and a non-uuid', async () => {
      const owner = await t.token();
      const id = await allocate(owner, { name: 'mine' });
      const unknown = randomUUID();
      for (const [token, target] of [
        [owner, unknown],
        [await t.token(), id],
        [owner, 'not-a-uuid'],
      ] as const) {
        const res = await rename(token, target, { name: 'taken' });
        assert.equal(res.statusCode, 404, res.body);
        assert.deepEqual(res.json(), { code: 4044, reason: `elastic IP ${target} was not found` });
      }
      assert.equal((await get(owner, id)).name, 'mine');
    });

    test('a released EIP cannot be renamed', async () => {
      const token = await t.token();
      const id = await allocate(token, { name: 'gone' });
      await t.db.query(
        `UPDATE elastic_ips SET status = 'released', released_at = now() WHERE id = $1`,
        [id],
      );
      for (const name of ['other', 'gone']) {
        const res = await rename(token, id, { name });
        assert.equal(res.statusCode, 400, res.body);
        assert.deepEqual(res.json(), { code: 4006, reason: `elastic IP ${id} is released` });
      }
      assert.deepEqual(
        (await events(id)).map((e) => e.type),
        ['allocated'],
      );
    });

    test('the body is validated strictly, after authentication and before existence', async () => {
      const token = await t.token();
      const id = await allocate(token);
      const anonymous = await rename(undefined, id, { name: 'x' });
      assert.equal(anonymous.statusCode, 401);
      const cases: [unknown, Record<string, string>[]][] = [
        [
          {},
          [
            {
              field: 'name',
              expression: 'required',
              argument: '',
              originalValue: '',
              reason: 'This field is required.',
            },
          ],
        ],
        [
          { name: 'ok', extra: 1 },
          [
            {
              field: 'extra',
              expression: 'additionalProperties',
              argument: 'false',
              originalValue: '1',
              reason: 'This field is not allowed.',
            },
          ],
        ],
        [
          { name: ' leading' },
          [
            {
              field: 'name',
              expression: 'pattern',
              argument: '^([A-Za-z0-9][A-Za-z0-9_\\-. ]*)?[A-Za-z0-9]$',
              originalValue: '" leading"',
              reason: 'This field does not match the required pattern.',
            },
          ],
        ],
      ];
      for (const [payload, detail] of cases) {
        for (const target of [id, 'not-a-uuid']) {
          const res = await rename(token, target, payload);
          assert.equal(res.statusCode, 400, res.body);
          assert.deepEqual(res.json(), {
            group: 'request',
            code: 0,
            message: 'The request body is invalid; see validationDetail.',
            validationDetail: detail,
          });
        }
      }
    });

    if (backend === 'postgres') {
      test('concurrent renames serialize: each event replaces the name the previous one set', async () => {
        const token = await t.token();
        const id = await allocate(token, { name: 'start' });
        const names = Array.from({ length: 12 }, (_, i) => `name-${i}`);
        const answers = await Promise.all(names.map((name) => rename(token, id, { name })));
        for (const a of answers) assert.equal(a.statusCode, 200, a.body);
        const renamed = (await events(id))
          .filter((e) => e.type === 'renamed')
          .map((e) => e.detail as { from: string; to: string });
        assert.equal(renamed.length, 12);
        let current = 'start';
        for (const r of renamed) {
          assert.equal(r.from, current);
          current = r.to;
        }
        assert.deepEqual([...renamed.map((r) => r.to)].sort(), [...names].sort());
        assert.equal((await get(token, id)).name, current);
      });
    }
  });

  describe(`listElasticIPProducts (${backend})`, () => {
    let t: TestApp;
    before(async () => {
      t = await startTestApp({ backend, catalog: PRODUCTS_CATALOG });
    });
    after(() => t.close());

    const products = (query: string, token?: string) =>
      t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/products${query === '' ? '' : `?${query}`}`,
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
      });
    const east = [
      {
        name: 'eip.ipv4.test',
        idc: 'test-east1',
        internetConnectionType: 'BGP',
        maxBandwidth: '100 Gbps',
        ipVersion: 'IPv4',
      },
      {
        name: 'eip.ipv6.test',
        idc: 'test-east1',
        internetConnectionType: 'Dual-Homed',
        maxBandwidth: '25 Gbps',
        ipVersion: 'IPv6',
      },
    ];
    const west = [
      {
        name: 'eip.ipv4.test',
        idc: 'test-west1',
        internetConnectionType: 'BGP',
        maxBandwidth: '100 Gbps',
        ipVersion: 'IPv4',
      },
    ];

    test('lists every offered product per IDC, sorted by IDC then name', async () => {
      const res = await products('', await t.token());
      assert.equal(res.statusCode, 200, res.body);
      assert.deepEqual(res.json(), [...east, ...west]);
    });

    test('the idc filter; an IDC without pools, or with only a disabled one, offers nothing', async () => {
      const token = await t.token();
      for (const [idc, expected] of [
        ['test-east1', east],
        ['test-west1', west],
        ['test-south1', []],
        ['test-empty1', []],
      ] as const) {
        const res = await products(`idc=${idc}`, token);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), expected, idc);
      }
    });

    test('an unknown IDC is a 404; a malformed one or an unknown parameter a 400; anonymous a 401', async () => {
      const token = await t.token();
      const unknown = await products('idc=nowhere-1', token);
      assert.equal(unknown.statusCode, 404);
      assert.deepEqual(unknown.json(), { code: 4041, reason: 'IDC nowhere-1 was not found' });
      const malformed = await products('idc=no%20where', token);
      assert.equal(malformed.statusCode, 400);
      assert.deepEqual(malformed.json(), {
        group: 'request',
        code: 0,
        message: 'The query parameters are invalid; see validationDetail.',
        validationDetail: [
          {
            field: 'idc',
            expression: 'pattern',
            argument: '^[a-zA-Z0-9._-]+$',
            originalValue: '"no where"',
            reason: 'This field does not match the required pattern.',
          },
        ],
      });
      const extra = await products('product=x', token);
      assert.equal(extra.statusCode, 400);
      assert.equal(
        (extra.json() as { validationDetail: { expression: string }[] }).validationDetail[0]
          ?.expression,
        'additionalProperties',
      );
      const anonymous = await products('idc=nowhere-1');
      assert.equal(anonymous.statusCode, 401);
    });
  });
}
