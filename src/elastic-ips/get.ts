import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import { type ElasticIpResponse, findElasticIp } from './repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Path ids: uuids in any letter case, answered in lower case. Anything else is "not found", the
 * same answer as an id that does not exist or belongs to another organization, so that tenants
 * learn nothing about ids that are not theirs.
 */
export function parseElasticIpId(raw: string): string {
  if (!UUID.test(raw)) throw notFound(raw);
  return raw.toLowerCase();
}

function notFound(id: string): ApiError {
  // Echo at most a uuid's worth of the id: the reason names it without reflecting arbitrary input.
  return new ApiError('ELASTIC_IP_NOT_FOUND', `elastic IP ${id.slice(0, 36)} was not found`);
}

export async function getElasticIp(
  db: Database,
  orgId: string,
  rawId: string,
): Promise<ElasticIpResponse> {
  const id = parseElasticIpId(rawId);
  const eip = await findElasticIp(db, orgId, id);
  if (eip === undefined) throw notFound(id);
  return eip;
}
