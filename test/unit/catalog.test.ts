/**
 * The catalog file: every problem reported at once, each naming its pool; applying is idempotent,
 * never deletes, and is safe from two processes at once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { applyCatalog } from '../../src/catalog/apply.js';
import { CatalogError, checkCatalog, parseCatalog } from '../../src/catalog/catalog-file.js';
import { createPglite, createPostgres } from '../support/databases.js';

const HEAD = `
idcs: [{ name: dc-1 }, { name: dc-2 }]
products:
  - { name: v4, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: v6, internetConnectionType: Dual-Homed, maxBandwidth: 1 Gbps }
`;

function problems(text: string): string[] {
  try {
    checkCatalog(parseCatalog(text, 'test.yaml'), 'test.yaml');
  } catch (error) {
    assert.ok(error instanceof CatalogError, String(error));
    return error.problems;
  }
  return [];
}

const pools = (lines: string) => `${HEAD}pools:\n${lines}`;

describe('catalog file checks', () => {
  test('a valid catalog has no problems', () => {
    assert.deepEqual(
      problems(
        pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], reserved: [192.0.2.1] }
  - { name: b, idc: dc-2, cidr: "2001:db8::/48", products: [v6] }`),
      ),
      [],
    );
  });

  test('an unknown product or IDC is named with its pool', () => {
    assert.deepEqual(
      problems(pools('  - { name: edge, idc: dc-9, cidr: 192.0.2.0/24, products: [v4, v5] }')),
      [
        'pool "edge": unknown IDC "dc-9" (declare it under idcs)',
        'pool "edge": unknown product "v5" (declare it under products)',
      ],
    );
  });

  test('a CIDR with host bits suggests the network', () => {
    const [p] = problems(
      pools('  - { name: edge, idc: dc-1, cidr: 192.0.2.1/24, products: [v4] }'),
    );
    assert.match(p ?? '', /^pool "edge": .*did you mean 192\.0\.2\.0\/24\?/);
  });

  test('every problem of the file is reported at once', () => {
    const found = problems(
      pools(`  - { name: a, idc: dc-1, cidr: 10.0.0.0/33, products: [v4] }
  - { name: b, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], reserved: [198.51.100.1, nope] }
  - { name: b, idc: dc-1, cidr: 198.51.100.0/24, products: [v4] }`),
    );
    assert.equal(found.length, 4, found.join('\n'));
    assert.ok(found.some((p) => p.startsWith('pool "a"')));
    assert.ok(
      found.some((p) => p.includes('reserved address 198.51.100.1 is outside 192.0.2.0/24')),
    );
    assert.ok(found.some((p) => p.startsWith('pool "b": reserved "nope"')));
    assert.ok(found.includes('pool "b" is declared more than once'));
  });

  test('unreserved addresses are checked like reserved ones, and not both at once', () => {
    const found = problems(
      pools(
        `  - { name: u, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], reserved: [192.0.2.9], unreserved: [192.0.2.9, 198.51.100.1, "2001:db8::1", nope] }`,
      ),
    );
    assert.deepEqual(found.sort(), [
      'pool "u": 192.0.2.9 is both reserved and unreserved',
      'pool "u": unreserved "nope" is not a valid IP address: expected 4 dot-separated octets, got 1',
      'pool "u": unreserved address 198.51.100.1 is outside 192.0.2.0/24',
      'pool "u": unreserved address 2001:db8::1 is outside 192.0.2.0/24',
    ]);
  });

  test('a product cannot have pools of both families', () => {
    const found = problems(
      pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4] }
  - { name: b, idc: dc-1, cidr: "2001:db8::/48", products: [v4] }`),
    );
    assert.deepEqual(found, [
      'product "v4" would have both IPv4 (pool "a") and IPv6 (pool "b") pools; a product is of one address family',
    ]);
  });

  test('an IPv6 pool whose addresses can be shorter than ipAddress minLength 7 is refused', () => {
    const [p] = problems(pools('  - { name: short, idc: dc-1, cidr: "1::/16", products: [v6] }'));
    assert.match(p ?? '', /^pool "short": 1::\/16 contains addresses whose text is shorter than 7/);
    assert.deepEqual(
      problems(pools('  - { name: ok, idc: dc-1, cidr: "2001::/16", products: [v6] }')),
      [],
    );
  });

  test('an IPv6 pool covering the IPv4-mapped range is refused', () => {
    const [p] = problems(
      pools('  - { name: mapped, idc: dc-1, cidr: "::ffff:0:0/95", products: [v6] }'),
    );
    assert.match(p ?? '', /^pool "mapped": .*IPv4-mapped/);
  });

  test('schema errors name the entry and field; unknown keys are refused', () => {
    const found = problems(
      `${HEAD}pools:\n  - { name: edge, idc: dc-1, cidr: 5, products: [], colour: red }`,
    );
    assert.ok(
      found.some((p) => p.startsWith('pool "edge" (pools[0]).cidr')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.startsWith('pool "edge" (pools[0]).products')),
      found.join('\n'),
    );
    assert.ok(
      found.some((p) => p.includes('colour')),
      found.join('\n'),
    );
    assert.match(problems('pools: [')[0] ?? '', /^not valid YAML/);
  });
});

describe('catalog apply', () => {
  const CATALOG =
    pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], reserved: [192.0.2.1] }
  - { name: b, idc: dc-2, cidr: "2001:db8::/48", products: [v6] }`);

  test('applying the same file twice changes nothing the second time', async () => {
    const { db, dispose } = await createPglite();
    try {
      const first = await applyCatalog(db, parseCatalog(CATALOG, 'c'), 'c');
      assert.deepEqual(first.poolsAdded, ['a', 'b']);
      const ranges = await db.query('SELECT * FROM pool_free_ranges ORDER BY pool, lo');
      const second = await applyCatalog(db, parseCatalog(CATALOG, 'c'), 'c');
      assert.deepEqual(second, {
        idcsAdded: 0,
        productsAdded: 0,
        productsUpdated: 0,
        poolsAdded: [],
        poolsUpdated: [],
        quotasSet: 0,
        reservedStillHeld: [],
      });
      assert.deepEqual(await db.query('SELECT * FROM pool_free_ranges ORDER BY pool, lo'), ranges);
    } finally {
      await dispose();
    }
  });

  test('a file without a pool does not delete it; a changed CIDR is refused', async () => {
    const { db, dispose } = await createPglite();
    try {
      await applyCatalog(db, parseCatalog(CATALOG, 'c'), 'c');
      await applyCatalog(db, parseCatalog(HEAD, 'empty'), 'empty');
      const rows = await db.query<{ name: string }>('SELECT name FROM pools ORDER BY name');
      assert.deepEqual(
        rows.map((r) => r.name),
        ['a', 'b'],
      );
      const moved = pools('  - { name: a, idc: dc-1, cidr: 192.0.2.0/25, products: [v4] }');
      await assert.rejects(
        applyCatalog(db, parseCatalog(moved, 'moved'), 'moved'),
        /pool "a" already exists as 192\.0\.2\.0\/24/,
      );
    } finally {
      await dispose();
    }
  });

  test('a newly reserved address leaves the free ranges; disabling a pool is applied', async () => {
    const { db, dispose } = await createPglite();
    try {
      await applyCatalog(db, parseCatalog(CATALOG, 'c'), 'c');
      const more = pools(
        `  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], reserved: [192.0.2.1, 192.0.2.100], enabled: false }`,
      );
      const summary = await applyCatalog(db, parseCatalog(more, 'c2'), 'c2');
      assert.deepEqual(summary.poolsUpdated, ['a']);
      const [inside] = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM pool_free_ranges
         WHERE pool = 'a' AND next_free <= 3221225572 AND hi >= 3221225572`,
      );
      assert.equal(inside?.n, 0, '192.0.2.100 must no longer be free');
      const [free] = await db.query<{ n: string }>(
        "SELECT sum(hi - next_free + 1)::text AS n FROM pool_free_ranges WHERE pool = 'a'",
      );
      assert.equal(free?.n, '252');
      const [pool] = await db.query<{ enabled: boolean }>(
        "SELECT enabled FROM pools WHERE name = 'a'",
      );
      assert.equal(pool?.enabled, false);
    } finally {
      await dispose();
    }
  });

  test('two processes applying at the same moment both succeed and create each pool once (postgres)', async () => {
    const first = await createPostgres();
    try {
      const { openPostgres } = await import('../../src/db/postgres.js');
      const url = first.url;
      assert.ok(url);
      const second = openPostgres({
        url,
        poolSize: 2,
        connectTimeoutMs: 5000,
        statementTimeoutMs: 10_000,
      });
      try {
        const results = await Promise.all([
          applyCatalog(first.db, parseCatalog(CATALOG, 'c'), 'c'),
          applyCatalog(second, parseCatalog(CATALOG, 'c'), 'c'),
        ]);
        assert.deepEqual(results.map((r) => r.poolsAdded.length).sort(), [0, 2]);
        const [count] = await first.db.query<{ n: number }>('SELECT count(*)::int AS n FROM pools');
        assert.equal(count?.n, 2);
      } finally {
        await second.close();
      }
    } finally {
      await first.dispose();
    }
  });
});
