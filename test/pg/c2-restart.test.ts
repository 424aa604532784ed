/**
 * Field case C2: an address handed out before a restart stays handed out after it. Nothing about
 * which addresses are free may live in a process's memory: a restarted replica, or another replica
 * on the same database, must see a held address as held and refuse it with 503/5031.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import type { TestDatabase } from '../support/databases.js';
import type { FleetProcess } from '../support/fleet.js';
import { assertNoUnexpectedErrors, nth, withFleet } from '../support/fleet-database.js';
import {
  allocatedIds,
  assertNoFreeAddress,
  getElasticIp,
  getJson,
  type JsonResponse,
  postJson,
  releaseTogether,
} from '../support/http.js';

const CATALOG = `
idcs:
  - name: c2-idc
products:
  - name: eip.ipv4.single
    internetConnectionType: BGP
    maxBandwidth: 1 Gbps
  - name: eip.ipv4.ten
    internetConnectionType: BGP
    maxBandwidth: 1 Gbps
pools:
  # One address: a /32 is its own only usable address.
  - name: c2-single
    idc: c2-idc
    cidr: 203.0.113.7/32
    products: [eip.ipv4.single]
  # Ten addresses: a /28 has 14 usable (.17 to .30), four of them reserved.
  - name: c2-ten
    idc: c2-idc
    cidr: 192.0.2.16/28
    products: [eip.ipv4.ten]
    reserved: [192.0.2.17, 192.0.2.22, 192.0.2.27, 192.0.2.30]
`;
const SINGLE = { idc: 'c2-idc', product: 'eip.ipv4.single', name: 'only-one', count: 1 };
const TEN_ADDRESSES = [18, 19, 20, 21, 23, 24, 25, 26, 28, 29].map((n) => `192.0.2.${n}`);

const allocate = (p: FleetProcess, token: string, body: Record<string, unknown>) =>
  postJson(p.url, '/v1/elastic-ips', token, body);

async function liveCount(database: TestDatabase, pool: string): Promise<number> {
  const [row] = await database.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM elastic_ips WHERE pool = $1 AND status <> 'released'`,
    [pool],
  );
  return row?.n ?? -1;
}

test('C2: after a restart, the only address of a pool is still held by its owner', {
  timeout: 60_000,
}, async () => {
  await withFleet({ processes: 1, catalogYaml: CATALOG }, async (fleet, database) => {
    const p1 = nth(fleet, 0);
    const tokenA = await fleet.token(randomUUID());
    const tokenB = await fleet.token(randomUUID());

    const [id] = allocatedIds(await allocate(p1, tokenA, SINGLE));
    assert.ok(id !== undefined);
    const before = await getElasticIp(p1.url, tokenA, id);
    assert.equal(before.ipAddress, '203.0.113.7');
    assert.equal(before.status, 'disassociated');

    const pidBefore = p1.pid;
    await p1.restart();
    assert.notEqual(p1.pid, pidBefore, 'the process was really restarted');

    // The first request the new process serves.
    assertNoFreeAddress(await allocate(p1, tokenB, SINGLE), 1);

    const after = await getElasticIp(p1.url, tokenA, id);
    assert.deepEqual(after, before, "A's EIP is unchanged by the restart and B's attempt");
    // B cannot see A's EIP either.
    assert.equal((await getJson(p1.url, `/v1/elastic-ips/${id}`, tokenB)).status, 404);
    assert.equal(await liveCount(database, 'c2-single'), 1);
    assertNoUnexpectedErrors(fleet);
  });
});

test('C2: another replica on the same database sees the address as held', {
  timeout: 60_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    const [p1, p2] = [nth(fleet, 0), nth(fleet, 1)];
    const tokenA = await fleet.token(randomUUID());
    const tokenB = await fleet.token(randomUUID());

    const [id] = allocatedIds(await allocate(p1, tokenA, SINGLE));
    assert.ok(id !== undefined);
    assertNoFreeAddress(await allocate(p2, tokenB, SINGLE), 1);
    assertNoFreeAddress(await allocate(p1, tokenB, SINGLE), 1);
    // A itself cannot get a second one either, on either replica.
    assertNoFreeAddress(await allocate(p2, tokenA, SINGLE), 1);

    const viaP1 = await getElasticIp(p1.url, tokenA, id);
    const viaP2 = await getElasticIp(p2.url, tokenA, id);
    assert.deepEqual(viaP2, viaP1);
    assert.equal(viaP2.ipAddress, '203.0.113.7');
    assert.equal(viaP2.status, 'disassociated');
    assert.equal(await liveCount(database, 'c2-single'), 1);
    assertNoUnexpectedErrors(fleet);
  });
});

test('C2: two replicas x 10 parallel allocations on a 10-address pool hand out each address once', {
  timeout: 60_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    const orgs = [randomUUID(), randomUUID()];
    const tokens = await Promise.all(orgs.map((org) => fleet.token(org)));

    // 20 requests: process = i % 2, organization = (i >> 1) % 2, so 5 per (process, org) pair.
    const outcomes = await releaseTogether<{ token: string; res: JsonResponse }>(20, (i) => {
      const p = nth(fleet, i % 2);
      const token = tokens[(i >> 1) % 2];
      assert.ok(token !== undefined);
      const url = p.url;
      const body = { idc: 'c2-idc', product: 'eip.ipv4.ten', name: `race-${i}`, count: 1 };
      return async () => ({ token, res: await postJson(url, '/v1/elastic-ips', token, body) });
    });

    const unexpected = outcomes.filter((o) => o.res.status !== 200 && o.res.status !== 503);
    assert.deepEqual(
      unexpected.map((o) => ({ status: o.res.status, body: o.res.body })),
      [],
      'only 200 and 503 are acceptable answers',
    );
    const won = outcomes.filter((o) => o.res.status === 200);
    const refused = outcomes.filter((o) => o.res.status === 503);
    assert.equal(won.length, 10);
    assert.equal(refused.length, 10);
    for (const o of refused) assert.equal(assertNoFreeAddress(o.res, 1), 0);

    const addresses: string[] = [];
    for (const o of won) {
      const [id] = allocatedIds(o.res);
      assert.ok(id !== undefined);
      const eip = await getElasticIp(nth(fleet, 0).url, o.token, id);
      addresses.push(String(eip.ipAddress));
    }
    assert.deepEqual(
      [...addresses].sort(),
      [...TEN_ADDRESSES].sort(),
      'each usable, unreserved address once',
    );

    const [row] = await database.db.query<{ live: number; distinct_addresses: number }>(
      `SELECT count(*)::int AS live, count(DISTINCT (family, address))::int AS distinct_addresses
       FROM elastic_ips WHERE pool = 'c2-ten' AND status <> 'released'`,
    );
    assert.deepEqual(row, { live: 10, distinct_addresses: 10 });
    assertNoUnexpectedErrors(fleet);
  });
});
