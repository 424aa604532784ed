/**
 * Fuzzing from the spec: for every operation of openapi/eipd.yaml, fast-check generates requests
 * whose path parameters, query string, headers, Authorization and body are each either valid
 * (drawn from the operation's own schemas) or hostile (huge and deeply nested JSON, duplicate
 * keys, lone surrogates and NUL bytes, numbers JSON cannot carry exactly, wrong content types,
 * odd or forged tokens), and drives them through one in-process app with inject().
 *
 * Every answer must:
 * - come within ANSWER_BOUND_MS (no hang);
 * - never be a 5xx, except 503 "no free address" (5031/5032), a documented business answer;
 * - have a status the document declares for the operation (or 404 code 4040 when the path no
 *   longer names the operation's route at all);
 * - have a body that validates against the document's response schema for that status, with Ajv;
 * - carry X-Request-Id, and WWW-Authenticate on a 401.
 * A request that is valid in every part must succeed: 200, or a documented business refusal in
 * the `{code, reason}` shape (404 for a random id, 400 4005 for a held address, 503 5031, ...).
 *
 * The seed is fixed (printed at the end); EIPD_FUZZ_SEED and EIPD_FUZZ_RUNS (total cases, spread
 * evenly over the operations) override it, so that a failure reproduces:
 *   EIPD_FUZZ_SEED=123 EIPD_FUZZ_RUNS=2000 node --import tsx --test test/api/fuzz.test.ts
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import type { ValidateFunction } from 'ajv';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import {
  deref,
  type JsonSchema,
  listOperations,
  loadOpenApi,
  type Operation,
} from '../../src/http/openapi.js';
import { createAjv } from '../../src/http/validation.js';
import { BASIC_CATALOG, startTestApp, TEST_SECRET, type TestApp } from '../support/app.js';

const SEED = Number(process.env.EIPD_FUZZ_SEED ?? 20261204);
const TOTAL_RUNS = Number(process.env.EIPD_FUZZ_RUNS ?? 10_500);
/**
 * No answer, even to a 4 MiB body or 500,000 levels of nesting, takes longer than this (the
 * slowest is printed at the end; it is far below, the margin is for a busy CI machine).
 */
const ANSWER_BOUND_MS = 10_000;
const BODY_LIMIT = 1024 * 1024;

assert.ok(Number.isSafeInteger(SEED), 'EIPD_FUZZ_SEED must be an integer');
assert.ok(Number.isSafeInteger(TOTAL_RUNS) && TOTAL_RUNS > 0, 'EIPD_FUZZ_RUNS must be positive');

const document = loadOpenApi({ maxAllocateCount: 100 });
const operations = listOperations(document);
const RUNS_PER_OPERATION = Math.ceil(TOTAL_RUNS / operations.length);

// ---------------------------------------------------------------------------------------------
// Response schemas, per operation and status, compiled once

const ajv = createAjv();

/**
 * OpenAPI 3.0's `nullable: true` next to an `enum` allows null (`instanceType: null` of an EIP
 * that is not associated); Ajv, which reads `nullable` natively, wants the null in the enum too.
 */
function forAjv(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(forAjv);
  if (typeof node !== 'object' || node === null) return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = forAjv(v);
  if (out.nullable === true && Array.isArray(out.enum) && !out.enum.includes(null)) {
    out.enum = [...out.enum, null];
  }
  return out;
}
type Schemas = Map<string, ValidateFunction | null>;
const responseSchemas = new Map<string, Schemas>();
for (const [, item] of Object.entries(document.paths)) {
  for (const op of Object.values(item)) {
    if (typeof op !== 'object' || op === null || !('operationId' in op)) continue;
    const byStatus: Schemas = new Map();
    for (const [status, response] of Object.entries(op.responses)) {
      const resolved = deref(document, response) as {
        content?: Record<string, { schema?: JsonSchema }>;
      };
      const schema = resolved.content?.['application/json']?.schema;
      byStatus.set(status, schema === undefined ? null : ajv.compile(forAjv(schema) as JsonSchema));
    }
    responseSchemas.set(op.operationId, byStatus);
  }
}
const routeNotFound = ajv.compile(
  deref(document, { $ref: '#/components/schemas/error' }) as JsonSchema,
);

// ---------------------------------------------------------------------------------------------
// Encoding helpers that never throw, whatever the text (encodeURIComponent throws on a lone
// surrogate; a lenient client would send its WTF-8 bytes, so that is what these send).

function percentEncode(text: string): string {
  let out = '';
  for (const ch of text) {
    const cp = ch.codePointAt(0) ?? 0;
    if (cp >= 0xd800 && cp <= 0xdfff) {
      const bytes = [0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f)];
      out += bytes.map((b) => `%${b.toString(16).toUpperCase()}`).join('');
    } else {
      out += encodeURIComponent(ch);
    }
  }
  return out;
}

