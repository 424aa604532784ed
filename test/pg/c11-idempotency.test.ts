/**
 * Field case C11 on two eipd processes: a client whose connection drops before it reads the answer
 * retries with its Idempotency-Key and gets the same ids; the key with another body is refused;
 * two requests with one key racing on different processes allocate once and both answer the
 * same ids.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TestDatabase } from '../support/databases.js';
import { assertNoUnexpectedErrors, nth, withFleet } from '../support/fleet-database.js';
import { allocatedIds, postJson, releaseTogether } from '../support/http.js';

const CATALOG = `
idcs: [{ name: c11-idc }]
products:
  - { name: eip.c11, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: c11-pool, idc: c11-idc, cidr: 100.64.0.0/22, products: [eip.c11] }
`;
const BODY = { idc: 'c11-idc', product: 'eip.c11', name: 'retry', count: 2 };

async function idsOf(database: TestDatabase, orgId: string): Promise<string[]> {
  const rows = await database.db.query<{ id: string }>(
    'SELECT id FROM elastic_ips WHERE org_id = $1 ORDER BY id',
    [orgId],
  );
  return rows.map((r) => r.id);
}

/** Writes the whole request and closes the socket at once, never reading the answer. */
function sendAndHangUp(baseUrl: string, token: string, key: string, body: unknown): Promise<void> {
  const { hostname, port } = new URL(baseUrl);
  const payload = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => {
      socket.write(
        'POST /v1/elastic-ips HTTP/1.1\r\n' +
          `Host: ${hostname}:${port}\r\nAuthorization: Bearer ${token}\r\n` +
          `Content-Type: application/json\r\nIdempotency-Key: ${key}\r\n` +
          `Content-Length: ${Buffer.byteLength(payload)}\r\n\r\n${payload}`,
        () => {
          socket.destroy();
          resolve();
        },
      );
    });
    socket.on('error', reject);
  });
}

test('C11: a dropped connection, a retry with the key on another process, a changed body', {
  timeout: 120_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    for (let round = 0; round < 5; round++) {
      const orgId = randomUUID();
      const token = await fleet.token(orgId);
      const key = `K-${round}`;
      await sendAndHangUp(nth(fleet, 0).url, token, key, BODY);
      // Retried at once (racing the first, which may still be running) or a little later.
      if (round % 2 === 1) await sleep(200);
      const retry = await postJson(nth(fleet, 1).url, '/v1/elastic-ips', token, BODY, {
        'Idempotency-Key': key,
      });
      const ids = allocatedIds(retry).sort();
      assert.equal(ids.length, 2);
      // Whichever ran first, the organization holds exactly the two ids the retry was told of,
      // also once the first request has certainly finished.
      await sleep(300);
      assert.deepEqual(await idsOf(database, orgId), ids);

      const changed = await postJson(
        nth(fleet, round).url,
        '/v1/elastic-ips',
        token,
        { ...BODY, count: 3 },
        { 'Idempotency-Key': key },
      );
      assert.equal(changed.status, 400, JSON.stringify(changed.body));
      assert.equal((changed.body as { code?: number }).code, 4010);
      assert.deepEqual(await idsOf(database, orgId), ids);
    }
    assertNoUnexpectedErrors(fleet);
  });
});

test('C11: two parallel requests with one key on different processes allocate once', {
  timeout: 120_000,
}, async () => {
  await withFleet({ processes: 2, catalogYaml: CATALOG }, async (fleet, database) => {
    for (let round = 0; round < 10; round++) {
      const orgId = randomUUID();
      const token = await fleet.token(orgId);
      const answers = await releaseTogether(2, (i) => {
        const url = nth(fleet, i).url;
        return () => postJson(url, '/v1/elastic-ips', token, BODY, { 'Idempotency-Key': 'same' });
      });
      const [a, b] = answers.map((res) => allocatedIds(res).sort());
      assert.deepEqual(a, b, `round ${round}`);
      assert.deepEqual(await idsOf(database, orgId), a);
      const replayed = answers.filter((r) => r.headers.get('idempotent-replayed') === 'true');
      assert.equal(replayed.length, 1, `round ${round}: exactly one answer is the replay`);
    }
    assertNoUnexpectedErrors(fleet);
  });
});
