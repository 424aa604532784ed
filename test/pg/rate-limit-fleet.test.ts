/**
 * The limits hold across replicas: two eipd processes on one PostgreSQL database count in the
 * same rows, so an organization gets its limit per minute in total, not per process, and a client
 * address's failed authentications are counted together.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { assertNoUnexpectedErrors, nth, withFleet } from '../support/fleet-database.js';
import { getJson, type JsonResponse, releaseTogether } from '../support/http.js';
import { awayFromWindowEnd } from '../support/rate-window.js';

const CATALOG = `
idcs: [{ name: rl-idc }]
products:
  - { name: eip.rl, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: rl-pool, idc: rl-idc, cidr: 100.64.0.0/24, products: [eip.rl] }
`;
const PER_ORG = 10;
const AUTH_FAILURES = 4;
const PROCESSES = 2;

function codes(answers: JsonResponse[]): Record<string, number> {
  const tally: Record<string, number> = {};
  for (const a of answers) {
    const key = `${a.status}/${(a.body as { code?: number }).code ?? '-'}`;
    tally[key] = (tally[key] ?? 0) + 1;
  }
  return tally;
}

test('two replicas together let an organization through exactly its limit per minute', async () => {
  await withFleet(
    {
      processes: PROCESSES,
      catalogYaml: CATALOG,
      env: {
        EIPD_RATE_LIMIT_PER_MINUTE: String(PER_ORG),
        EIPD_AUTH_FAILURE_LIMIT_PER_MINUTE: String(AUTH_FAILURES),
      },
    },
    async (fleet, database) => {
      await awayFromWindowEnd(database.db, 20);
      const orgId = randomUUID();
      const token = await fleet.token(orgId);
      const answers = await releaseTogether(3 * PER_ORG, (i) => {
        const url = nth(fleet, i).url;
        return () => getJson(url, '/v1/elastic-ips', token);
      });
      assert.deepEqual(codes(answers), { '200/-': PER_ORG, '429/4291': 2 * PER_ORG });
      for (const answer of answers) {
        assert.equal(answer.headers.get('ratelimit-limit'), String(PER_ORG));
        assert.equal(answer.headers.get('ratelimit-policy'), `${PER_ORG};w=60`);
        if (answer.status === 429) {
          assert.equal(answer.headers.get('ratelimit-remaining'), '0');
          assert.equal(answer.headers.get('retry-after'), answer.headers.get('ratelimit-reset'));
        }
      }
      const remaining = answers
        .filter((a) => a.status === 200)
        .map((a) => Number(a.headers.get('ratelimit-remaining')))
        .sort((a, b) => a - b);
      assert.deepEqual(
        remaining,
        Array.from({ length: PER_ORG }, (_, i) => i),
        'each admitted request saw its own place in the shared count',
      );
      // The shared row counts every claim; a replica that was granted nothing stops asking until
      // the window ends, so refused requests need not reach the database.
      const [row] = await database.db.query<{ hits: number }>(
        'SELECT sum(hits)::int AS hits FROM rate_limit_counters WHERE bucket = $1',
        [`org:${orgId}`],
      );
      assert.ok(
        row !== undefined && row.hits > PER_ORG && row.hits <= 3 * PER_ORG,
        `hits ${row?.hits}`,
      );

      // Failed authentications from one address (127.0.0.1, the test's own), alternating
      // replicas: the limit counts across both; a replica that has not itself seen the count
      // reach the limit lets at most one more failure through before blocking too.
      const good = await fleet.token(randomUUID());
      const statuses: string[] = [];
      for (let i = 0; i < AUTH_FAILURES + 2 * PROCESSES; i++) {
        const answer = await getJson(nth(fleet, i).url, '/v1/elastic-ips', 'bad.token.here');
        statuses.push(`${answer.status}/${(answer.body as { code?: number }).code ?? '-'}`);
      }
      assert.deepEqual(statuses.slice(0, AUTH_FAILURES), Array(AUTH_FAILURES).fill('401/0'));
      const extra = statuses.slice(AUTH_FAILURES).filter((s) => s === '401/0').length;
      assert.ok(extra <= PROCESSES - 1, `at most one failure more per other replica: ${statuses}`);
      for (let i = 0; i < PROCESSES; i++) {
        const answer = await getJson(nth(fleet, i).url, '/v1/elastic-ips', good);
        assert.equal(answer.status, 429, `replica ${i + 1} refuses the address`);
        assert.equal((answer.body as { code: number }).code, 4292);
        assert.ok(Number(answer.headers.get('retry-after')) >= 1);
      }
      assertNoUnexpectedErrors(fleet);
    },
  );
});

test('with shares claimed many at a time, two replicas still admit exactly the limit', async () => {
  const limit = 300;
  await withFleet(
    {
      processes: PROCESSES,
      catalogYaml: CATALOG,
      env: { EIPD_RATE_LIMIT_PER_MINUTE: String(limit) },
    },
    async (fleet, database) => {
      await awayFromWindowEnd(database.db, 30);
      const token = await fleet.token(randomUUID());
      const answers: JsonResponse[] = [];
      // Waves of concurrent requests on both replicas, until well past the limit.
      for (let wave = 0; wave < 8; wave++) {
        answers.push(
          ...(await releaseTogether(64, (i) => {
            const url = nth(fleet, i).url;
            return () => getJson(url, '/v1/elastic-ips', token);
          })),
        );
      }
      assert.deepEqual(codes(answers), { '200/-': limit, '429/4291': 8 * 64 - limit });
      assertNoUnexpectedErrors(fleet);
    },
  );
});
