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
  IPV4_MAPPED_CIDR,
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

const idcSchema = z.strictObject({ name: slug(50) });

const productSchema = z.strictObject({
  name: slug(256),
  internetConnectionType: z.enum(['BGP', 'Dual-Homed']),
  maxBandwidth: z.string().min(1).max(1048576),
});

const poolSchema = z.strictObject({
  name: slug(100),
  idc: z.string(),
  cidr: z.string(),
  products: z.array(z.string()).min(1),
  reserved: z.array(z.string()).default([]),
  // Reservations are only ever added by `reserved` (a file that leaves one out, an older copy of
  // it say, must not hand a gateway address out); taking one back is said explicitly.
  unreserved: z.array(z.string()).default([]),
  enabled: z.boolean().default(true),
});

/** Quotas: a default per organization per IDC (null: no limit) and per-organization overrides. */
const quotasSchema = z.strictObject({
  default: z.number().int().min(0).max(1_000_000_000).nullable().optional(),
  organizations: z
    .array(
      z.strictObject({
        orgId: z
          .string()
          .regex(/^[0-9a-fA-F]{8}(-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}$/, 'must be a uuid'),
        idc: z.string(),
        // 'default': the file no longer sets a limit for this organization in this IDC (leaving
        // the entry out would leave the last applied limit in force, as with everything else).
        limit: z.union([z.number().int().min(0).max(1_000_000_000), z.literal('default')], {
          error: 'must be a whole number from 0 to 1000000000, or default',
        }),
      }),
    )
    .nullish(),
});

export type CatalogQuotas = {
  /** Absent: the file says nothing about the default, and applying leaves it as it is. */
  default?: number | null | undefined;
  /** limit 'default': remove the file's limit for that organization and IDC. */
  organizations: { orgId: string; idc: string; limit: number | 'default' }[];
};

/**
 * Only the shape of the top level; each entry is checked on its own (see parseCatalog). A section
 * may be null because `pools:` with every entry commented out is YAML for null, and means none.
 */
const topLevelSchema = z.strictObject({
  idcs: z.array(z.unknown()).nullish(),
  products: z.array(z.unknown()).nullish(),
  pools: z.array(z.unknown()).nullish(),
  quotas: z.unknown().nullish(),
});

export type CatalogSection = 'idcs' | 'products' | 'pools';

export type CatalogIdcEntry = z.infer<typeof idcSchema>;
export type CatalogProductEntry = z.infer<typeof productSchema>;
export type CatalogPoolEntry = z.infer<typeof poolSchema>;

/**
 * A catalog file as parsed: the well-formed entries, plus what parseCatalog found wrong with the
 * others. Malformed entries are kept out of the arrays but their problems travel with the document,
 * so that checkCatalog reports them together with the semantic problems of everything else.
 */
export interface CatalogDocument {
  idcs: CatalogIdcEntry[];
  products: CatalogProductEntry[];
  pools: CatalogPoolEntry[];
  /** Undefined when the file has no (readable) quotas section. */
  quotas: CatalogQuotas | undefined;
  /** Schema problems, already worded; checkCatalog reports them first. */
  problems: string[];
  /**
   * Names of malformed entries (when they have a string name). They still count as declared, so
   * that a pool naming a malformed IDC or product is not also told it is unknown, and a duplicate
   * of a malformed entry's name is still found.
   */
  malformed: Record<CatalogSection, string[]>;
  /** Sections present but not a list: nothing can be said about references into them. */
  unreadable: CatalogSection[];
}

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
  /** Addresses whose reservation this apply removes. */
  unreserved: bigint[];
  enabled: boolean;
}

