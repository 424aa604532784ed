import { ApiError } from '../errors.js';
import { printable } from '../text.js';
import { isUuid } from '../uuid.js';

/** Path ids as for EIPs: any letter case, answered in lower case; a non-uuid is "not found". */
export function parseInstanceId(raw: string): string {
  if (!isUuid(raw)) throw instanceNotFound(raw);
  return raw.toLowerCase();
}

export function instanceNotFound(id: string): ApiError {
  return new ApiError('INSTANCE_NOT_FOUND', `instance ${printable(id)} was not found`);
}
