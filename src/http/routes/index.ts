import { allocateElasticIP } from './allocate-elastic-ip.js';
import { getElasticIP } from './get-elastic-ip.js';
import type { OperationHandler } from './handler.js';

/** Every operation in openapi/eipd.yaml, by operationId. app.ts refuses to start on a mismatch. */
export const operationHandlers: Readonly<Record<string, OperationHandler>> = {
  allocateElasticIP,
  getElasticIP,
};
