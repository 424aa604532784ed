/**
 * Writes openapi/eipd.yaml as JSON to src/generated/openapi.json, the form eipd reads at start:
 * parsing the YAML took a fifth of a second of every start (most of it in the parser), which a
 * fleet restarting replicas pays each time. Part of `npm run generate`; CI fails when the
 * committed file differs, and a unit test compares the two documents.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parse } from 'yaml';
import { OPENAPI_JSON_PATH, OPENAPI_PATH } from '../src/http/openapi.js';

const document: unknown = parse(readFileSync(OPENAPI_PATH, 'utf8'));
writeFileSync(OPENAPI_JSON_PATH, `${JSON.stringify(document, null, 2)}\n`);