/** A JSON object as text from [key, raw JSON value] pairs: keys may repeat, values may be any token. */
function rawObject(entries: readonly (readonly [string, string])[]): string {
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${v}`).join(',')}}`;
}

// ---------------------------------------------------------------------------------------------
// The world the requests run in (filled in by before())

interface World {
  t: TestApp;
  ownerOrg: string;
  ownerToken: string;
  strangerToken: string;
  operatorToken: string;
  expiredToken: string;
  unsignedToken: string;
  ownerEips: string[];
  instances: string[];
}
let world: World;

const IDCS = ['test-east1', 'test-west1'];
const PRODUCTS = ['eip.ipv4.test', 'eip.ipv6.test', 'eip.unoffered'];
const POOLS = ['east-v4', 'east-v6', 'west-v4'];
const ADDRESSES = [
  '192.0.2.2',
  '192.0.2.3',
  '192.0.2.1',
  '198.51.100.9',
  '2001:db8::5',
  '10.0.0.1',
];
const IDEMPOTENCY_KEYS = ['fuzz-key-1', 'fuzz-key-2', 'fuzz-key-3'];

// ---------------------------------------------------------------------------------------------
// Hostile material

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '\ud800',
  '\udfff',
  'x\ud800y',
  '\udc00\ud800',
  '..',
  '../../etc/passwd',
  "' OR '1'='1' --",
  '"; DROP TABLE elastic_ips; --',
  '%00',
  '%zz',
  '\u202e\u200b',
  '😀',
  '\ufeff',
  'null',
  'true',
  '-0',
  '1e309',
  '__proto__',
  'constructor',
  'prototype',
  'hasOwnProperty',
  '\r\n',
  '\\',
  '"',
  '<script>alert(1)</script>',
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a log4j-style lookup, sent as text
  '${jndi:ldap://x}',
];

const hostileString: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...NASTY_STRINGS), weight: 4 },
  { arbitrary: fc.string({ unit: 'binary', maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: 'grapheme', maxLength: 40 }), weight: 2 },
  { arbitrary: fc.integer({ min: 256, max: 20_000 }).map((n) => 'a'.repeat(n)), weight: 1 },
);

const SPECIAL_NUMBERS = [
  '1e309',
  '-1e309',
  '-0',
  '-0.0',
  '9007199254740993',
  '-9007199254740993',
  '9007199254740992',
  '1e-400',
  '0.1',
  '99.99999999999999999999',
  '1e2',
  '100.000',
  '0',
  '-1',
  '1.5',
  '4294967296',
  '1E+2',
  '123456789012345678901234567890',
];

/** Raw JSON text of a hostile value. */
const hostileJson: fc.Arbitrary<string> = fc.oneof(
  { arbitrary: fc.constantFrom(...SPECIAL_NUMBERS), weight: 4 },
  {
    arbitrary: fc.constantFrom(
      'null',
      'true',
      'false',
      '[]',
      '{}',
      '""',
      '"\\u0000"',
      '"\\ud800"',
      '"\\udfff\\ud800"',
      '[[[[[[]]]]]]',
      '{"__proto__":{"admin":true}}',
      '{"constructor":{"prototype":{"x":1}}}',
    ),
    weight: 3,
  },
  { arbitrary: hostileString.map((s) => JSON.stringify(s)), weight: 3 },
  { arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)), weight: 2 },
  { arbitrary: fc.integer().map(String), weight: 1 },
  { arbitrary: fc.double({ noNaN: true, noDefaultInfinity: true }).map(String), weight: 1 },
);

