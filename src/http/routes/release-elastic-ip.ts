import { releaseElasticIp } from '../../elastic-ips/release.js';
import type { OperationHandler } from './handler.js';

export const releaseElasticIP: OperationHandler = async (request, _reply, ctx) => {
  const { id } = request.params as { id: string };
  return releaseElasticIp(ctx.db, ctx.caller(request), id);
};
