import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import { printable } from '../text.js';
import { isUuid } from '../uuid.js';
import { type ElasticIpResponse, findElasticIp } from './repository.js';

/**
 * Path ids: uuids in any letter case, answered in lower case. Anything else is "not found", the
 * same answer as an id that does not exist or belongs to another organization, so that tenants
 * learn nothing about ids that are not theirs.
 */
export function parseElasticIpId(raw: string): string {
  if (!isUuid(raw)) throw elasticIpNotFound(raw);
  return raw.toLowerCase();
}

export function elasticIpNotFound(id: string): ApiError {
  return new ApiError('ELASTIC_IP_NOT_FOUND', `elastic IP ${printable(id)} was not found`);
}

export async function getElasticIp(
  db: Database,
  orgId: string,
  rawId: string,
): Promise<ElasticIpResponse> {
  const id = parseElasticIpId(rawId);
  const eip = await findElasticIp(db, orgId, id);
  if (eip === undefined) throw elasticIpNotFound(id);
  return eip;
}
