/**
 * Field cases C3 and C4 under real concurrency on PostgreSQL: parallel associations of one free
 * EIP to two instances must end with exactly one winner (the other refused, never a silent
 * steal), parallel identical associations all succeed with one event, and a removal racing
 * associations never leaves an EIP associated with a removed instance.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { BASIC_CATALOG, startTestApp, type TestApp } from '../support/app.js';

const ROUNDS = 10;

describe('association races (postgres)', () => {
  let t: TestApp;
  let orgId: string;
  let tenant: { authorization: string };
  let ops: { authorization: string };
  before(async () => {
    t = await startTestApp({ backend: 'postgres', catalog: BASIC_CATALOG });
    orgId = randomUUID();
    tenant = { authorization: `Bearer ${await t.token(orgId)}` };
    ops = { authorization: `Bearer ${await t.operatorToken()}` };
  });
  after(() => t.close());

  async function instance(): Promise<string> {
    const id = randomUUID();
    const res = await t.app.inject({
      method: 'PUT',
      url: `/v1/admin/instances/${id}`,
      headers: ops,
      payload: { orgId, idc: 'test-east1', instanceType: 'baremetal' },
    });
    assert.equal(res.statusCode, 200, res.body);
    return id;
  }

  async function allocate(): Promise<string> {
    const res = await t.app.inject({
      method: 'POST',
      url: '/v1/elastic-ips',
      headers: tenant,
      payload: { idc: 'test-east1', product: 'eip.ipv4.test', name: 'race', count: 1 },
    });
    assert.equal(res.statusCode, 200, res.body);
    const [first] = res.json() as { id: string }[];
    assert.ok(first !== undefined);
    return first.id;
  }

  const associate = (eip: string, instanceID: string) =>
    t.app.inject({
      method: 'POST',
      url: `/v1/elastic-ips/${eip}/associate`,
      headers: tenant,
      payload: { instanceID, instanceType: 'baremetal' },
    });

  async function associatedEvents(eip: string): Promise<number> {
    const [row] = await t.db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM eip_events WHERE eip_id = $1 AND type = 'associated'`,
      [eip],
    );
    return row?.n ?? -1;
  }

  test('C3: two parallel associations of a free EIP to X and Y: exactly one succeeds', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const eip = await allocate();
      const x = await instance();
      const y = await instance();
      const answers = await Promise.all([associate(eip, x), associate(eip, y)]);
      const statuses = answers.map((r) => r.statusCode).sort();
      assert.deepEqual(statuses, [200, 400], answers.map((r) => r.body).join('\n'));
      const winner = answers.find((r) => r.statusCode === 200);
      const loser = answers.find((r) => r.statusCode === 400);
      assert.ok(winner !== undefined && loser !== undefined);
      const on = winner.json().instanceID;
      assert.deepEqual(loser.json(), {
        code: 4003,
        reason: `elastic IP ${eip} is associated with baremetal ${on}; set allowReassociation to move it`,
      });
      const [row] = await t.db.query<{ instance_id: string }>(
        'SELECT instance_id FROM elastic_ips WHERE id = $1',
        [eip],
      );
      assert.equal(row?.instance_id, on);
      assert.equal(await associatedEvents(eip), 1);
    }
  });

  test('C4: parallel identical associations all succeed with identical bodies and one event', async () => {
    const eip = await allocate();
    const x = await instance();
    const answers = await Promise.all(Array.from({ length: 8 }, () => associate(eip, x)));
    for (const res of answers) assert.equal(res.statusCode, 200, res.body);
    const bodies = new Set(answers.map((r) => r.body));
    assert.equal(bodies.size, 1);
    assert.equal(await associatedEvents(eip), 1);
  });

  test('C3: removing an instance while EIPs are being associated to it leaves none on it', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const x = await instance();
      const eips = [await allocate(), await allocate(), await allocate()];
      const [removed, ...associations] = await Promise.all([
        t.app.inject({ method: 'DELETE', url: `/v1/admin/instances/${x}`, headers: ops }),
        ...eips.map((eip) => associate(eip, x)),
      ]);
      assert.equal(removed?.statusCode, 200, removed?.body);
      for (const res of associations) assert.ok([200, 404].includes(res.statusCode), res.body);
      const [row] = await t.db.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM elastic_ips WHERE instance_id = $1',
        [x],
      );
      assert.equal(row?.n, 0);
      // Every association that won was undone by the removal, with its event.
      const [balance] = await t.db.query<{ associated: number; disassociated: number }>(
        `SELECT count(*) FILTER (WHERE type = 'associated')::int AS associated,
                count(*) FILTER (WHERE type = 'disassociated')::int AS disassociated
         FROM eip_events WHERE instance_id = $1`,
        [x],
      );
      assert.equal(balance?.associated, balance?.disassociated);
      assert.equal(balance?.associated, associations.filter((r) => r.statusCode === 200).length);
    }
  });
});
