/**
 * Field case C1: two eipd replicas on one PostgreSQL database, hammered with parallel allocations
 * of one small pool, must never hand out an address twice, never answer 500, and must report the
 * exhausted pool as 503/5031 once its 30 usable addresses are gone.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { createPostgres, type TestDatabase } from '../support/databases.js';
import { type Fleet, startFleet } from '../support/fleet.js';
import {
  allocatedIds,
  assertNoFreeAddress,
  getElasticIp,
  type JsonResponse,
  postJson,
  releaseTogether,
} from '../support/http.js';

const CATALOG = `
idcs:
  - name: c1-idc
products:
  - name: eip.ipv4.c1
    internetConnectionType: BGP
    maxBandwidth: 10 Gbps
pools:
  - name: c1-pool
    idc: c1-idc
    cidr: 198.51.100.0/27
    products: [eip.ipv4.c1]
`;
const USABLE = 30;
const FIRST_ROUND = 16;
const SECOND_ROUND = 40;

interface Outcome {
  /** Index of the process that answered. */
  via: number;
  token: string;
  res: JsonResponse;
}

test('C1: two replicas on one database never allocate an address twice', {
  timeout: 60_000,
}, async () => {
  const database = await createPostgres();
  try {
    const databaseUrl = database.url;
    assert.ok(databaseUrl !== undefined);
    const fleet = await startFleet({ databaseUrl, catalogYaml: CATALOG, processes: 2 });
    try {
      await raceOnePool(database, fleet);
    } finally {
      await fleet.stop();
    }
  } finally {
    await database.dispose();
  }
});

async function raceOnePool(database: TestDatabase, fleet: Fleet): Promise<void> {
  const { processes } = fleet;
  const orgs = [randomUUID(), randomUUID(), randomUUID()];

  /** n parallel count:1 allocations, alternating between the two processes and three orgs. */
  const allocateInParallel = (n: number, round: string) =>
    releaseTogether<Outcome>(n, async (i) => {
      const via = i % processes.length;
      const p = processes[via];
      assert.ok(p !== undefined);
      const token = await fleet.token(orgs[i % orgs.length]);
      const url = p.url;
      const body = { idc: 'c1-idc', product: 'eip.ipv4.c1', name: `${round}-${i}`, count: 1 };
      return async () => ({
        via,
        token,
        res: await postJson(url, '/v1/elastic-ips', token, body),
      });
    });

  /** The address of every successful outcome, read back through the *other* process. */
  const addressesOf = async (outcomes: Outcome[]): Promise<string[]> => {
    const addresses: string[] = [];
    for (const o of outcomes) {
      const [id] = allocatedIds(o.res);
      assert.ok(id !== undefined);
      const other = processes[(o.via + 1) % processes.length];
      assert.ok(other !== undefined);
      const eip = await getElasticIp(other.url, o.token, id);
      assert.equal(eip.status, 'disassociated');
      assert.equal(typeof eip.ipAddress, 'string');
      addresses.push(String(eip.ipAddress));
    }
    return addresses;
  };

  const noServerErrors = (outcomes: Outcome[]) => {
    const bad = outcomes.filter((o) => o.res.status !== 200 && o.res.status !== 503);
    assert.deepEqual(
      bad.map((o) => ({ status: o.res.status, body: o.res.body })),
      [],
      'only 200 and 503 are acceptable answers',
    );
  };

  // Round 1: 16 parallel allocations, 8 per process, on a pool of 30: all succeed.
  const first = await allocateInParallel(FIRST_ROUND, 'first');
  noServerErrors(first);
  assert.equal(first.filter((o) => o.res.status === 200).length, FIRST_ROUND);
  const firstAddresses = await addressesOf(first);
  assert.equal(new Set(firstAddresses).size, FIRST_ROUND, `duplicates: ${firstAddresses}`);

  // Round 2: 40 more in parallel; exactly the 14 left can succeed.
  const second = await allocateInParallel(SECOND_ROUND, 'second');
  noServerErrors(second);
  const won = second.filter((o) => o.res.status === 200);
  const refused = second.filter((o) => o.res.status === 503);
  assert.equal(won.length, USABLE - FIRST_ROUND);
  assert.equal(refused.length, SECOND_ROUND - (USABLE - FIRST_ROUND));
  for (const o of refused) {
    // Every refusal comes after the pool is empty: nothing is left for a count:1 request.
    assert.equal(assertNoFreeAddress(o.res, 1), 0);
  }
  const secondAddresses = await addressesOf(won);

  const all = [...firstAddresses, ...secondAddresses];
  assert.equal(new Set(all).size, USABLE, `duplicates: ${all.sort()}`);
  const expected = Array.from({ length: USABLE }, (_, i) => `198.51.100.${i + 1}`);
  assert.deepEqual([...all].sort(), [...expected].sort(), 'exactly .1 to .30 are handed out');

  // The database's own view: 30 live EIPs on 30 distinct addresses, 30 'allocated' events.
  const db = database.db;
  const [eips] = await db.query<{ live: number; distinct_addresses: number; bad: number }>(
    `SELECT count(*)::int AS live,
              count(DISTINCT (family, address))::int AS distinct_addresses,
              count(*) FILTER (WHERE ip_address IN ('198.51.100.0', '198.51.100.31')
                                  OR address NOT BETWEEN 3325256705 AND 3325256734)::int AS bad
       FROM elastic_ips WHERE status <> 'released'`,
  );
  assert.deepEqual(eips, { live: USABLE, distinct_addresses: USABLE, bad: 0 });
  const [events] = await db.query<{ allocated: number; eips: number }>(
    `SELECT count(*)::int AS allocated, count(DISTINCT eip_id)::int AS eips
       FROM eip_events WHERE type = 'allocated'`,
  );
  assert.deepEqual(events, { allocated: USABLE, eips: USABLE });
  const [ranges] = await db.query<{ free_ranges: number }>(
    `SELECT count(*)::int AS free_ranges FROM pool_free_ranges WHERE pool = 'c1-pool'`,
  );
  assert.deepEqual(ranges, { free_ranges: 0 });

  for (const p of processes) {
    assert.doesNotMatch(p.output(), /"msg":"unexpected error"/, p.output());
  }
}
