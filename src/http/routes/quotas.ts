import {
  listQuotas as list,
  removeQuotaOverride as remove,
  setQuota as set,
} from '../../quotas/quotas.js';
import type { OperationHandler } from './handler.js';

type QuotaPath = { orgId: string; idc: string };

export const listQuotas: OperationHandler = async (request, _reply, ctx) => {
  ctx.operator(request);
  const { orgId } = request.params as { orgId: string };
  return list(ctx.db, orgId);
};

export const setQuota: OperationHandler = async (request, _reply, ctx) => {
  const operator = ctx.operator(request);
  const { orgId, idc } = request.params as QuotaPath;
  const { limit } = request.body as { limit: number };
  return set(ctx.db, orgId, idc, limit, operator.subject);
};

export const removeQuotaOverride: OperationHandler = async (request, _reply, ctx) => {
  const operator = ctx.operator(request);
  const { orgId, idc } = request.params as QuotaPath;
  return remove(ctx.db, orgId, idc, operator.subject);
};
