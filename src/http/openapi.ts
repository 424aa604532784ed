/**
 * The OpenAPI document (openapi/eipd.yaml) is the single source of the API's shape: routes,
 * request validation and response serialization are all derived from it here, and the TypeScript
 * types in src/generated/ are generated from the same file.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const OPENAPI_PATH = fileURLToPath(new URL('../../openapi/eipd.yaml', import.meta.url));
/**
 * The same document as JSON, generated from OPENAPI_PATH by `npm run generate`: what eipd reads at
 * start, since JSON.parse takes a millisecond where the YAML parser took 150 to 200. Resolved from
 * the package root so that src/ (tsx) and dist/ (built) read the one file.
 */
export const OPENAPI_JSON_PATH = fileURLToPath(
  new URL('../../src/generated/openapi.json', import.meta.url),
);

export type JsonSchema = { [key: string]: unknown };

export interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, OperationObject>>;
  components: { schemas: Record<string, JsonSchema>; [key: string]: unknown };
  [key: string]: unknown;
}

interface ParameterObject {
  name: string;
  in: string;
  required?: boolean;
  schema?: JsonSchema;
  /**
   * A path parameter whose invalid values are answered like unknown ones (404), not validated
   * (400): elastic IP ids, so that anyone probing learns nothing from the difference.
   */
  'x-eipd-invalid-is-not-found'?: boolean;
}

interface OperationObject {
  operationId: string;
  parameters?: unknown[];
  security?: unknown[];
  requestBody?: { content?: Record<string, { schema?: JsonSchema }> };
  responses: Record<string, JsonSchema>;
  [key: string]: unknown;
}

export interface Operation {
  operationId: string;
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** The OpenAPI path (`/v1/elastic-ips/{id}`). */
  path: string;
  /** The same path in Fastify's syntax (`/v1/elastic-ips/:id`). */
  routePath: string;
  /** The JSON request body schema with every $ref resolved, if the operation takes a body. */
  bodySchema: JsonSchema | undefined;
  /**
   * The query parameters as one object schema; unknown parameters are refused, so that a misspelt
   * filter is not silently ignored (an operation without any refuses every one).
   */
  querySchema: JsonSchema;
  /** The validated path parameters as one object schema, if the operation has any. */
  paramsSchema: JsonSchema | undefined;
  /**
   * The documented request headers as one object schema (property names in lower case, as Node
   * delivers them; every other header allowed), if the operation declares any.
   */
  headerSchema: JsonSchema | undefined;
  /** The 200 response schema with every $ref resolved, used to serialize successes. */
  successSchema: JsonSchema | undefined;
  /** `security: []`: answered without a token (health checks). */
  anonymous: boolean;
}

const METHODS = new Set(['get', 'post', 'put', 'patch', 'delete']);

export interface RuntimeOptions {
  /** The configured upper bound on allocate's `count` (EIPD_MAX_ALLOCATE_COUNT). */
  maxAllocateCount: number;
}

/** Reads the document and applies the server's configuration to it (what /openapi.json shows). */
export function loadOpenApi(options: RuntimeOptions): OpenApiDocument {
  const doc = JSON.parse(readFileSync(OPENAPI_JSON_PATH, 'utf8')) as OpenApiDocument;
  const count = (
    doc.components.schemas.elasticIPAllocateReq?.properties as Record<string, JsonSchema>
  )?.count;
  if (count === undefined) throw new Error('openapi: elasticIPAllocateReq.count is missing');
  count.maximum = options.maxAllocateCount;
  return doc;
}

export function listOperations(doc: OpenApiDocument): Operation[] {
  const operations: Operation[] = [];
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      if (!METHODS.has(method)) continue;
      const body = op.requestBody?.content?.['application/json']?.schema;
      const success = resolve(doc, op.responses['200']) as JsonSchema | undefined;
      const successBody = (
        success?.content as Record<string, { schema?: JsonSchema }> | undefined
      )?.['application/json']?.schema;
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase() as Operation['method'],
        path,
        routePath: path.replace(/\{([^}]+)\}/g, ':$1'),
        bodySchema: body === undefined ? undefined : (deref(doc, body) as JsonSchema),
        querySchema: queryObjectSchema(doc, op.parameters ?? [], '400' in op.responses),
        headerSchema: headerObjectSchema(doc, op.parameters ?? []),
        paramsSchema: pathObjectSchema(doc, op.parameters ?? []),
        successSchema:
          successBody === undefined ? undefined : (deref(doc, successBody) as JsonSchema),
        anonymous: Array.isArray(op.security) && op.security.length === 0,
      });
    }
  }
  return operations;
}

