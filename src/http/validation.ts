/**
 * Request validation from the OpenAPI schemas, and the published `validationDetail` format for
 * what fails.
 *
 * Ajv is configured against its defaults on purpose: no type coercion (`"count": "2"` is an error,
 * not 2), no defaults filled in (the seed's `count: default 1` is documentation: count is
 * required), and every error collected, so that one 400 lists every violation.
 */
import { Ajv, type ErrorObject } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { parseAddress } from '../ipam/address.js';
import { printable } from '../text.js';
import { isStorableDateTime } from '../timestamps.js';
import { isUuid } from '../uuid.js';
import {
  FALLBACK_REASON,
  ORIGINAL_VALUE_MAX,
  originalValueText,
  REASONS,
  type ValidationDetail,
} from '../validation-detail.js';
import type { JsonSchema } from './openapi.js';

// ajv-formats is CommonJS; under NodeNext its default export arrives wrapped.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

export type { ValidationDetail } from '../validation-detail.js';

/**
 * `coerce` is for query strings only, where every value arrives as text and `limit=100` must be
 * read as a number; bodies are never coerced.
 */
export function createAjv(options: { coerce?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    coerceTypes: options.coerce === true,
    useDefaults: false,
    removeAdditional: false,
    strict: true,
    // Checking every schema against the meta-schema cost a tenth of a second of every start; the
    // document is fixed at build time, so a unit test (openapi-document) does that check instead.
    validateSchema: false,
    // OpenAPI 3.0's `nullable` is understood natively by Ajv.
  });
  addFormats(ajv);
  // ajv-formats' uuid also accepts a `urn:uuid:` prefix, which PostgreSQL's uuid type refuses:
  // the same syntax as path ids, everywhere.
  ajv.addFormat('uuid', { type: 'string', validate: isUuid });
  // PostgreSQL stores years 1 to 294276 only; a date-time it cannot hold is a client error.
  ajv.addFormat('date-time', { type: 'string', validate: isStorableDateTime });
  // eipd's own strict address syntax (contract rule 4; field case C6), so that an unparsable
  // address is reported together with every other violation of the same request.
  ajv.addFormat('ip-address', {
    type: 'string',
    validate: (text: string) => {
      try {
        parseAddress(text);
        return true;
      } catch {
        return false;
      }
    },
  });
  // Annotations that OpenAPI documents carry and that do not affect validation.
  ajv.addVocabulary([
    'example',
    'x-go-type-skip-optional-pointer',
    'discriminator',
    'xml',
    'externalDocs',
  ]);
  return ajv;
}

function pointerToSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function valueAt(root: unknown, segments: readonly string[]): unknown {
  let node = root;
  for (const s of segments) {
    // Own fields only: a field named `toString` that was not sent has no value.
    if (typeof node !== 'object' || node === null || !Object.hasOwn(node, s)) return undefined;
    node = (node as Record<string, unknown>)[s];
  }
  return node;
}

function argumentOf(error: ErrorObject): string {
  const p = error.params as Record<string, unknown>;
  switch (error.keyword) {
    case 'pattern':
      return String(p.pattern);
    case 'maxLength':
    case 'minLength':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return String(p.limit);
    case 'type':
      return String(p.type);
    case 'format':
      return String(p.format);
    case 'enum':
      return Array.isArray(p.allowedValues) ? p.allowedValues.map(String).join(',') : '';
    case 'additionalProperties':
      return 'false';
    default:
      return '';
  }
}

/**
 * Turns Ajv's errors into `validationDetail` entries: `field` is the dotted path, `expression` the
 * keyword, `argument` its parameter, `originalValue` the received JSON (empty when missing).
 * Entries follow the schema's property order (then, for one property, its keyword order);
 * unknown fields come last in the order they were sent.
 */
export function toValidationDetails(
  errors: readonly ErrorObject[],
  body: unknown,
  schema: JsonSchema,
): ValidationDetail[] {
  const properties = new Map(
    Object.keys((schema.properties as Record<string, unknown> | undefined) ?? {}).map((k, i) => [
      k,
      i,
    ]),
  );
  const bodyKeys = new Map(
    (typeof body === 'object' && body !== null ? Object.keys(body) : []).map((k, i) => [k, i]),
  );
  const ranked = errors.map((error) => {
    const segments = pointerToSegments(error.instancePath);
    const p = error.params as Record<string, unknown>;
    let value: unknown;
    if (error.keyword === 'required') {
      segments.push(String(p.missingProperty));
      value = undefined;
    } else if (error.keyword === 'additionalProperties') {
      segments.push(String(p.additionalProperty));
      value = valueAt(body, segments);
    } else {
      value = valueAt(body, segments);
    }
    const top = segments[0] ?? '';
    const rank = properties.get(top) ?? properties.size + (bodyKeys.get(top) ?? 0);
    const propertySchema = (schema.properties as Record<string, JsonSchema> | undefined)?.[top];
    const keywordRank =
      propertySchema === undefined ? 0 : Object.keys(propertySchema).indexOf(error.keyword);
    const detail: ValidationDetail = {
      // An unknown key can be as long as the body: cut it like the value.
      field: printable(segments.join('.'), ORIGINAL_VALUE_MAX),
      expression: error.keyword,
      argument: argumentOf(error),
      originalValue: error.keyword === 'required' ? '' : originalValueText(value),
      reason: REASONS[error.keyword] ?? FALLBACK_REASON,
    };
    return { rank, keywordRank, detail };
  });
  ranked.sort((a, b) => a.rank - b.rank || a.keywordRank - b.keywordRank);
  return ranked.map((r) => r.detail);
}

/** Plain decimal digits: what an integer query parameter may look like before it is coerced. */
const DECIMAL_INTEGER = /^-?(0|[1-9][0-9]{0,15})$/;

/**
 * A query-string validator. Ajv's coercion reads `1e2`, `0x10`, `+5` or ` 01` as numbers, which
 * is not what a client who typed them meant; integer parameters must be plain decimal text, so
 * that is checked on the raw text first and reported like any other type violation.
 */
export function compileQueryValidator(ajv: Ajv, schema: JsonSchema) {
  const validate = ajv.compile(schema);
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const integers = Object.keys(properties).filter((name) => properties[name]?.type === 'integer');
  const check = (data: unknown): boolean => {
    const raw = (typeof data === 'object' && data !== null ? data : {}) as Record<string, unknown>;
    const wrong: ErrorObject[] = integers
      .filter((name) => typeof raw[name] === 'string' && !DECIMAL_INTEGER.test(raw[name] as string))
      .map((name) => ({
        keyword: 'type',
        instancePath: `/${name}`,
        schemaPath: `#/properties/${name}/type`,
        params: { type: 'integer' },
        message: 'must be integer',
      }));
    const valid = validate(data);
    // Text Ajv could not coerce either is already reported above, once.
    const flagged = new Set(wrong.map((e) => e.instancePath));
    const rest = (validate.errors ?? []).filter(
      (e) => !(e.keyword === 'type' && flagged.has(e.instancePath)),
    );
    const errors = [...wrong, ...rest];
    check.errors = errors.length === 0 ? null : errors;
    return valid && wrong.length === 0;
  };
  check.errors = null as ErrorObject[] | null;
  return check;
}
