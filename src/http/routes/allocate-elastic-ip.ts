import { allocateElasticIps } from '../../elastic-ips/allocate.js';
import type { components } from '../../generated/openapi.js';
import type { OperationHandler } from './handler.js';

type AllocateBody = components['schemas']['elasticIPAllocateReq'];

export const allocateElasticIP: OperationHandler = async (request, _reply, ctx) => {
  const body = request.body as AllocateBody;
  return allocateElasticIps(
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
  );
};