const deepNesting = fc
  .record({
    depth: fc.oneof(fc.integer({ min: 30, max: 40 }), fc.constantFrom(1_000, 100_000, 500_000)),
    kind: fc.constantFrom('array', 'object', 'mixed'),
  })
  .map(({ depth, kind }) => {
    if (kind === 'array') return '['.repeat(depth) + ']'.repeat(depth);
    if (kind === 'object') return `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    return `{"name":${'[{"x":'.repeat(depth)}0${'}]'.repeat(depth)}}`;
  });

// ---------------------------------------------------------------------------------------------
// Valid values from a schema

function validValue(schema: JsonSchema, field: string, op: Operation): fc.Arbitrary<unknown> {
  const hint = fieldHint(field, op);
  if (hint !== undefined) return hint;
  if (Array.isArray(schema.enum)) return fc.constantFrom(...(schema.enum as unknown[]));
  switch (schema.type) {
    case 'integer': {
      const min = typeof schema.minimum === 'number' ? schema.minimum : -(2 ** 31);
      const max = typeof schema.maximum === 'number' ? schema.maximum : 2 ** 31;
      return fc.integer({ min, max });
    }
    case 'boolean':
      return fc.boolean();
    case 'object':
      return validObject(schema, op);
    default:
      return validString(schema);
  }
}

function validString(schema: JsonSchema): fc.Arbitrary<string> {
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : 64;
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  switch (schema.format) {
    case 'uuid':
      return fc.uuid();
    case 'ip-address':
      return fc.oneof(fc.constantFrom(...ADDRESSES), fc.ipV4(), fc.ipV6());
    case 'date-time':
      return fc
        .date({ min: new Date('2000-01-01'), max: new Date('2100-01-01'), noInvalidDate: true })
        .map((d) => d.toISOString());
  }
  if (typeof schema.pattern === 'string') {
    const pattern = new RegExp(schema.pattern);
    return fc
      .stringMatching(pattern)
      .filter((s) => s.length >= min && s.length <= max)
      .map((s) => s);
  }
  return fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(max, 80) });
}

function validObject(schema: JsonSchema, op: Operation): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema.required ?? []) as string[]);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, property] of Object.entries(properties)) {
    model[name] = validValue(property, name, op);
  }
  return fc
    .tuple(fc.record(model, { requiredKeys: [...required] }), fc.nat(3))
    .map(([value, dice]) =>
      repairForOperation(op, dice === 0 ? value : withoutRareFields(op, value)),
    );
}

/**
 * An explicit address sends a valid allocation down a refusal most of the time (held, or outside
 * the pools): it is in a quarter of them only, so that the others reach the success path. (The
 * query strings do the same with random cursors, see queryArb.)
 */
function withoutRareFields(op: Operation, value: Record<string, unknown>): Record<string, unknown> {
  if (op.operationId !== 'allocateElasticIP') return value;
  const { ipAddress: _ipAddress, ...rest } = value;
  return rest;
}

/** Known names and ids most of the time, so that valid requests reach the success paths. */
function fieldHint(field: string, op: Operation): fc.Arbitrary<unknown> | undefined {
  const fromSchema = <T>(known: fc.Arbitrary<T>, any: fc.Arbitrary<T>) =>
    fc.oneof({ arbitrary: known, weight: 4 }, { arbitrary: any, weight: 1 });
  switch (field) {
    case 'idc':
      return fromSchema(fc.constantFrom(...IDCS), fc.stringMatching(/^[a-zA-Z0-9._-]{1,50}$/));
    case 'product':
      return fromSchema(fc.constantFrom(...PRODUCTS), fc.stringMatching(/^[a-zA-Z0-9._-]{1,100}$/));
    case 'pool':
      return fromSchema(fc.constantFrom(...POOLS), fc.stringMatching(/^[a-zA-Z0-9._-]{1,100}$/));
    case 'instanceID':
      return fromSchema(
        fc.constantFrom(0, 1, 2).map((i) => world.instances[i] ?? randomUUID()),
        fc.uuid(),
      );
    case 'orgId':
      return fromSchema(
        fc.constant(0).map(() => world.ownerOrg),
        fc.uuid(),
      );
    case 'count':
      return op.operationId === 'allocateElasticIP'
        ? fc.oneof(
            { arbitrary: fc.integer({ min: 1, max: 3 }), weight: 9 },
            { arbitrary: fc.integer({ min: 1, max: 100 }), weight: 1 },
          )
        : undefined;
    case 'enabled':
      return fc.oneof(
        { arbitrary: fc.constant(true), weight: 4 },
        { arbitrary: fc.boolean(), weight: 1 },
      );
    default:
      return undefined;
  }
}

/** Rules across fields that a schema cannot say: an explicit address allocates exactly one. */
function repairForOperation(
  op: Operation,
  value: Record<string, unknown>,
): Record<string, unknown> {
  if (op.operationId === 'allocateElasticIP' && value.ipAddress !== undefined) {
    return { ...value, count: 1 };
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// One request, dimension by dimension

interface Part<T> {
  value: T;
  valid: boolean;
}

interface FuzzRequest {
  method: Operation['method'];
  url: string;
  headers: Record<string, string>;
  payload: string | Buffer | undefined;
  valid: boolean;
  /** The path no longer names the operation's route: 404 code 4040 is then an answer too. */
  pathMangled: boolean;
  summary: string;
}

function pathParameters(op: Operation): string[] {
  return [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1] ?? '');
}

function pathSegmentArb(
  op: Operation,
  name: string,
): fc.Arbitrary<Part<string> & { mangled: boolean }> {
  const schema =
    name === 'id'
      ? { type: 'string', format: 'uuid' }
      : ((op.paramsSchema?.properties as Record<string, JsonSchema> | undefined)?.[name] ?? {
          type: 'string',
        });
  const valid: fc.Arbitrary<string> =
    name === 'id'
      ? fc.oneof(
          {
            arbitrary: fc.constantFrom(0, 1, 2, 3).map((i) => world.ownerEips[i] ?? ''),
            weight: 5,
          },
          {
            arbitrary: fc.constantFrom(0, 1).map((i) => (world.ownerEips[i] ?? '').toUpperCase()),
            weight: 1,
          },
          { arbitrary: fc.uuid(), weight: 2 },
        )
      : // `.` and `..` match the patterns, but as path segments they are dot-segments, which
        // every HTTP client and server removes (RFC 3986 §5.2.4): no name can be addressed so.
        (validValue(schema, name, op) as fc.Arbitrary<string>).filter(
          (v) => v !== '.' && v !== '..',
        );
  const hostile = fc.oneof(
    {
      arbitrary: hostileString.map((s) => ({ text: percentEncode(s), mangled: s === '' })),
      weight: 6,
    },
    {
      arbitrary: fc
        .constantFrom('a/b', '%2F', '%', '%zz', '%E0%A4%A', '..', '.', '%2e%2e', ';x', 'a?b=c#d')
        .map((text) => ({ text, mangled: text.includes('/') || text.includes('?') })),
      weight: 2,
    },
    {
      arbitrary: fc.constantFrom(150, 5_000).map((n) => ({ text: 'a'.repeat(n), mangled: false })),
      weight: 1,
    },
  );
  return fc.oneof(
    {
      arbitrary: valid.map((v) => ({ value: percentEncode(v), valid: true, mangled: false })),
      weight: 6,
    },
    {
      arbitrary: hostile.map((h) => ({ value: h.text, valid: false, mangled: h.mangled })),
      weight: 1,
    },
  );
}

function queryArb(op: Operation): fc.Arbitrary<Part<string>> {
  const properties = (op.querySchema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (op.querySchema.required ?? []) as string[];
  const names = Object.keys(properties);
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const name of names) model[name] = validValue(properties[name] ?? {}, name, op);
  const validQuery =
    names.length === 0
      ? fc.constant<Record<string, unknown>>({})
      : fc.tuple(fc.record(model, { requiredKeys: required }), fc.nat(3)).map(([query, dice]) => {
          if (dice === 0 || query.cursor === undefined) return query;
          const { cursor: _cursor, ...rest } = query;
          return rest;
        });
  const encode = (pairs: readonly (readonly [string, string])[]) =>
    pairs.map(([k, v]) => `${percentEncode(k)}=${percentEncode(v)}`).join('&');
  const valid = validQuery.map((q) => encode(Object.entries(q).map(([k, v]) => [k, String(v)])));
  const invalidValue = fc.oneof(
    hostileString,
    fc.constantFrom(...SPECIAL_NUMBERS, 'abc', '0x10', '+5', ' 1', '1 ', ''),
  );
  const invalid = fc.oneof(
    // an unknown parameter
    fc
      .tuple(
        valid,
        hostileString.filter((k) => !names.includes(k)),
        invalidValue,
      )
      .map(([q, k, v]) => [q, `${percentEncode(k)}=${percentEncode(v)}`].filter(Boolean).join('&')),
    // a documented parameter with a hostile value, or twice
    ...(names.length === 0
      ? []
      : [
          fc.tuple(fc.constantFrom(...names), invalidValue, fc.boolean()).map(([k, v, twice]) =>
            encode(
              twice
                ? [
                    [k, v],
                    [k, v],
                  ]
                : [[k, v]],
            ),
          ),
        ]),
    // raw text that is not a proper query string
    fc.constantFrom(
      '&&&',
      '=',
      '==x',
      '%',
      '%zz=1',
      'a=%E0%A4%A',
      'a[b]=1',
      'a.b=c',
      '__proto__=1',
    ),
  );
  return fc.oneof(
    { arbitrary: valid.map((value) => ({ value, valid: true })), weight: 6 },
    { arbitrary: invalid.map((value) => ({ value, valid: false })), weight: 1 },
  );
}

interface BodyPart {
  payload: string | Buffer | undefined;
  contentType: string | undefined;
  contentEncoding?: string;
  valid: boolean;
  kind: string;
}

const JSON_TYPES = ['application/json', 'application/json; charset=utf-8', 'Application/JSON'];
const WRONG_TYPES = [
  'text/plain',
  'application/xml',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/vnd.api+json',
  'application/octet-stream',
  '*/*',
  'json',
  '',
];

function hostileBodies(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<BodyPart> {
  const asEntries = (o: Record<string, unknown>) =>
    Object.entries(o).map(([k, v]) => [k, JSON.stringify(v)] as const);
  const json = (kind: string) => (payload: string | Buffer) => ({
    payload,
    contentType: 'application/json',
    valid: false,
    kind,
  });
  return fc.oneof(
    // one field replaced by a hostile value
    fc
      .tuple(valid, hostileJson, fc.nat())
      .map(([o, v, i]) => {
        const entries = asEntries(o);
        const at = entries.length === 0 ? 0 : i % entries.length;
        const key = entries[at]?.[0] ?? 'name';
        return rawObject([...entries.filter(([k]) => k !== key), [key, v]]);
      })
      .map(json('hostile field')),
    // a field missing, or an unknown one added
    fc
      .tuple(valid, fc.nat(), fc.option(hostileString, { nil: undefined }), hostileJson)
      .map(([o, i, extra, v]) => {
        const entries = asEntries(o);
        if (extra === undefined)
          return rawObject(entries.filter((_, j) => j !== i % entries.length));
        return rawObject([...entries, [extra, v]]);
      })
      .map(json('missing or unknown field')),
    // a duplicate key, maybe spelt with escapes
    fc
      .tuple(valid, fc.nat(), hostileJson, fc.boolean())
      .map(([o, i, v, escaped]) => {
        const entries = asEntries(o);
        const [key = 'name'] = entries[i % Math.max(entries.length, 1)] ?? [];
        const text = rawObject([...entries, [key, v]]);
        return escaped
          ? text.replace(
              /,"([a-zA-Z])([a-zA-Z]*)":([^,]*)}$/,
              (_m, c: string, rest: string, val: string) =>
                `,"\\u00${c.charCodeAt(0).toString(16)}${rest}":${val}}`,
            )
          : text;
      })
      .map(json('duplicate key')),
    deepNesting.map(json('deep')),
    // huge: just over the limit, or just under it in one field
    fc
      .constantFrom(BODY_LIMIT + 1, BODY_LIMIT - 64, 4 * BODY_LIMIT)
      .map((n) => `{"name":"${'x'.repeat(Math.max(0, n - 12))}"}`)
      .map(json('huge')),
    // wide: many fields
    fc
      .integer({ min: 60, max: 2_000 })
      .map((n) => rawObject(Array.from({ length: n }, (_, i) => [`k${i}`, String(i)])))
      .map(json('wide')),
    // not an object
    fc
      .oneof(
        fc.constantFrom('null', '[]', '""', '0', 'true', '[{}]', '"{}"'),
        fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v) ?? 'null'),
      )
      .map(json('not an object')),
    // not JSON at all, or not UTF-8
    fc
      .oneof(
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.constantFrom('{', '{"a":}', "{'a':1}", '{"a":1,}', 'NaN', '\ufeff\ufeff{}', '{"a":1}x'),
        fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
        fc.constantFrom(
          Buffer.from([0xff, 0xfe, 0x7b, 0x7d]),
          Buffer.from([0x7b, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x3a, 0x31, 0x7d]),
          Buffer.from('{"name":"\u00e9"}', 'latin1'),
        ),
      )
      .map(json('not JSON')),
    // a valid body in a wrong media type, or compressed
    fc.tuple(valid, fc.constantFrom(...WRONG_TYPES)).map(([o, contentType]) => ({
      payload: JSON.stringify(o),
      contentType,
      valid: false,
      kind: 'wrong content type',
    })),
    fc.tuple(valid, fc.constantFrom('gzip', 'deflate', 'br', 'x-unknown')).map(([o, enc]) => ({
      payload: JSON.stringify(o),
      contentType: 'application/json',
      contentEncoding: enc,
      valid: false,
      kind: 'compressed',
    })),
    // no body at all
    fc.constantFrom<BodyPart>(
      { payload: undefined, contentType: undefined, valid: false, kind: 'no body' },
      { payload: '', contentType: 'application/json', valid: false, kind: 'empty body' },
      { payload: '  \n', contentType: 'application/json', valid: false, kind: 'blank body' },
    ),
  );
}

function bodyArb(op: Operation): fc.Arbitrary<BodyPart> {
  if (op.bodySchema === undefined) {
    // Operations without a body: none, or an empty one of any type, is valid; any body is not.
    const anything = validObject(
      { type: 'object', properties: { name: { type: 'string' }, force: { type: 'boolean' } } },
      op,
    );
    const none = fc.oneof(
      fc.constant<BodyPart>({
        payload: undefined,
        contentType: undefined,
        valid: true,
        kind: 'none',
      }),
      fc
        .constantFrom(...JSON_TYPES, ...WRONG_TYPES)
        .map((contentType) => ({ payload: '', contentType, valid: true, kind: 'empty' })),
    );
    // GET bodies are not read at all (Fastify parses none): a GET with one is still valid.
    const someBody = hostileBodies(anything).map((b) =>
      op.method === 'GET' ? b : { ...b, valid: false },
    );
    return fc.oneof({ arbitrary: none, weight: 6 }, { arbitrary: someBody, weight: 2 });
  }
  const valid = validValue(op.bodySchema, '', op) as fc.Arbitrary<Record<string, unknown>>;
  const good = fc
    .tuple(valid, fc.constantFrom(...JSON_TYPES), fc.boolean())
    .map(([o, contentType, pretty]) => ({
      payload: pretty ? JSON.stringify(o, null, 2) : JSON.stringify(o),
      contentType,
      valid: true,
      kind: 'valid',
    }));
  return fc.oneof({ arbitrary: good, weight: 3 }, { arbitrary: hostileBodies(valid), weight: 2 });
}

type AuthKind =
  | 'right'
  | 'none'
  | 'stranger'
  | 'tenant-on-admin'
  | 'operator-on-tenant'
  | 'expired'
  | 'alg-none'
  | 'garbage';

function authArb(op: Operation): fc.Arbitrary<Part<string | undefined> & { kind: AuthKind }> {
  if (op.anonymous) {
    return fc.oneof(
      fc.constant({ value: undefined, valid: true, kind: 'right' as const }),
      fc
        .constant(0)
        .map(() => ({ value: `Bearer ${world.ownerToken}`, valid: true, kind: 'right' as const })),
      hostileAuthorization.map((value) => ({ value, valid: true, kind: 'right' as const })),
    );
  }
  const admin = op.path.startsWith('/v1/admin/');
  const right = fc
    .constantFrom('Bearer ', 'bearer ', 'BEARER   ')
    .map((scheme) => `${scheme}${admin ? world.operatorToken : world.ownerToken}`);
  return fc.oneof(
    {
      arbitrary: right.map((value) => ({ value, valid: true, kind: 'right' as const })),
      weight: 12,
    },
    {
      arbitrary: fc.constant({ value: undefined, valid: false, kind: 'none' as const }),
      weight: 1,
    },
    {
      arbitrary: fc.constant(0).map(() =>
        admin
          ? {
              value: `Bearer ${world.ownerToken}`,
              valid: false,
              kind: 'tenant-on-admin' as const,
            }
          : { value: `Bearer ${world.strangerToken}`, valid: false, kind: 'stranger' as const },
      ),
      weight: 1,
    },
    {
      arbitrary: fc.constant(0).map(() =>
        admin
          ? { value: `Bearer ${world.expiredToken}`, valid: false, kind: 'expired' as const }
          : {
              value: `Bearer ${world.operatorToken}`,
              valid: false,
              kind: 'operator-on-tenant' as const,
            },
      ),
      weight: 1,
    },
    {
      arbitrary: fc.constant(0).map(() => ({
        value: `Bearer ${world.unsignedToken}`,
        valid: false,
        kind: 'alg-none' as const,
      })),
      weight: 1,
    },
    {
      arbitrary: hostileAuthorization.map((value) => ({
        value,
        valid: false,
        kind: 'garbage' as const,
      })),
      weight: 2,
    },
  );
}

/** Header values as they can arrive on the wire: tab, visible ASCII and obs-text. */
const headerText = fc
  .array(
    fc.oneof(
      fc.integer({ min: 0x20, max: 0x7e }),
      fc.integer({ min: 0x80, max: 0xff }),
      fc.constant(0x09),
    ),
    { maxLength: 120 },
  )
  .map((codes) => String.fromCharCode(...codes));

const hostileAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '',
    'Bearer',
    'Bearer ',
    'Basic dXNlcjpwYXNz',
    'Bearer a.b.c',
    'Bearer ..',
    'Bearer e30.e30.',
    'Bearer e30.e30.e30',
    'Bearer eyJhbGciOiJub25lIn0.eyJvcmdJZCI6IngifQ.',
    'Token abc',
    'Bearer\tabc.def.ghi',
  ),
  headerText.map((s) => `Bearer ${s}`),
  headerText,
  fc.constantFrom(9_000, 100_000).map((n) => `Bearer ${'a'.repeat(n)}.b.c`),
);

function headersArb(op: Operation): fc.Arbitrary<Part<Record<string, string>>> {
  const documented = Object.keys(
    (op.headerSchema?.properties as Record<string, unknown> | undefined) ?? {},
  );
  const requestId = fc.oneof(
    fc.constant<Record<string, string>>({}),
    fc.stringMatching(/^[A-Za-z0-9._:-]{1,128}$/).map((id) => ({ 'x-request-id': id })),
    headerText.map((id) => ({ 'x-request-id': id })),
  );
  const extra = fc.oneof(
    fc.constant<Record<string, string>>({}),
    fc.record({ 'x-forwarded-for': headerText }),
    fc.record({ accept: fc.constantFrom('application/xml', '*/*', 'text/html', '') }),
    fc.record({ 'content-length': fc.constant('0') }).map(() => ({})),
  );
  const base = fc.tuple(requestId, extra).map(([a, b]) => ({ ...a, ...b }));
  if (!documented.includes('idempotency-key')) {
    return base.map((value) => ({ value, valid: true }));
  }
  const validKey = fc.oneof(
    fc.constant<string | undefined>(undefined),
    fc.constantFrom(...IDEMPOTENCY_KEYS),
    fc.stringMatching(/^[\x21-\x7e]{1,255}$/),
  );
  const invalidKey = fc.oneof(
    fc.constantFrom('', ' ', 'a b', '\u00e9', 'x'.repeat(256), '\t'),
    headerText.filter((s) => !/^[\x21-\x7e]{1,255}$/.test(s)),
  );
  const key = fc.oneof(
    { arbitrary: validKey.map((k) => ({ k, valid: true })), weight: 5 },
    { arbitrary: invalidKey.map((k) => ({ k, valid: false })), weight: 1 },
  );
  return fc.tuple(base, key).map(([headers, { k, valid }]) => ({
    value: k === undefined ? headers : { ...headers, 'idempotency-key': k },
    valid,
  }));
}

function requestArb(op: Operation): fc.Arbitrary<FuzzRequest> {
  const params = pathParameters(op);
  const segments: fc.Arbitrary<(Part<string> & { mangled: boolean })[]> =
    params.length === 0
      ? fc.constant([])
      : fc.tuple(...params.map((name) => pathSegmentArb(op, name)));
  return fc
    .record({
      segments,
      query: queryArb(op),
      body: bodyArb(op),
      headers: headersArb(op),
      auth: authArb(op),
    })
    .map(({ segments: segs, query, body, headers, auth }) => {
      let path = op.path;
      params.forEach((name, i) => {
        path = path.replace(`{${name}}`, segs[i]?.value ?? '');
      });
      const all: Record<string, string> = { ...headers.value };
      if (auth.value !== undefined) all.authorization = auth.value;
      if (body.contentType !== undefined) all['content-type'] = body.contentType;
      if (body.contentEncoding !== undefined) all['content-encoding'] = body.contentEncoding;
      const valid =
        segs.every((s) => s.valid) && query.valid && body.valid && headers.valid && auth.valid;
      const url = query.value === '' ? path : `${path}?${query.value}`;
      return {
        method: op.method,
        url,
        headers: all,
        payload: body.payload,
        valid,
        pathMangled: segs.some((s) => s.mangled || !s.valid),
        summary: `${op.method} ${url.slice(0, 300)} auth=${auth.kind} body=${body.kind}${
          typeof body.payload === 'string' ? ` ${body.payload.slice(0, 200)}` : ''
        } headers=${JSON.stringify(headers.value).slice(0, 200)}`,
      };
    });
}

// ---------------------------------------------------------------------------------------------
// The checks every answer gets

interface Answer {
  statusCode: number;
  headers: Record<string, unknown>;
  body: string;
}

async function send(request: FuzzRequest): Promise<Answer> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer within ${ANSWER_BOUND_MS} ms: ${request.summary}`)),
      ANSWER_BOUND_MS,
    );
  });
  const started = performance.now();
  try {
    const res = await Promise.race([
      world.t.app.inject({
        method: request.method,
        url: request.url,
        headers: request.headers,
        ...(request.payload === undefined ? {} : { payload: request.payload }),
      }),
      deadline,
    ]);
    return { statusCode: res.statusCode, headers: res.headers, body: res.body };
  } finally {
    clearTimeout(timer);
    stats.slowestMs = Math.max(stats.slowestMs, performance.now() - started);
  }
}

