import { allocateElasticIP } from './allocate-elastic-ip.js';
import { associateElasticIP } from './associate-elastic-ip.js';
import { disassociateElasticIP } from './disassociate-elastic-ip.js';
import { getAddressHistory } from './get-address-history.js';
import { getElasticIP } from './get-elastic-ip.js';
import type { OperationHandler } from './handler.js';
import { getHealth, getReadiness } from './health.js';
import { listAssociations } from './list-associations.js';
import { listElasticIPProducts } from './list-elastic-ip-products.js';
import { listElasticIPs } from './list-elastic-ips.js';
import { listEvents } from './list-events.js';
import { listOperatorActions } from './list-operator-actions.js';
import { listPools } from './list-pools.js';
import { listQuotas, removeQuotaOverride, setQuota } from './quotas.js';
import { registerInstance } from './register-instance.js';
import { releaseElasticIP } from './release-elastic-ip.js';
import { removeInstance } from './remove-instance.js';
import { updateElasticIP } from './update-elastic-ip.js';
import { updatePool } from './update-pool.js';

/** Every operation in openapi/eipd.yaml, by operationId. app.ts refuses to start on a mismatch. */
export const operationHandlers: Readonly<Record<string, OperationHandler>> = {
  allocateElasticIP,
  getElasticIP,
  listElasticIPs,
  listElasticIPProducts,
  updateElasticIP,
  releaseElasticIP,
  associateElasticIP,
  disassociateElasticIP,
  registerInstance,
  removeInstance,
  listEvents,
  listOperatorActions,
  listAssociations,
  getAddressHistory,
  listPools,
  updatePool,
  listQuotas,
  setQuota,
  removeQuotaOverride,
  getHealth,
  getReadiness,
};
