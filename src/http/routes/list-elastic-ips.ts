import { type ListQuery, listElasticIps } from '../../elastic-ips/list.js';
import type { OperationHandler } from './handler.js';

export const listElasticIPs: OperationHandler = async (request, reply, ctx) => {
  const page = await listElasticIps(ctx.db, ctx.caller(request).orgId, request.query as ListQuery);
  // Relative (contract: lists), so that it holds whatever host name the caller used.
  if (page.nextQuery !== undefined)
    reply.header('Link', `</v1/elastic-ips?${page.nextQuery}>; rel="next"`);
  return page.items;
};