export interface Catalog {
  idcs: string[];
  products: CatalogProduct[];
  pools: CatalogPool[];
  quotas: CatalogQuotas | undefined;
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

/**
 * Ranges whose addresses can never be public unicast addresses, so a pool there is a mistake (a
 * typo, or `0.0.0.0/0`). The documentation ranges, 100.64.0.0/10 and the private ranges are not
 * public either, but stay allowed: tests and the demo catalog use them, and private deployments
 * hand them out.
 */
const NEVER_PUBLIC: readonly { cidr: Cidr; what: string }[] = [
  { cidr: { family: 4, network: 0x0000_0000n, prefixLength: 8 }, what: '"this network"' },
  { cidr: { family: 4, network: 0x7f00_0000n, prefixLength: 8 }, what: 'loopback' },
  { cidr: { family: 4, network: 0xa9fe_0000n, prefixLength: 16 }, what: 'link-local' },
  { cidr: { family: 4, network: 0xe000_0000n, prefixLength: 4 }, what: 'multicast' },
  { cidr: { family: 4, network: 0xf000_0000n, prefixLength: 4 }, what: 'reserved' },
  {
    cidr: { family: 6, network: 0n, prefixLength: 8 },
    what: 'reserved, including ::, ::1 and the IPv4-mapped range',
  },
  { cidr: { family: 6, network: 0xfe80n << 112n, prefixLength: 10 }, what: 'link-local' },
  { cidr: { family: 6, network: 0xff00n << 112n, prefixLength: 8 }, what: 'multicast' },
];

/**
 * Reads a catalog file and checks everything that can be checked without the database, so that a
 * broken file stops start-up before the database is opened; applyCatalog checks it again against
 * the pools already there.
 */
export async function readCatalogFile(path: string): Promise<CatalogDocument> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CatalogError(path, [`cannot read the file: ${reason}`]);
  }
  const doc = parseCatalog(text, path);
  checkCatalog(doc, path);
  return doc;
}

/**
 * Parses the YAML and checks its shape. Throws only when the text is not YAML at all (nothing else
 * can be said then); schema problems ride along in the document instead, because one broken entry
 * must not hide the semantic problems of the others. An empty file is an empty catalog.
 */
export function parseCatalog(text: string, source: string): CatalogDocument {
  let raw: unknown;
  try {
    raw = parseYaml(text) ?? {};
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new CatalogError(source, [`not valid YAML: ${reason}`]);
  }
  const doc: CatalogDocument = {
    idcs: [],
    products: [],
    pools: [],
    quotas: undefined,
    problems: [],
    malformed: { idcs: [], products: [], pools: [] },
    unreadable: [],
  };
  const report = (path: readonly PropertyKey[], message: string) =>
    doc.problems.push(`${describePath(raw, path)}: ${message}`);

  const top = topLevelSchema.safeParse(raw);
  if (!top.success) for (const issue of top.error.issues) report(issue.path, issue.message);
  // Unknown top-level keys must not stop the sections from being checked, so each section is
  // taken from the raw value whenever it is an array, whatever else is wrong at the top level.
  const sections = (typeof raw === 'object' && raw !== null ? raw : {}) as Record<string, unknown>;
  const entries = (section: CatalogSection): unknown[] => {
    const value = sections[section];
    if (Array.isArray(value)) return value;
    if (value !== undefined && value !== null) doc.unreadable.push(section);
    return [];
  };

  const checkEntries = <T>(section: CatalogSection, schema: z.ZodType<T>, into: T[]) => {
    for (const [index, entry] of entries(section).entries()) {
      const parsed = schema.safeParse(entry);
      if (parsed.success) {
        into.push(parsed.data);
        continue;
      }
      for (const issue of parsed.error.issues)
        report([section, index, ...issue.path], issue.message);
      const name = entryName(entry);
      if (name !== undefined) doc.malformed[section].push(name);
    }
  };
  checkEntries('idcs', idcSchema, doc.idcs);
  checkEntries('products', productSchema, doc.products);
  checkEntries('pools', poolSchema, doc.pools);
  if (sections.quotas !== undefined && sections.quotas !== null) {
    const quotas = quotasSchema.safeParse(sections.quotas);
    if (quotas.success) {
      doc.quotas = {
        ...('default' in quotas.data ? { default: quotas.data.default } : {}),
        organizations: (quotas.data.organizations ?? []).map((o) => ({
          ...o,
          orgId: o.orgId.toLowerCase(),
        })),
      };
    } else {
      for (const issue of quotas.error.issues) report(['quotas', ...issue.path], issue.message);
    }
  }
  return doc;
}