/** What an error body must never show: a stack frame, SQL, or a driver's message. */
const INTERNALS =
  /\bat .+:\d+:\d+\)|\bSELECT\b|\bINSERT INTO\b|\bUPDATE \w+ SET\b|relation "|syntax error at|invalid byte sequence|node_modules/;

const BUSINESS_404 = new Set([4041, 4042, 4043, 4044, 4045, 4046, 4047]);
const BUSINESS_400 = new Set([4002, 4003, 4005, 4006, 4007, 4008, 4009, 4010, 4011]);
const BUSINESS_503 = new Set([5031, 5032]);

const stats = {
  cases: 0,
  serverErrors: 0,
  valid: 0,
  validSucceeded: 0,
  slowestMs: 0,
  byOperation: new Map<string, Map<number, number>>(),
};

function check(op: Operation, request: FuzzRequest, answer: Answer): void {
  const context = `${op.operationId}: ${request.summary}\n=> ${answer.statusCode} ${answer.body.slice(0, 500)}`;
  stats.cases++;
  const seen = stats.byOperation.get(op.operationId) ?? new Map<number, number>();
  seen.set(answer.statusCode, (seen.get(answer.statusCode) ?? 0) + 1);
  stats.byOperation.set(op.operationId, seen);

  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    assert.fail(`not JSON: ${context}`);
  }
  const code = (body as { code?: unknown } | null)?.code;
  if (answer.statusCode >= 500) {
    const allowed = answer.statusCode === 503 && typeof code === 'number' && BUSINESS_503.has(code);
    if (!allowed) stats.serverErrors++;
    assert.ok(allowed, `server error: ${context}`);
  }
  assert.ok(
    typeof answer.headers['x-request-id'] === 'string' && answer.headers['x-request-id'] !== '',
    `no X-Request-Id: ${context}`,
  );
  assert.match(String(answer.headers['content-type']), /^application\/json/, context);
  const sentId = request.headers['x-request-id'];
  if (sentId !== undefined && /^[A-Za-z0-9._:-]{1,128}$/.test(sentId)) {
    assert.equal(answer.headers['x-request-id'], sentId, `X-Request-Id not kept: ${context}`);
  }
  if (answer.statusCode >= 400) {
    assert.doesNotMatch(answer.body, INTERNALS, `internals in an error: ${context}`);
  }

  const schemas = responseSchemas.get(op.operationId);
  assert.ok(schemas, op.operationId);
  const status = String(answer.statusCode);
  if (request.pathMangled && answer.statusCode === 404 && code === 4040) {
    assert.ok(routeNotFound(body), `no-route body not in the error shape: ${context}`);
  } else {
    assert.ok(
      schemas.has(status),
      `status ${status} is not documented for the operation: ${context}`,
    );
    const validate = schemas.get(status);
    if (validate !== null && validate !== undefined) {
      assert.ok(
        validate(body),
        `body not in the documented shape (${ajv.errorsText(validate.errors)}): ${context}`,
      );
    }
  }
  if (answer.statusCode === 401) {
    assert.match(String(answer.headers['www-authenticate']), /^Bearer /, context);
  }

  if (request.valid) {
    stats.valid++;
    const ok =
      answer.statusCode === 200 ||
      (typeof code === 'number' &&
        ((answer.statusCode === 404 && BUSINESS_404.has(code)) ||
          (answer.statusCode === 400 && BUSINESS_400.has(code) && !('group' in (body as object))) ||
          (answer.statusCode === 503 && BUSINESS_503.has(code))));
    assert.ok(ok, `a valid request was refused: ${context}`);
    if (answer.statusCode === 200) stats.validSucceeded++;
  }
}

