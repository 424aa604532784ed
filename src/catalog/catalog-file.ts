/**
 * The operator's catalog file: IDCs, products and address pools, in YAML. This module reads and
 * checks it without touching the database; apply.ts writes the result. Every problem is collected
 * and reported at once, each naming the pool (or product, or IDC) it is about, because an operator
 * fixing a catalog at 3 a.m. should not have to restart once per typo.
 */
import { readFile } from 'node:fs/promises';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import {
  AddressError,
  type Cidr,
  cidrContains,
  cidrsOverlap,
  type Family,
  formatAddress,
  formatCidr,
  parseAddress,
  parseCidr,
  shortestCanonicalLength,
  usableBounds,
} from '../ipam/address.js';

const slug = (max: number) =>
  z
    .string()
    .max(max)
    .regex(/^[a-zA-Z0-9._-]+$/, 'must match ^[a-zA-Z0-9._-]+$');

const catalogSchema = z.strictObject({
  idcs: z.array(z.strictObject({ name: slug(50) })).default([]),
  products: z
    .array(
      z.strictObject({
        name: slug(256),
        internetConnectionType: z.enum(['BGP', 'Dual-Homed']),
        maxBandwidth: z.string().min(1).max(1048576),
      }),
    )
    .default([]),
  pools: z
    .array(
      z.strictObject({
        name: slug(100),
        idc: z.string(),
        cidr: z.string(),
        products: z.array(z.string()).min(1),
        reserved: z.array(z.string()).default([]),
        enabled: z.boolean().default(true),
      }),
    )
    .default([]),
});

export type CatalogDocument = z.infer<typeof catalogSchema>;

export interface CatalogProduct {
  name: string;
  internetConnectionType: 'BGP' | 'Dual-Homed';
  maxBandwidth: string;
}

export interface CatalogPool {
  name: string;
  idc: string;
  cidr: Cidr;
  first: bigint;
  last: bigint;
  products: string[];
  reserved: bigint[];
  enabled: boolean;
}

export interface Catalog {
  idcs: string[];
  products: CatalogProduct[];
  pools: CatalogPool[];
}

/** A pool as it already exists in the database, for overlap and family checks. */
export interface ExistingPool {
  name: string;
  idc: string;
  cidr: Cidr;
  products: string[];
}