function queryObjectSchema(
  doc: OpenApiDocument,
  parameters: unknown[],
  declares400: boolean,
): JsonSchema {
  // Every operation that can answer 400 refuses undocumented query parameters, also those without
  // any: `POST /v1/elastic-ips?dryRun=1` must not allocate as if the parameter meant something.
  // The few that declare no 400 (getElasticIP as published, the health checks) ignore them: an
  // answer the document does not declare would break clients generated from it, and they change
  // nothing.
  const query = parameters
    .map((p) => resolve(doc, p) as ParameterObject)
    .filter((p) => p.in === 'query');
  const properties: Record<string, unknown> = {};
  for (const p of query) {
    // `default` documents what the server assumes; it is not filled into the request.
    const { default: _assumed, ...schema } = (deref(doc, p.schema ?? {}) as JsonSchema) ?? {};
    properties[p.name] = schema;
  }
  return {
    type: 'object',
    properties,
    required: query.filter((p) => p.required === true).map((p) => p.name),
    additionalProperties: !declares400,
  };
}

function pathObjectSchema(doc: OpenApiDocument, parameters: unknown[]): JsonSchema | undefined {
  const path = parameters
    .map((p) => resolve(doc, p) as ParameterObject)
    .filter((p) => p.in === 'path' && p['x-eipd-invalid-is-not-found'] !== true);
  if (path.length === 0) return undefined;
  return {
    type: 'object',
    properties: Object.fromEntries(path.map((p) => [p.name, deref(doc, p.schema ?? {})])),
    required: path.map((p) => p.name),
  };
}

function headerObjectSchema(doc: OpenApiDocument, parameters: unknown[]): JsonSchema | undefined {
  const headers = parameters
    .map((p) => resolve(doc, p) as ParameterObject)
    .filter((p) => p.in === 'header');
  if (headers.length === 0) return undefined;
  return {
    type: 'object',
    properties: Object.fromEntries(
      headers.map((p) => [p.name.toLowerCase(), deref(doc, p.schema ?? {})]),
    ),
    required: headers.filter((p) => p.required === true).map((p) => p.name.toLowerCase()),
  };
}

function resolve(doc: OpenApiDocument, node: unknown): unknown {
  if (typeof node === 'object' && node !== null && '$ref' in node) {
    const ref = (node as { $ref: unknown }).$ref;
    if (typeof ref !== 'string' || !ref.startsWith('#/'))
      throw new Error(`openapi: unsupported $ref ${String(ref)}`);
    let target: unknown = doc;
    for (const part of ref.slice(2).split('/')) {
      target = (target as Record<string, unknown> | undefined)?.[
        part.replace(/~1/g, '/').replace(/~0/g, '~')
      ];
    }
    if (target === undefined) throw new Error(`openapi: dangling $ref ${ref}`);
    return resolve(doc, target);
  }
  return node;
}

/**
 * Inlines every local $ref. In OpenAPI 3.0 the siblings of a $ref are ignored (the seed puts a
 * `description` next to one), so the referenced schema replaces the whole node. The documents
 * here have no recursive schemas; a cycle would be a bug in the document and throws.
 */
export function deref(doc: OpenApiDocument, node: unknown, seen: string[] = []): unknown {
  if (Array.isArray(node)) return node.map((n) => deref(doc, n, seen));
  if (typeof node !== 'object' || node === null) return node;
  if ('$ref' in node) {
    const ref = String((node as { $ref: unknown }).$ref);
    if (seen.includes(ref)) throw new Error(`openapi: recursive $ref ${ref}`);
    return deref(doc, resolve(doc, node), [...seen, ref]);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) out[k] = deref(doc, v, seen);
  return out;
}