// ---------------------------------------------------------------------------------------------

describe('fuzzing every operation of openapi/eipd.yaml', () => {
  const started = Date.now();
  before(async () => {
    const t = await startTestApp({ backend: 'pglite', catalog: BASIC_CATALOG });
    const ownerOrg = randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const secret = new TextEncoder().encode(TEST_SECRET);
    world = {
      t,
      ownerOrg,
      ownerToken: await t.token(ownerOrg),
      strangerToken: await t.token(),
      operatorToken: await t.operatorToken(),
      expiredToken: await new SignJWT({ orgId: ownerOrg, scope: 'eip:admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuedAt(now - 7200)
        .setExpirationTime(now - 3600)
        .sign(secret),
      unsignedToken: `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({ orgId: ownerOrg, scope: 'eip:admin', exp: now + 3600 }),
      ).toString('base64url')}.`,
      ownerEips: [],
      instances: [],
    };
    const auth = { authorization: `Bearer ${world.ownerToken}` };
    for (const product of ['eip.ipv4.test', 'eip.ipv4.test', 'eip.ipv6.test', 'eip.ipv4.test']) {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/elastic-ips',
        headers: auth,
        payload: { idc: 'test-east1', product, name: 'fuzz-owner', count: 1 },
      });
      assert.equal(res.statusCode, 200, res.body);
      const [created] = res.json() as { id: string }[];
      assert.ok(created);
      world.ownerEips.push(created.id);
    }
    for (const [i, idc] of ['test-east1', 'test-east1', 'test-west1'].entries()) {
      const id = randomUUID();
      const res = await t.app.inject({
        method: 'PUT',
        url: `/v1/admin/instances/${id}`,
        headers: { authorization: `Bearer ${world.operatorToken}` },
        payload: { orgId: ownerOrg, idc, instanceType: i === 1 ? 'container' : 'baremetal' },
      });
      assert.equal(res.statusCode, 200, res.body);
      world.instances.push(id);
    }
  });
  after(async () => {
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    const line = `fuzz: ${stats.cases} cases over ${stats.byOperation.size} operations, ${stats.serverErrors} server errors, ${stats.valid} valid requests (${stats.validSucceeded} answered 200), slowest answer ${Math.round(stats.slowestMs)} ms, seed ${SEED}, ${seconds} s`;
    console.log(line);
    for (const [operationId, statuses] of stats.byOperation) {
      const spread = [...statuses.entries()]
        .sort(([a], [b]) => a - b)
        .map(([s, n]) => `${s}×${n}`)
        .join(' ');
      console.log(`fuzz:   ${operationId}: ${spread}`);
    }
    await world?.t.close();
  });

  for (const op of operations) {
    test(`${op.operationId}: ${RUNS_PER_OPERATION} generated requests, no 5xx, documented answers`, async () => {
      await fc.assert(
        fc.asyncProperty(requestArb(op), async (request) => {
          check(op, request, await send(request));
        }),
        { numRuns: RUNS_PER_OPERATION, seed: SEED, endOnFailure: true },
      );
    });
  }

  test('the runs add up to the budget, over every operation of the document', () => {
    assert.equal(stats.byOperation.size, operations.length);
    assert.ok(stats.cases >= RUNS_PER_OPERATION * operations.length, String(stats.cases));
    assert.ok(stats.validSucceeded > 0);
    if (process.env.EIPD_FUZZ_RUNS === undefined) assert.ok(stats.cases >= 10_000);
  });
});
