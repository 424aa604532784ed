/**
 * The isolation matrix: every operation of openapi/eipd.yaml × every kind of caller, on both
 * engines.
 *
 * | caller                                      | tenant operations          | operator operations | health |
 * |---------------------------------------------|----------------------------|---------------------|--------|
 * | owner: a tenant token of the organization   | 200                        | 403 (no admin scope)| 200    |
 * | stranger: a tenant token of another one     | 404 when naming an EIP, else 200 with its own data | 403 | 200 |
 * | operator: admin scope, no organization      | 401 (no organization claim)| 200                 | 200    |
 * | nobody: no token                            | 401                        | 401                 | 200    |
 *
 * Every call that succeeds for its caller is a real one (a fresh EIP of the owner, a registered
 * instance, ...), so a 404 or 403 is never an accident of missing data. No answer to anyone but
 * the owner and the operator (body and headers) contains the owner's organization id, EIP ids or
 * addresses; the stranger's 404 for the owner's EIP is the very answer a random uuid gets, and
 * the EIP is unchanged after the stranger's attempts. A new operation that is not in the table
 * fails the walk.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { listOperations, loadOpenApi } from '../../src/http/openapi.js';
import { allocateBody, BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS } from '../support/databases.js';

type Caller = 'owner' | 'stranger' | 'operator' | 'nobody';
const CALLERS: readonly Caller[] = ['owner', 'stranger', 'operator', 'nobody'];

/** What one call of the matrix is about: a fresh EIP and instance of the owner. */
interface Subject {
  ownerOrg: string;
  /** A disassociated EIP of the owner, allocated for this call. */
  eip: string;
  address: string;
  /** An instance of the owner in the EIP's IDC, registered for this call. */
  instance: string;
}

interface Call {
  path: (s: Subject) => string;
  body?: (s: Subject) => Record<string, unknown>;
  /** The operation names an EIP of the owner: the stranger gets 404. */
  namesEip?: true;
  kind: 'tenant' | 'operator' | 'health';
}

/** A call for each operation, keyed by operationId, that succeeds for the right caller. */
const CALLS: Readonly<Record<string, Call>> = {
  allocateElasticIP: { kind: 'tenant', path: () => '/v1/elastic-ips', body: () => allocateBody() },
  listElasticIPs: { kind: 'tenant', path: () => '/v1/elastic-ips' },
  listElasticIPProducts: { kind: 'tenant', path: () => '/v1/elastic-ips/products' },
  getElasticIP: { kind: 'tenant', namesEip: true, path: (s) => `/v1/elastic-ips/${s.eip}` },
  updateElasticIP: {
    kind: 'tenant',
    namesEip: true,
    path: (s) => `/v1/elastic-ips/${s.eip}`,
    body: () => ({ name: 'renamed' }),
  },
  releaseElasticIP: { kind: 'tenant', namesEip: true, path: (s) => `/v1/elastic-ips/${s.eip}` },
  associateElasticIP: {
    kind: 'tenant',
    namesEip: true,
    path: (s) => `/v1/elastic-ips/${s.eip}/associate`,
    body: (s) => ({ instanceID: s.instance, instanceType: 'baremetal' }),
  },
  disassociateElasticIP: {
    kind: 'tenant',
    namesEip: true,
    path: (s) => `/v1/elastic-ips/${s.eip}/disassociate`,
  },
  registerInstance: {
    kind: 'operator',
    path: () => `/v1/admin/instances/${randomUUID()}`,
    body: (s) => ({ orgId: s.ownerOrg, idc: 'test-east1', instanceType: 'container' }),
  },
  removeInstance: { kind: 'operator', path: (s) => `/v1/admin/instances/${s.instance}` },
  listEvents: { kind: 'operator', path: () => '/v1/admin/events' },
  listOperatorActions: { kind: 'operator', path: () => '/v1/admin/operator-actions' },
  listAssociations: { kind: 'operator', path: () => '/v1/admin/associations' },
  getAddressHistory: {
    kind: 'operator',
    path: (s) => `/v1/admin/address-history?ipAddress=${s.address}`,
  },
  listPools: { kind: 'operator', path: () => '/v1/admin/pools' },
  updatePool: {
    kind: 'operator',
    path: () => '/v1/admin/pools/east-v4',
    body: () => ({ enabled: true }),
  },
  listQuotas: { kind: 'operator', path: (s) => `/v1/admin/organizations/${s.ownerOrg}/quotas` },
  setQuota: {
    kind: 'operator',
    path: (s) => `/v1/admin/organizations/${s.ownerOrg}/quotas/test-west1`,
    body: () => ({ limit: 1000 }),
  },
  removeQuotaOverride: {
    kind: 'operator',
    path: (s) => `/v1/admin/organizations/${s.ownerOrg}/quotas/test-west1`,
  },
  getHealth: { kind: 'health', path: () => '/healthz' },
  getReadiness: { kind: 'health', path: () => '/readyz' },
};

