import { allocateElasticIP } from './allocate-elastic-ip.js';
import { getElasticIP } from './get-elastic-ip.js';
import type { OperationHandler } from './handler.js';
import { listElasticIPProducts } from './list-elastic-ip-products.js';
import { listElasticIPs } from './list-elastic-ips.js';
import { releaseElasticIP } from './release-elastic-ip.js';
import { updateElasticIP } from './update-elastic-ip.js';

/** Every operation in openapi/eipd.yaml, by operationId. app.ts refuses to start on a mismatch. */
export const operationHandlers: Readonly<Record<string, OperationHandler>> = {
  allocateElasticIP,
  getElasticIP,
  listElasticIPs,
  listElasticIPProducts,
  updateElasticIP,
  releaseElasticIP,
};
