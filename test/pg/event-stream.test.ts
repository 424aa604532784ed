/**
 * The event stream's cursor follows commit order (contract: "Event stream"): two transactions
 * commit in the opposite order of their event numbers, and a reader following the cursor still
 * gets both events, each exactly once.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { startTestApp, type TestApp } from '../support/app.js';

const CATALOG = `
idcs: [{ name: es-1 }]
products: [{ name: eip.es, internetConnectionType: BGP, maxBandwidth: 1 Gbps }]
pools: [{ name: es, idc: es-1, cidr: 203.0.113.0/28, products: [eip.es] }]
`;

interface Page {
  events: { seq: string; type: string; eipId: string }[];
  cursor: string;
}

let t: TestApp;
let ops: Record<string, string>;

before(async () => {
  t = await startTestApp({ backend: 'postgres', catalog: CATALOG });
  ops = { authorization: `Bearer ${await t.operatorToken()}` };
});
after(async () => {
  await t.close();
});

async function read(cursor: string): Promise<Page> {
  const res = await t.app.inject({
    method: 'GET',
    url: `/v1/admin/events?limit=1000&cursor=${cursor}`,
    headers: ops,
  });
  assert.equal(res.statusCode, 200, res.body);
  return res.json() as Page;
}

function insertEvent(
  tx: { query: (sql: string, params: unknown[]) => Promise<unknown> },
  eip: string,
  name: string,
) {
  return tx.query(
    `INSERT INTO eip_events (type, eip_id, org_id, idc, ip_address, detail)
     SELECT 'renamed', id, org_id, idc, ip_address, jsonb_build_object('name', $2::text)
     FROM elastic_ips WHERE id = $1`,
    [eip, name],
  );
}

test('an event that commits after a later-numbered one is still delivered, once', async () => {
  const orgId = randomUUID();
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/elastic-ips',
    headers: { authorization: `Bearer ${await t.token(orgId)}` },
    payload: { idc: 'es-1', product: 'eip.es', name: 'es', count: 1 },
  });
  assert.equal(res.statusCode, 200, res.body);
  const [eip] = res.json() as { id: string }[];
  assert.ok(eip !== undefined);

  // Catch up with everything that exists so far (the allocation).
  let cursor = '';
  const seen: Page['events'] = [];
  const deadline = Date.now() + 10_000;
  while (!seen.some((e) => e.eipId === eip.id)) {
    const page = await read(cursor);
    seen.push(...page.events);
    cursor = page.cursor;
    assert.ok(Date.now() < deadline, 'the allocation never reached the stream');
  }

  // T1 inserts first (lower seq, lower tx id) and stays open; T2 inserts after it and commits.
  let letT1Commit: () => void = () => {};
  const t1Gate = new Promise<void>((resolve) => {
    letT1Commit = resolve;
  });
  let t1Inserted: () => void = () => {};
  const t1Ready = new Promise<void>((resolve) => {
    t1Inserted = resolve;
  });
  const t1 = t.db.transaction(async (tx) => {
    await insertEvent(tx, eip.id, 'first');
    t1Inserted();
    await t1Gate;
  });
  await t1Ready;
  await t.db.transaction((tx) => insertEvent(tx, eip.id, 'second'));
  const [t2Row, invisible] = await t.db.query<{ seq: string }>(
    `SELECT seq::text AS seq FROM eip_events WHERE eip_id = $1 AND type = 'renamed' ORDER BY seq`,
    [eip.id],
  );
  // Only T2's row is visible to others yet.
  assert.equal(invisible, undefined);
  assert.ok(t2Row !== undefined);
  const t2Seq = t2Row.seq;

  // T2 has committed, but T1 (which may still add events numbered below it) has not: the stream
  // holds T2's event back rather than let the cursor move past T1's.
  const during = await read(cursor);
  assert.deepEqual(during.events, []);
  assert.equal(during.cursor, cursor);

  letT1Commit();
  await t1;

  const delivered: Page['events'] = [];
  const until = Date.now() + 10_000;
  while (delivered.length < 2) {
    const page = await read(cursor);
    delivered.push(...page.events);
    cursor = page.cursor;
    assert.ok(Date.now() < until, `only ${delivered.length} of the 2 events arrived`);
  }
  assert.equal((await read(cursor)).events.length, 0);
  const seqs = delivered.map((e) => e.seq);
  assert.equal(new Set(seqs).size, 2, 'each event exactly once');
  // T1's event (inserted first, lower seq) comes first, then T2's.
  assert.equal(seqs[1], t2Seq);
  assert.deepEqual(
    delivered.map((e) => [e.type, e.eipId]),
    [
      ['renamed', eip.id],
      ['renamed', eip.id],
    ],
  );
  assert.ok(BigInt(seqs[0] ?? '0') < BigInt(seqs[1] ?? '0'));
});
