/**
 * The published document and its interactive page, all anonymous:
 * GET /openapi.json and /openapi.yaml serve the document eipd validates with (openapi/eipd.yaml
 * as loaded, with this server's configured limits), and /docs is Swagger UI on that document.
 *
 * The page works on a machine without network access: every asset is bundled in
 * @fastify/swagger-ui and served from here, the online validator badge is off, and the
 * Content-Security-Policy lets the page talk to this origin only.
 */
import fastifySwagger, { type StaticDocumentSpec } from '@fastify/swagger';
import fastifySwaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { stringify as toYaml } from 'yaml';
import type { OpenApiDocument } from './openapi.js';

export const DOCS_CSP = [
  "default-src 'self'",
  "base-uri 'self'",
  "connect-src 'self'",
  "font-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'self'",
  "img-src 'self' data:",
  "object-src 'none'",
  "script-src 'self'",
  "script-src-attr 'none'",
  // Swagger UI sets style attributes from its scripts.
  "style-src 'self' 'unsafe-inline'",
].join('; ');

export function registerApiDocs(app: FastifyInstance, document: OpenApiDocument): void {
  // Serialized once, from what was loaded at start-up, so the served text cannot drift from it;
  // the YAML on first request only (it costs a start-up, and every restart, some 50 ms).
  const json = JSON.stringify(document);
  let yaml: string | undefined;
  app.get('/openapi.json', { config: { operationId: 'openapiJson' } }, (_request, reply) =>
    reply.type('application/json; charset=utf-8').send(json),
  );
  app.get('/openapi.yaml', { config: { operationId: 'openapiYaml' } }, (_request, reply) => {
    yaml ??= toYaml(document);
    return reply.type('application/yaml; charset=utf-8').send(yaml);
  });
  // Encapsulated: the swagger decorators and the page's CSP header stay on /docs.
  app.register(async (docs) => {
    await docs.register(fastifySwagger, {
      mode: 'static',
      // Our document is an OpenAPI 3.0 document read from YAML; the plugin only serves it.
      specification: {
        document: structuredClone(document) as unknown as StaticDocumentSpec['document'],
      },
    });
    await docs.register(fastifySwaggerUi, {
      routePrefix: '/docs',
      staticCSP: DOCS_CSP,
      // No badge fetched from validator.swagger.io: the page talks to this origin only.
      validatorUrl: false,
      theme: { title: 'eipd API docs' },
      // BaseLayout: no top bar (a third-party logo and a box to load any other document).
      uiConfig: {
        layout: 'BaseLayout',
        deepLinking: true,
        docExpansion: 'list',
        tagsSorter: 'alpha',
      },
    });
  });
}
