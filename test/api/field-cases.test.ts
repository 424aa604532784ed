/**
 * Field cases from real allocators (shared/cases): C5 range boundaries, C6 address parsing in the
 * catalog, C7 overlapping pools, C9 exhausted pools. Each case gets a catalog and database of its
 * own, on both engines.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, test } from 'node:test';
import { applyCatalog } from '../../src/catalog/apply.js';
import { CatalogError, checkCatalog, parseCatalog } from '../../src/catalog/catalog-file.js';
import { allocateBody, startTestApp, type TestApp } from '../support/app.js';
import { BACKENDS, createPglite } from '../support/databases.js';

function catalogWith(
  pools: { name: string; cidr: string; reserved?: string[]; idc?: string }[],
  product = 'eip.case',
) {
  return `
idcs: [{ name: case-1 }, { name: case-2 }]
products:
  - { name: ${product}, internetConnectionType: BGP, maxBandwidth: 10 Gbps }
pools:
${pools
  .map(
    (p) => `  - name: ${p.name}
    idc: ${p.idc ?? 'case-1'}
    cidr: "${p.cidr}"
    products: [${product}]
    reserved: [${(p.reserved ?? []).map((r) => `"${r}"`).join(', ')}]`,
  )
  .join('\n')}
`;
}

async function allocate(t: TestApp, token: string, count: number) {
  const res = await t.app.inject({
    method: 'POST',
    url: '/v1/elastic-ips',
    headers: { authorization: `Bearer ${token}` },
    payload: allocateBody({ idc: 'case-1', product: 'eip.case', count }),
  });
  return res;
}

async function addressesOf(t: TestApp, token: string, ids: { id: string }[]): Promise<string[]> {
  const out: string[] = [];
  for (const { id } of ids) {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/elastic-ips/${id}`,
      headers: { authorization: `Bearer ${token}` },
    });
    out.push(res.json().ipAddress);
  }
  return out;
}

async function allAddressesIn(t: TestApp, pool: string, count: number): Promise<string[]> {
  const token = await t.token();
  const res = await allocate(t, token, count);
  assert.equal(res.statusCode, 200, `${pool}: ${res.body}`);
  return (await addressesOf(t, token, res.json())).sort();
}

async function withApp(
  backend: 'pglite' | 'postgres',
  catalog: string,
  fn: (t: TestApp) => Promise<void>,
) {
  const t = await startTestApp({ backend, catalog });
  try {
    await fn(t);
  } finally {
    await t.close();
  }
}

const sortNumeric = (addresses: string[]) =>
  [...addresses].sort((a, b) => Number(a.split('.').pop()) - Number(b.split('.').pop()));

for (const backend of BACKENDS) {
  describe(`field cases (${backend})`, () => {
    test('C5: a /29 with a reserved gateway hands out exactly .10-.14, then 503', async () => {
      await withApp(
        backend,
        catalogWith([{ name: 'p29', cidr: '203.0.113.8/29', reserved: ['203.0.113.9'] }]),
        async (t) => {
          const token = await t.token();
          const res = await allocate(t, token, 5);
          assert.equal(res.statusCode, 200, res.body);
          assert.deepEqual(sortNumeric(await addressesOf(t, token, res.json())), [
            '203.0.113.10',
            '203.0.113.11',
            '203.0.113.12',
            '203.0.113.13',
            '203.0.113.14',
          ]);
          const next = await allocate(t, token, 1);
          assert.equal(next.statusCode, 503);
          assert.equal(next.json().code, 5031);
        },
      );
    });

    test('C5: a /31 hands out both addresses, a /32 its one, an IPv6 /126 three', async () => {
      await withApp(backend, catalogWith([{ name: 'p31', cidr: '198.51.100.6/31' }]), async (t) => {
        assert.deepEqual(await allAddressesIn(t, 'p31', 2), ['198.51.100.6', '198.51.100.7']);
        assert.equal((await allocate(t, await t.token(), 1)).statusCode, 503);
      });
      await withApp(backend, catalogWith([{ name: 'p32', cidr: '198.51.100.5/32' }]), async (t) => {
        assert.deepEqual(await allAddressesIn(t, 'p32', 1), ['198.51.100.5']);
        assert.equal((await allocate(t, await t.token(), 1)).statusCode, 503);
      });
      await withApp(backend, catalogWith([{ name: 'p126', cidr: '2001:db8::/126' }]), async (t) => {
        assert.deepEqual(await allAddressesIn(t, 'p126', 3), [
          '2001:db8::1',
          '2001:db8::2',
          '2001:db8::3',
        ]);
        assert.equal((await allocate(t, await t.token(), 1)).statusCode, 503);
      });
    });

    test('C9: an exhausted pool answers a stable 503 stating requested and available, nothing allocated', async () => {
      await withApp(backend, catalogWith([{ name: 'p2', cidr: '198.51.100.8/31' }]), async (t) => {
        const token = await t.token();
        const tooMany = await allocate(t, token, 3);
        assert.equal(tooMany.statusCode, 503);
        assert.deepEqual(tooMany.json(), {
          code: 5031,
          reason: 'no free address for product eip.case in IDC case-1: requested 3, available 2',
        });
        assert.equal(tooMany.headers['retry-after'], '60');
        const [{ n }] = (await t.db.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM elastic_ips',
        )) as [{ n: number }];
        assert.equal(n, 0, 'a refused count:3 must not leave a partial allocation');
        const [{ e }] = (await t.db.query<{ e: number }>(
          'SELECT count(*)::int AS e FROM eip_events',
        )) as [{ e: number }];
        assert.equal(e, 0, 'a refused allocation writes no event');
        const two = await allocate(t, token, 2);
        assert.equal(two.statusCode, 200, two.body);
        const one = await allocate(t, token, 1);
        assert.equal(one.statusCode, 503);
        assert.equal(one.json().code, 5031);
        assert.match(one.json().reason, /requested 1, available 0$/);
      });
      await withApp(
        backend,
        catalogWith([{ name: 'full32', cidr: '198.51.100.20/32' }]),
        async (t) => {
          const token = await t.token();
          assert.equal((await allocate(t, token, 1)).statusCode, 200);
          const full = await allocate(t, token, 1);
          assert.equal(full.statusCode, 503);
          assert.equal(full.json().code, 5031);
        },
      );
    });

    test('C9: count:N draws from several pools of the product, all or nothing', async () => {
      const catalog = catalogWith([
        { name: 'pa', cidr: '198.51.100.32/31' },
        { name: 'pb', cidr: '198.51.100.64/31' },
      ]);
      await withApp(backend, catalog, async (t) => {
        const token = await t.token();
        assert.equal((await allocate(t, token, 5)).statusCode, 503);
        const res = await allocate(t, token, 4);
        assert.equal(res.statusCode, 200, res.body);
        assert.deepEqual(sortNumeric(await addressesOf(t, token, res.json())), [
          '198.51.100.32',
          '198.51.100.33',
          '198.51.100.64',
          '198.51.100.65',
        ]);
      });
    });

    test('C7: overlapping pools are refused naming both pools, in one IDC or across IDCs', async () => {
      const base = { name: 'base', cidr: '203.0.113.0/24', idc: 'case-1' };
      for (const idc of ['case-1', 'case-2']) {
        assert.throws(
          () => checkText(catalogWith([base, { name: 'inner', cidr: '203.0.113.128/25', idc }])),
          (error: unknown) =>
            error instanceof CatalogError &&
            error.problems.some(
              (p) =>
                p.includes('pool "base"') && p.includes('pool "inner"') && p.includes('overlaps'),
            ),
        );
      }
      assert.throws(
        () =>
          checkText(
            catalogWith(
              [
                { name: 'v6-wide', cidr: '2001:db8::/48' },
                { name: 'v6-narrow', cidr: '2001:DB8:0::/64', idc: 'case-2' },
              ],
              'eip.case6',
            ),
          ),
        (error: unknown) =>
          error instanceof CatalogError &&
          error.problems.some((p) => p.includes('"v6-wide"') && p.includes('"v6-narrow"')),
      );
      // Against pools already in the database, too, and the database itself refuses an overlap.
      await withApp(backend, catalogWith([base]), async (t) => {
        const later = catalogWith([{ name: 'later', cidr: '203.0.113.128/25', idc: 'case-2' }]);
        await assert.rejects(
          applyCatalog(t.db, parseCatalog(later, 'later'), 'later'),
          (error: unknown) => {
            assert.ok(error instanceof CatalogError);
            assert.ok(
              error.problems.some((p) => p.includes('"later"') && p.includes('"base"')),
              error.message,
            );
            return true;
          },
        );
        await assert.rejects(
          t.db.query(
            `INSERT INTO pools (name, idc, family, cidr, network, prefix_length, first_usable, last_usable, span)
             SELECT 'sneaky', 'case-2', 4, '203.0.113.128/25', network + 128, 25, network + 129, last_usable,
                    numrange(lower(span) + 128, upper(span))
             FROM pools WHERE name = 'base'`,
          ),
          /pools_do_not_overlap|conflicting key/,
        );
      });
    });

    test('rule 1: the database refuses a second live holder of an address', async () => {
      await withApp(backend, catalogWith([{ name: 'p1', cidr: '198.51.100.40/32' }]), async (t) => {
        const token = await t.token();
        assert.equal((await allocate(t, token, 1)).statusCode, 200);
        await assert.rejects(
          t.db.query(
            `INSERT INTO elastic_ips (id, org_id, name, idc, product, pool, family, address, ip_address, status)
             SELECT $1, $2, 'dup', idc, product, pool, family, address, ip_address, 'disassociated'
             FROM elastic_ips LIMIT 1`,
            [randomUUID(), randomUUID()],
          ),
          /elastic_ips_one_live_holder|duplicate key/,
        );
      });
    });
  });
}

/** checkCatalog without a database: the file's own consistency. */
function checkText(text: string) {
  return checkCatalog(parseCatalog(text, 'case'), 'case');
}

