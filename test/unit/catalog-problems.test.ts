/**
 * The catalog's harder cases: schema problems reported with the semantic ones, each overlap once,
 * product families across what the database already links, ranges that can never be public,
 * reserved addresses that are never handed out anyway, and empty files.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { applyCatalog } from '../../src/catalog/apply.js';
import {
  CatalogError,
  checkCatalog,
  type ExistingPool,
  parseCatalog,
  readCatalogFile,
} from '../../src/catalog/catalog-file.js';
import type { Database } from '../../src/db/database.js';
import { parseCidr } from '../../src/ipam/address.js';
import { createPglite } from '../support/databases.js';

const HEAD = `
idcs: [{ name: dc-1 }, { name: dc-2 }]
products:
  - { name: v4, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: v6, internetConnectionType: Dual-Homed, maxBandwidth: 1 Gbps }
`;

const pools = (lines: string) => `${HEAD}pools:\n${lines}`;

function problems(text: string, existing: ExistingPool[] = []): string[] {
  try {
    checkCatalog(parseCatalog(text, 'test.yaml'), 'test.yaml', existing);
  } catch (error) {
    assert.ok(error instanceof CatalogError, String(error));
    return error.problems;
  }
  return [];
}

describe('schema problems do not hide the others', () => {
  test('a broken entry is reported with the semantic problems of every well-formed one', () => {
    const found = problems(`
idcs: [{ name: dc-1 }, { name: "dc 2" }]
products:
  - { name: v4, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: fiber, internetConnectionType: Fiber, maxBandwidth: 1 Gbps }
  - { name: empty, internetConnectionType: BGP, maxBandwidth: "" }
pools:
  - { name: "bad name!", idc: dc-1, cidr: 198.18.0.0/24, products: [v4] }
  - { name: lost, idc: dc-9, cidr: 192.0.2.0/25, products: [v4] }
  - { name: hosty, idc: dc-1, cidr: 198.51.100.1/24, products: [v4] }
  - { name: wide, idc: dc-1, cidr: 192.0.2.0/24, products: [fiber] }
  - { name: far, idc: "dc 2", cidr: 203.0.113.0/24, products: [empty] }
  - { name: loop, idc: dc-1, cidr: 127.0.0.0/8, products: [v4], colour: red }
colour: red
`);
    assert.deepEqual(found, [
      '(top level): Unrecognized key: "colour"',
      'idc "dc 2" (idcs[1]).name: must match ^[a-zA-Z0-9._-]+$',
      'product "fiber" (products[1]).internetConnectionType: Invalid option: expected one of "BGP"|"Dual-Homed"',
      'product "empty" (products[2]).maxBandwidth: Too small: expected string to have >=1 characters',
      'pool "bad name!" (pools[0]).name: must match ^[a-zA-Z0-9._-]+$',
      'pool "loop" (pools[5]): Unrecognized key: "colour"',
      // A pool naming a malformed IDC or product ("dc 2", fiber, empty) is not told it is unknown.
      'pool "lost": unknown IDC "dc-9" (declare it under idcs)',
      'pool "hosty": "198.51.100.1/24" is not a valid CIDR: host bits are set; did you mean 198.51.100.0/24?',
      'pool "lost" (192.0.2.0/25 in IDC dc-9) overlaps pool "wide" (192.0.2.0/24 in IDC dc-1)',
    ]);
  });

  test('a section that is not a list is reported and the other sections are still checked', () => {
    const found = problems(`
idcs: dc-1
products:
  - { name: v4, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v9] }
  - { name: b, idc: dc-1, cidr: 192.0.2.128/25, products: [v4] }
`);
    // IDC references cannot be checked against an unreadable idcs section, so none is "unknown".
    assert.deepEqual(found, [
      'idcs: Invalid input: expected array, received string',
      'pool "a": unknown product "v9" (declare it under products)',
      'pool "a" (192.0.2.0/24 in IDC dc-1) overlaps pool "b" (192.0.2.128/25 in IDC dc-1)',
    ]);
  });

  test('a duplicate of a malformed entry is still reported', () => {
    const found = problems(
      pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [] }
  - { name: a, idc: dc-1, cidr: 198.51.100.0/24, products: [v4] }`),
    );
    assert.ok(found.includes('pool "a" is declared more than once'), found.join('\n'));
  });
});

describe('overlaps', () => {
  test('an existing pool changed to overlap another declared existing pool is reported once', () => {
    const existing: ExistingPool[] = [
      { name: 'a', idc: 'dc-1', cidr: parseCidr('192.0.2.0/25'), products: ['v4'] },
      { name: 'b', idc: 'dc-1', cidr: parseCidr('192.0.2.128/25'), products: ['v4'] },
    ];
    const found = problems(
      pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4] }
  - { name: b, idc: dc-1, cidr: 192.0.2.128/25, products: [v4] }`),
      existing,
    );
    assert.deepEqual(found, [
      'pool "a" (192.0.2.0/24 in IDC dc-1) overlaps pool "b" (192.0.2.128/25 in IDC dc-1)',
      'pool "a" already exists as 192.0.2.0/25 in IDC dc-1; a pool\'s CIDR and IDC cannot change (declare a new pool instead)',
    ]);
  });

  test('an overlap with the database copy of a pool the file moves is still reported', () => {
    const existing: ExistingPool[] = [
      { name: 'b', idc: 'dc-1', cidr: parseCidr('192.0.2.0/24'), products: ['v4'] },
    ];
    const found = problems(
      pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/25, products: [v4] }
  - { name: b, idc: dc-1, cidr: 198.51.100.0/24, products: [v4] }`),
      existing,
    );
    assert.ok(
      found.includes(
        'pool "a" (192.0.2.0/25 in IDC dc-1) overlaps pool "b" (192.0.2.0/24 in IDC dc-1), which already exists',
      ),
      found.join('\n'),
    );
  });
});

describe('product families', () => {
  const CATALOG = (p4Products: string, p6 = '') => `
idcs: [{ name: dc-1 }]
products:
  - { name: A, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
  - { name: B, internetConnectionType: BGP, maxBandwidth: 1 Gbps }
pools:
  - { name: p4, idc: dc-1, cidr: 192.0.2.0/24, products: [${p4Products}] }
${p6}`;
  const V2 = CATALOG('B', '  - { name: p6, idc: dc-1, cidr: "2001:db8::/48", products: [A] }');
  const FAMILIES =
    'product "A" would have both IPv4 (pool "p4") and IPv6 (pool "p6") pools; a product is of one address family';

  test('a product a declared pool still serves in the database counts for its family', () => {
    const existing: ExistingPool[] = [
      { name: 'p4', idc: 'dc-1', cidr: parseCidr('192.0.2.0/24'), products: ['A'] },
    ];
    assert.deepEqual(problems(V2, existing), [FAMILIES]);
  });

  test('applying cannot leave a product with pools of both families', async () => {
    const { db, dispose } = await createPglite();
    try {
      await applyCatalog(db, parseCatalog(CATALOG('A'), 'v1'), 'v1');
      await assert.rejects(applyCatalog(db, parseCatalog(V2, 'v2'), 'v2'), (error: unknown) => {
        assert.ok(error instanceof CatalogError, String(error));
        assert.deepEqual(error.problems, [FAMILIES]);
        return true;
      });
      const [links] = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pool_products WHERE product = 'A'",
      );
      assert.equal(links?.n, 1);
    } finally {
      await dispose();
    }
  });
});

describe('ranges that can never be public', () => {
  const refused: [string, RegExp][] = [
    ['0.0.0.0/0', /0\.0\.0\.0\/8 \("this network"\), 127\.0\.0\.0\/8 \(loopback\), .*240/],
    ['0.0.0.0/8', /0\.0\.0\.0\/8 \("this network"\)/],
    ['0.0.0.1/32', /0\.0\.0\.0\/8 \("this network"\)/],
    ['127.0.0.0/8', /127\.0\.0\.0\/8 \(loopback\)/],
    ['126.0.0.0/7', /127\.0\.0\.0\/8 \(loopback\)/],
    ['169.254.0.0/16', /169\.254\.0\.0\/16 \(link-local\)/],
    ['169.254.10.0/24', /169\.254\.0\.0\/16 \(link-local\)/],
    ['224.0.0.0/4', /224\.0\.0\.0\/4 \(multicast\)/],
    ['239.1.2.0/24', /224\.0\.0\.0\/4 \(multicast\)/],
    ['240.0.0.0/4', /240\.0\.0\.0\/4 \(reserved\)/],
    ['255.255.255.255/32', /240\.0\.0\.0\/4 \(reserved\)/],
    ['::/0', /::\/8 \(reserved.*fe80::\/10 \(link-local\), ff00::\/8 \(multicast\)/],
    ['::1/128', /::\/8 \(reserved/],
    ['::fffe:0:0/95', /::\/8 \(reserved/],
    ['fe80::/64', /fe80::\/10 \(link-local\)/],
    ['febf:1::/32', /fe80::\/10 \(link-local\)/],
    ['ff02:1::/32', /ff00::\/8 \(multicast\)/],
  ];
  for (const [cidr, range] of refused) {
    test(`${cidr} is refused, naming the pool and the range`, () => {
      const found = problems(
        pools(
          `  - { name: x, idc: dc-1, cidr: "${cidr}", products: [${cidr.includes(':') ? 'v6' : 'v4'}] }`,
        ),
      );
      const escaped = cidr.replace(/[.]/g, '\\.').replace(/\//g, '\\/');
      assert.ok(
        found.some(
          (p) =>
            new RegExp(`^pool "x": ${escaped} overlaps `).test(p) &&
            range.test(p) &&
            p.endsWith('; no address there can be public'),
        ),
        found.join('\n'),
      );
    });
  }

  test('documentation, shared, private and ordinary public ranges are allowed', () => {
    const allowed = [
      ['192.0.2.0/24', 'v4'],
      ['198.51.100.0/24', 'v4'],
      ['203.0.113.0/24', 'v4'],
      ['100.64.0.0/10', 'v4'],
      ['10.0.0.0/8', 'v4'],
      ['172.16.0.0/12', 'v4'],
      ['192.168.0.0/16', 'v4'],
      ['1.0.0.0/8', 'v4'],
      ['223.255.255.0/24', 'v4'],
      ['128.0.0.0/3', 'v4'],
      ['2001:db8::/32', 'v6'],
      ['fd00::/16', 'v6'],
      ['2001::/16', 'v6'],
      ['fec0::/16', 'v6'],
    ];
    for (const [i, [cidr, product]] of allowed.entries()) {
      assert.deepEqual(
        problems(pools(`  - { name: p${i}, idc: dc-1, cidr: "${cidr}", products: [${product}] }`)),
        [],
        cidr,
      );
    }
  });
});

describe('reserved addresses no allocation could hand out', () => {
  test('reserving the network, broadcast or anycast address is accepted and changes nothing', async () => {
    const plain = pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4] }
  - { name: b, idc: dc-1, cidr: "2001:db8::/120", products: [v6] }`);
    const redundant =
      pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], reserved: [192.0.2.0, 192.0.2.255] }
  - { name: b, idc: dc-1, cidr: "2001:db8::/120", products: [v6], reserved: ["2001:db8::"] }`);
    assert.deepEqual(problems(redundant), []);
    const freeRanges = (db: Database) =>
      db.query('SELECT * FROM pool_free_ranges ORDER BY pool, lo');
    const { db, dispose } = await createPglite();
    const fresh = await createPglite();
    try {
      await applyCatalog(db, parseCatalog(plain, 'plain'), 'plain');
      const expected = await freeRanges(db);
      assert.equal(expected.length, 32, 'two pools of 16 stripes, nothing carved out');
      // On a new pool (insertPool) and on an existing one (updatePool).
      await applyCatalog(fresh.db, parseCatalog(redundant, 'new'), 'new');
      assert.deepEqual(await freeRanges(fresh.db), expected);
      await applyCatalog(db, parseCatalog(redundant, 'later'), 'later');
      assert.deepEqual(await freeRanges(db), expected);
    } finally {
      await fresh.dispose();
      await dispose();
    }
  });
});

describe('empty catalogs', () => {
  for (const [what, text] of [
    ['an empty file', ''],
    ['a file of comments', '# nothing here yet\n'],
    ['empty sections', 'idcs:\nproducts:\npools:\n  # - { name: later, ... }\n'],
  ] as const) {
    test(`${what} reads as a catalog with nothing in it, and applies`, async () => {
      const dir = await mkdtemp(join(tmpdir(), 'eipd-catalog-'));
      try {
        const path = join(dir, 'catalog.yaml');
        await writeFile(path, text);
        const doc = await readCatalogFile(path);
        assert.deepEqual([doc.idcs, doc.products, doc.pools], [[], [], []]);
        const { db, dispose } = await createPglite();
        try {
          assert.deepEqual(await applyCatalog(db, doc, path), {
            idcsAdded: 0,
            productsAdded: 0,
            productsUpdated: 0,
            poolsAdded: [],
            poolsUpdated: [],
            quotasSet: 0,
            reservedStillHeld: [],
          });
        } finally {
          await dispose();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  test('a file that cannot be read names the problem', async () => {
    await assert.rejects(
      readCatalogFile(join(tmpdir(), 'eipd-no-such-dir', 'catalog.yaml')),
      (error: unknown) =>
        error instanceof CatalogError && /^cannot read the file: /.test(error.problems[0] ?? ''),
    );
  });

  test('readCatalogFile reports every problem of the file before any database is involved', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'eipd-catalog-'));
    try {
      const path = join(dir, 'catalog.yaml');
      await writeFile(
        path,
        pools(`  - { name: a, idc: dc-1, cidr: 192.0.2.0/24, products: [v9] }
  - { name: b, idc: dc-1, cidr: 192.0.2.0/24, products: [v4], enabled: maybe }`),
      );
      await assert.rejects(readCatalogFile(path), (error: unknown) => {
        assert.ok(error instanceof CatalogError, String(error));
        assert.equal(error.problems.length, 2, error.message);
        assert.match(error.problems[0] ?? '', /^pool "b" \(pools\[1\]\)\.enabled: /);
        assert.equal(
          error.problems[1],
          'pool "a": unknown product "v9" (declare it under products)',
        );
        return true;
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