function entryName(entry: unknown): string | undefined {
  if (typeof entry !== 'object' || entry === null) return undefined;
  const name = (entry as { name?: unknown }).name;
  return typeof name === 'string' ? name : undefined;
}

/** `pools[3].cidr` becomes `pool "edge-b" (pools[3]).cidr` when the entry has a name. */
function describePath(raw: unknown, path: readonly PropertyKey[]): string {
  const [section, index, ...rest] = path;
  if (typeof section !== 'string') return '(top level)';
  if (section === 'quotas')
    return path
      .map(String)
      .join('.')
      .replace(/\.(\d+)/g, '[$1]');
  if (typeof index !== 'number') return section;
  const entries =
    typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>)[section] : undefined;
  const name = entryName(Array.isArray(entries) ? entries[index] : undefined);
  const kind = section.replace(/s$/, '');
  const where =
    name === undefined ? `${section}[${index}]` : `${kind} "${name}" (${section}[${index}])`;
  return rest.length === 0 ? where : `${where}.${rest.map(String).join('.')}`;
}

/**
 * Semantic checks: names unique, references resolve, CIDRs and addresses strict and canonical,
 * pools disjoint (with each other and with pools already in the database), one address family per
 * product, no pool in a range that can never be public, and every address a pool can hand out
 * fits the published ipAddress length. Throws the document's schema problems together with these.
 */