export class CatalogError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`catalog ${source} is invalid:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'CatalogError';
  }
}

/** Published elasticIPResp.ipAddress has minLength 7; canonical IPv6 text can be shorter. */
const MIN_ADDRESS_TEXT = 7;
/** ::ffff:0:0/96 is IPv4 in our model (contract rule 4); an IPv6 pool must not contain it. */
const IPV4_MAPPED: Cidr = { family: 6, network: 0xffff_0000_0000n, prefixLength: 96 };

/** Reads and schema-checks a catalog file; checkCatalog does the rest against the database. */
export async function readCatalogFile(path: string): Promise<CatalogDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CatalogError(path, [`cannot read the file: ${reason}`]);
  }
  return parseCatalog(text, path);
}

export function parseCatalog(text: string, source: string): CatalogDocument {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CatalogError(source, [`not valid YAML: ${reason}`]);
  }
  const parsed = catalogSchema.safeParse(raw);
  if (!parsed.success) {
    throw new CatalogError(
      source,
      parsed.error.issues.map((issue) => `${describePath(raw, issue.path)}: ${issue.message}`),
    );
  }
  return parsed.data;
}

/** `pools[3].cidr` becomes `pool "edge-b" (pools[3]).cidr` when the entry has a name. */
function describePath(raw: unknown, path: readonly PropertyKey[]): string {
  const [section, index, ...rest] = path;
  if (typeof section !== 'string') return '(top level)';
  if (typeof index !== 'number') return section;
  const entries = (raw as Record<string, unknown>)[section];
  const entry = Array.isArray(entries) ? entries[index] : undefined;
  const name =
    typeof entry === 'object' &&
    entry !== null &&
    typeof (entry as { name?: unknown }).name === 'string'
      ? (entry as { name: string }).name
      : undefined;
  const kind = section.replace(/s$/, '');
  const where =
    name === undefined ? `${section}[${index}]` : `${kind} "${name}" (${section}[${index}])`;
  return rest.length === 0 ? where : `${where}.${rest.map(String).join('.')}`;
}

/**
 * Semantic checks: names unique, references resolve, CIDRs and addresses strict and canonical,
 * pools disjoint (with each other and with pools already in the database), one address family per
 * product, and every address a pool can hand out fits the published ipAddress length.
 */
export function checkCatalog(
  doc: CatalogDocument,
  source: string,
  existing: ExistingPool[] = [],
): Catalog {
  const problems: string[] = [];
  const duplicates = (kind: string, names: string[]) => {
    const seen = new Set<string>();
    for (const n of names) {
      if (seen.has(n)) problems.push(`${kind} "${n}" is declared more than once`);
      seen.add(n);
    }
  };
  duplicates(
    'IDC',
    doc.idcs.map((i) => i.name),
  );
  duplicates(
    'product',
    doc.products.map((p) => p.name),
  );
  duplicates(
    'pool',
    doc.pools.map((p) => p.name),
  );

  const idcs = new Set(doc.idcs.map((i) => i.name));
  const products = new Set(doc.products.map((p) => p.name));
  const pools: CatalogPool[] = [];

  for (const entry of doc.pools) {
    const label = `pool "${entry.name}"`;
    if (!idcs.has(entry.idc))
      problems.push(`${label}: unknown IDC "${entry.idc}" (declare it under idcs)`);
    for (const product of entry.products) {
      if (!products.has(product)) {
        problems.push(`${label}: unknown product "${product}" (declare it under products)`);
      }
    }
    let cidr: Cidr;
    try {
      cidr = parseCidr(entry.cidr);
    } catch (error) {
      problems.push(`${label}: ${error instanceof AddressError ? error.message : String(error)}`);
      continue;
    }
    const bounds = usableBounds(cidr);
    if (bounds === null) {
      problems.push(`${label}: ${formatCidr(cidr)} has no usable address`);
      continue;
    }
    if (cidr.family === 6 && cidrsOverlap(cidr, IPV4_MAPPED)) {
      problems.push(
        `${label}: ${formatCidr(cidr)} contains ::ffff:0:0/96, the IPv4-mapped addresses, which eipd treats as IPv4`,
      );
    }
    if (shortestCanonicalLength(cidr) < MIN_ADDRESS_TEXT) {
      problems.push(
        `${label}: ${formatCidr(cidr)} contains addresses whose text is shorter than ${MIN_ADDRESS_TEXT} characters, which the API's ipAddress field cannot carry`,
      );
    }
    const reserved: bigint[] = [];
    for (const text of entry.reserved) {
      try {
        const address = parseAddress(text);
        if (!cidrContains(cidr, address)) {
          problems.push(
            `${label}: reserved address ${formatAddress(address)} is outside ${formatCidr(cidr)}`,
          );
        } else {
          reserved.push(address.value);
        }
      } catch (error) {
        problems.push(
          `${label}: reserved ${error instanceof AddressError ? error.message : String(error)}`,
        );
      }
    }
    pools.push({
      name: entry.name,
      idc: entry.idc,
      cidr,
      first: bounds.first,
      last: bounds.last,
      products: [...new Set(entry.products)],
      reserved,
      enabled: entry.enabled,
    });
  }

  checkOverlaps(pools, existing, problems);
  checkProductFamilies(pools, existing, problems);

  if (problems.length > 0) throw new CatalogError(source, problems);
  return { idcs: [...idcs], products: doc.products, pools };
}

function checkOverlaps(pools: CatalogPool[], existing: ExistingPool[], problems: string[]): void {
  const describe = (p: { name: string; idc: string; cidr: Cidr }) =>
    `pool "${p.name}" (${formatCidr(p.cidr)} in IDC ${p.idc})`;
  for (let i = 0; i < pools.length; i++) {
    const a = pools[i];
    if (a === undefined) continue;
    for (let j = i + 1; j < pools.length; j++) {
      const b = pools[j];
      if (b !== undefined && cidrsOverlap(a.cidr, b.cidr)) {
        problems.push(`${describe(a)} overlaps ${describe(b)}`);
      }
    }
    for (const e of existing) {
      if (e.name === a.name) {
        if (formatCidr(e.cidr) !== formatCidr(a.cidr) || e.idc !== a.idc) {
          problems.push(
            `pool "${a.name}" already exists as ${formatCidr(e.cidr)} in IDC ${e.idc}; a pool's CIDR and IDC cannot change (declare a new pool instead)`,
          );
        }
      } else if (cidrsOverlap(a.cidr, e.cidr)) {
        problems.push(`${describe(a)} overlaps ${describe(e)}, which already exists`);
      }
    }
  }
}

function checkProductFamilies(
  pools: CatalogPool[],
  existing: ExistingPool[],
  problems: string[],
): void {
  const families = new Map<string, Map<Family, string>>();
  const note = (product: string, family: Family, pool: string) => {
    const byFamily = families.get(product) ?? new Map<Family, string>();
    if (!byFamily.has(family)) byFamily.set(family, pool);
    families.set(product, byFamily);
  };
  const declared = new Set(pools.map((p) => p.name));
  for (const p of pools) for (const product of p.products) note(product, p.cidr.family, p.name);
  for (const e of existing) {
    if (declared.has(e.name)) continue;
    for (const product of e.products) note(product, e.cidr.family, e.name);
  }
  for (const [product, byFamily] of families) {
    const v4 = byFamily.get(4);
    const v6 = byFamily.get(6);
    if (v4 !== undefined && v6 !== undefined) {
      problems.push(
        `product "${product}" would have both IPv4 (pool "${v4}") and IPv6 (pool "${v6}") pools; a product is of one address family`,
      );
    }
  }
}
