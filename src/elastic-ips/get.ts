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
  if (!UUID.test(raw)) throw elasticIpNotFound(raw);
  return raw.toLowerCase();
}

/** Longer ids are cut (and marked so), so that the reason never reflects arbitrary input. */
const ECHOED_ID_CHARS = 64;

export function elasticIpNotFound(id: string): ApiError {
  const shown = id.length > ECHOED_ID_CHARS ? `${id.slice(0, ECHOED_ID_CHARS)}…` : id;
  return new ApiError('ELASTIC_IP_NOT_FOUND', `elastic IP ${shown} was not found`);
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