describe('C6: IPv4 parsing ambiguity in the catalog', () => {
  const bad = ['010.0.0.1', '10.1', '4294967423.0.0.1', '1.2.3.4 ', '1.2.3.04', '1.2.3.256'];

  test('C6: an ambiguous reserved address stops the catalog with a message naming the pool', () => {
    for (const address of bad) {
      assert.throws(
        () =>
          checkText(catalogWith([{ name: 'edge-a', cidr: '10.0.0.0/24', reserved: [address] }])),
        (error: unknown) =>
          error instanceof CatalogError &&
          error.problems.some(
            (p) => p.startsWith('pool "edge-a"') && p.includes(JSON.stringify(address)),
          ),
        address,
      );
    }
  });

  test('C6: an ambiguous CIDR stops the catalog with a message naming the pool', () => {
    for (const address of bad) {
      assert.throws(
        () => checkText(catalogWith([{ name: 'edge-b', cidr: `${address}/32` }])),
        (error: unknown) =>
          error instanceof CatalogError &&
          error.problems.some((p) => p.startsWith('pool "edge-b"')),
        address,
      );
    }
  });

  test('C6: 10.0.0.1 is accepted, and is stored canonically', async () => {
    const catalog = checkText(
      catalogWith([{ name: 'edge-c', cidr: '10.0.0.0/24', reserved: ['10.0.0.1'] }]),
    );
    assert.equal(catalog.pools[0]?.reserved[0], 0x0a000001n);
    const { db, dispose } = await createPglite();
    try {
      await applyCatalog(
        db,
        parseCatalog(catalogWith([{ name: 'edge-d', cidr: '::ffff:10.0.1.0/120' }]), 'c'),
        'c',
      );
      const rows = await db.query<{ cidr: string; family: number }>(
        "SELECT cidr, family FROM pools WHERE name = 'edge-d'",
      );
      assert.deepEqual(rows, [{ cidr: '10.0.1.0/24', family: 4 }]);
    } finally {
      await dispose();
    }
  });
});
