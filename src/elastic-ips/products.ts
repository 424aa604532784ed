/**
 * listElasticIPProducts: what a tenant can allocate, per IDC. A product is offered in an IDC when
 * one of its pools is there (the same rule allocate applies before it answers 404).
 */
import type { Database } from '../db/database.js';
import { ApiError } from '../errors.js';
import type { components } from '../generated/openapi.js';
import { listProductOfferings } from './repository.js';

export type ElasticIpProduct = components['schemas']['elasticIPProduct'];

export async function listElasticIpProducts(
  db: Database,
  idc: string | undefined,
): Promise<ElasticIpProduct[]> {
  const { idcExists, offerings } = await listProductOfferings(db, idc);
  // An unknown IDC is a mistake to report, not an empty list that looks like "sold out".
  if (!idcExists) throw new ApiError('IDC_NOT_FOUND', `IDC ${idc} was not found`);
  return offerings.map((o) => ({
    name: o.name,
    idc: o.idc,
    internetConnectionType: o.internet_connection_type,
    maxBandwidth: o.max_bandwidth,
    ipVersion: o.family === 6 ? 'IPv6' : 'IPv4',
  }));
}