function expectedStatus(call: Call, caller: Caller): number {
  if (call.kind === 'health') return 200;
  if (caller === 'nobody') return 401;
  if (call.kind === 'operator') return caller === 'operator' ? 200 : 403;
  if (caller === 'operator') return 401;
  if (caller === 'stranger' && call.namesEip) return 404;
  return 200;
}

const operations = listOperations(loadOpenApi({ maxAllocateCount: 100 }));

describe('isolation matrix: the table covers the document', () => {
  test('every operation of openapi/eipd.yaml has a call in the matrix, and nothing else', () => {
    assert.deepEqual(Object.keys(CALLS).sort(), operations.map((o) => o.operationId).sort());
  });
});

for (const backend of BACKENDS) {
  describe(`isolation matrix (${backend})`, () => {
    let t: TestApp;
    let ownerOrg: string;
    const tokens = new Map<Caller, string | undefined>();
    /** Everything of the owner's that must not reach another caller. */
    const secrets = new Set<string>();

    const allocate = async (): Promise<{ id: string; address: string }> => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: { authorization: `Bearer ${tokens.get('owner')}` },
        payload: allocateBody({ name: 'owned' }),
      });
      assert.equal(res.statusCode, 200, res.body);
      const [created] = res.json() as { id: string }[];
      assert.ok(created);
      const got = await t.app.inject({
        method: 'GET',
        url: `/v1/elastic-ips/${created.id}`,
        headers: { authorization: `Bearer ${tokens.get('owner')}` },
      });
      const { ipAddress } = got.json() as { ipAddress: string };
      secrets.add(created.id);
      secrets.add(ipAddress);
      return { id: created.id, address: ipAddress };
    };

    const subject = async (): Promise<Subject> => {
      const { id, address } = await allocate();
      const instance = randomUUID();
      const res = await t.app.inject({
        method: 'PUT',
        url: `/v1/admin/instances/${instance}`,
        headers: { authorization: `Bearer ${tokens.get('operator')}` },
        payload: { orgId: ownerOrg, idc: 'test-east1', instanceType: 'baremetal' },
      });
      assert.equal(res.statusCode, 200, res.body);
      return { ownerOrg, eip: id, address, instance };
    };

    const send = (operationId: string, call: Call, s: Subject, caller: Caller, path?: string) => {
      const op = operations.find((o) => o.operationId === operationId);
      assert.ok(op, operationId);
      const token = tokens.get(caller);
      return t.app.inject({
        method: op.method,
        url: path ?? call.path(s),
        headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        ...(call.body === undefined ? {} : { payload: call.body(s) }),
      });
    };

    /** The answer as one text, headers included, with `requested` (what the caller sent) masked. */
    const answerText = (res: LightMyRequestResponse, requested: string[] = []) => {
      // Ids are answered in lower case whatever case they were sent in.
      let text = `${JSON.stringify(res.headers)}\n${res.body}`.toLowerCase();
      for (const value of requested) text = text.split(value.toLowerCase()).join('<requested>');
      return text;
    };

    const assertNothingLeaks = (
      res: LightMyRequestResponse,
      label: string,
      requested?: string[],
    ) => {
      const text = answerText(res, requested);
      for (const secret of secrets) {
        assert.ok(!text.includes(secret.toLowerCase()), `${label} reveals ${secret}: ${text}`);
      }
    };

    before(async () => {
      t = await startTestApp({ backend, catalog: BASIC_CATALOG });
      ownerOrg = randomUUID();
      secrets.add(ownerOrg);
      tokens.set('owner', await t.token(ownerOrg));
      tokens.set('stranger', await t.token());
      tokens.set('operator', await t.operatorToken());
      tokens.set('nobody', undefined);
    });
    after(() => t.close());

    for (const [operationId, call] of Object.entries(CALLS)) {
      test(`${operationId}: ${CALLERS.map((c) => `${c} ${expectedStatus(call, c)}`).join(', ')}`, async () => {
        for (const caller of CALLERS) {
          const s = await subject();
          const res = await send(operationId, call, s, caller);
          const label = `${operationId} by ${caller}`;
          assert.equal(res.statusCode, expectedStatus(call, caller), `${label}: ${res.body}`);
          assert.ok(res.headers['x-request-id'], label);
          if (res.statusCode === 401) {
            assert.match(String(res.headers['www-authenticate']), /^Bearer/, label);
          }
          if (res.statusCode === 403) {
            assert.deepEqual(res.json(), {
              code: 4031,
              reason: 'this operation needs the eip:admin scope',
            });
          }
          // The owner sees its own data and operators see everyone's; nobody else sees any.
          if (caller === 'owner' || caller === 'operator') continue;
          if (caller === 'stranger' && call.namesEip) {
            // The same answer as for an id that never existed, but for the id itself.
            assert.deepEqual(res.json(), {
              code: 4044,
              reason: `elastic IP ${s.eip} was not found`,
            });
            const unknown = randomUUID();
            const control = await send(
              operationId,
              call,
              s,
              caller,
              call.path(s).replace(s.eip, unknown),
            );
            assert.equal(control.statusCode, 404, label);
            assert.deepEqual(
              Object.keys(control.headers).sort(),
              Object.keys(res.headers).sort(),
              label,
            );
            assert.equal(control.body.replace(unknown, s.eip), res.body, label);
            // Upper case is the same id: the same 404.
            const upper = await send(
              operationId,
              call,
              s,
              caller,
              call.path(s).replace(s.eip, s.eip.toUpperCase()),
            );
            assert.equal(upper.statusCode, 404, label);
            assertNothingLeaks(res, label, [s.eip]);
            assertNothingLeaks(upper, `${label} (upper case)`, [s.eip.toUpperCase()]);
            // And nothing changed.
            const [row] = await t.db.query<{ name: string; status: string; instance_id: null }>(
              'SELECT name, status, instance_id FROM elastic_ips WHERE id = $1',
              [s.eip],
            );
            assert.deepEqual(
              { name: row?.name, status: row?.status, instance: row?.instance_id },
              { name: 'owned', status: 'disassociated', instance: null },
              label,
            );
            continue;
          }
          // The query string of address-history carries the owner's address; it is the
          // caller's own input, and must not come back either.
          assertNothingLeaks(res, label);
        }
      });
    }

    test('another organization lists nothing of the owner, whatever the filter', async () => {
      const s = await subject();
      const stranger = await t.token();
      for (const query of [
        '',
        `?ipAddress=${s.address}`,
        '?status=released',
        '?name=owned',
        `?instanceID=${s.instance}`,
      ]) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/elastic-ips${query}`,
          headers: { authorization: `Bearer ${stranger}` },
        });
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(res.json(), [], query);
        assertNothingLeaks(res, `list ${query}`, [s.address, s.instance]);
      }
    });
  });
}