export function checkCatalog(
  doc: CatalogDocument,
  source: string,
  existing: ExistingPool[] = [],
): Catalog {
  const problems: string[] = [...doc.problems];
  const duplicates = (kind: string, names: string[]) => {
    const seen = new Set<string>();
    const reported = new Set<string>();
    for (const n of names) {
      if (seen.has(n) && !reported.has(n)) {
        problems.push(`${kind} "${n}" is declared more than once`);
        reported.add(n);
      }
      seen.add(n);
    }
  };
  const idcNames = [...doc.idcs.map((i) => i.name), ...doc.malformed.idcs];
  const productNames = [...doc.products.map((p) => p.name), ...doc.malformed.products];
  duplicates('IDC', idcNames);
  duplicates('product', productNames);
  duplicates('pool', [...doc.pools.map((p) => p.name), ...doc.malformed.pools]);

  const idcs = new Set(idcNames);
  const products = new Set(productNames);
  const pools: CatalogPool[] = [];

  for (const entry of doc.pools) {
    const label = `pool "${entry.name}"`;
    if (!idcs.has(entry.idc) && !doc.unreadable.includes('idcs'))
      problems.push(`${label}: unknown IDC "${entry.idc}" (declare it under idcs)`);
    for (const product of entry.products) {
      if (!products.has(product) && !doc.unreadable.includes('products')) {
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
    if (cidr.family === 6 && cidrsOverlap(cidr, IPV4_MAPPED_CIDR)) {
      problems.push(
        `${label}: ${formatCidr(cidr)} contains ::ffff:0:0/96, the IPv4-mapped addresses, which eipd treats as IPv4`,
      );
    }
    if (shortestCanonicalLength(cidr) < MIN_ADDRESS_TEXT) {
      problems.push(
        `${label}: ${formatCidr(cidr)} contains addresses whose text is shorter than ${MIN_ADDRESS_TEXT} characters, which the API's ipAddress field cannot carry`,
      );
    }
    const unroutable = NEVER_PUBLIC.filter((r) => cidrsOverlap(cidr, r.cidr));
    if (unroutable.length > 0) {
      const ranges = unroutable.map((r) => `${formatCidr(r.cidr)} (${r.what})`).join(', ');
      problems.push(
        `${label}: ${formatCidr(cidr)} overlaps ${ranges}; no address there can be public`,
      );
    }
    // The network, broadcast or subnet-router anycast address is accepted: reserving it is
    // redundant, not wrong, as usableBounds already keeps it from ever being handed out.
    const reserved = addressesIn(cidr, entry.reserved, `${label}: reserved`, problems);
    const unreserved = addressesIn(cidr, entry.unreserved, `${label}: unreserved`, problems);
    const both = new Set(reserved);
    for (const address of new Set(unreserved)) {
      if (both.has(address)) {
        problems.push(
          `${label}: ${formatAddress({ family: cidr.family, value: address })} is both reserved and unreserved`,
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
      unreserved: [...new Set(unreserved)],
      enabled: entry.enabled,
    });
  }

  checkOverlaps(pools, existing, problems);
  checkProductFamilies(pools, existing, problems);
  checkQuotas(doc, idcs, problems);

  if (problems.length > 0) throw new CatalogError(source, problems);
  return {
    idcs: [...new Set(doc.idcs.map((i) => i.name))],
    products: doc.products,
    pools,
    quotas: doc.quotas,
  };
}

function checkOverlaps(pools: CatalogPool[], existing: ExistingPool[], problems: string[]): void {
  const describe = (p: { name: string; idc: string; cidr: Cidr }) =>
    `pool "${p.name}" (${formatCidr(p.cidr)} in IDC ${p.idc})`;
  // An existing pool that the file declares with the same CIDR is compared as a file pool (below,
  // pool against pool); comparing it as an existing pool too would report each overlap twice.
  const declaredAsIs = new Set(pools.map((p) => `${p.name} ${formatCidr(p.cidr)}`));
  const others = existing.filter((e) => !declaredAsIs.has(`${e.name} ${formatCidr(e.cidr)}`));
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
      if (e.name !== a.name) continue;
      if (formatCidr(e.cidr) !== formatCidr(a.cidr) || e.idc !== a.idc) {
        problems.push(
          `pool "${a.name}" already exists as ${formatCidr(e.cidr)} in IDC ${e.idc}; a pool's CIDR and IDC cannot change (declare a new pool instead)`,
        );
      }
    }
    for (const e of others) {
      if (e.name !== a.name && cidrsOverlap(a.cidr, e.cidr)) {
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
  for (const p of pools) for (const product of p.products) note(product, p.cidr.family, p.name);
  // Every existing link counts, including those of pools the file declares: applying only ever
  // adds a pool's products, so a product dropped from a pool's list in the file keeps serving it.
  for (const e of existing) for (const product of e.products) note(product, e.cidr.family, e.name);
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

/** The addresses of a pool's address list, each checked to lie in the pool's CIDR. */
function addressesIn(cidr: Cidr, texts: string[], label: string, problems: string[]): bigint[] {
  const out: bigint[] = [];
  for (const text of texts) {
    try {
      const address = parseAddress(text);
      if (cidrContains(cidr, address)) out.push(address.value);
      else
        problems.push(`${label} address ${formatAddress(address)} is outside ${formatCidr(cidr)}`);
    } catch (error) {
      problems.push(`${label} ${error instanceof AddressError ? error.message : String(error)}`);
    }
  }
  return out;
}

function checkQuotas(doc: CatalogDocument, idcs: Set<string>, problems: string[]): void {
  const seen = new Set<string>();
  for (const [index, o] of (doc.quotas?.organizations ?? []).entries()) {
    const label = `quotas.organizations[${index}]`;
    if (!idcs.has(o.idc) && !doc.unreadable.includes('idcs')) {
      problems.push(`${label}: unknown IDC "${o.idc}" (declare it under idcs)`);
    }
    const key = `${o.orgId} ${o.idc}`;
    if (seen.has(key)) {
      problems.push(`${label}: organization ${o.orgId} has more than one quota in IDC ${o.idc}`);
    }
    seen.add(key);
  }
}
