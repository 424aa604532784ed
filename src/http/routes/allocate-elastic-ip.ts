import { allocateElasticIps } from '../../elastic-ips/allocate.js';
import { idempotencyKey } from '../../elastic-ips/idempotency.js';
import type { components } from '../../generated/openapi.js';
import type { OperationHandler } from './handler.js';

type AllocateBody = components['schemas']['elasticIPAllocateReq'];

export const allocateElasticIP: OperationHandler = async (request, reply, ctx) => {
  const body = request.body as AllocateBody;
  // The header's syntax was checked against the document's schema before this runs.
  const key = request.headers['idempotency-key'];
  const outcome = await allocateElasticIps(
    ctx.db,
    ctx.caller(request),
    {
      idc: body.idc,
      product: body.product,
      name: body.name,
      count: body.count,
      ipAddress: body.ipAddress,
    },
    { quarantineSeconds: ctx.quarantineSeconds },
    typeof key === 'string' ? idempotencyKey(key, body) : undefined,
  );
  if (outcome.replayed) reply.header('Idempotent-Replayed', 'true');
  return outcome.ids;
};
