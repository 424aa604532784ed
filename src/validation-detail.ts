/**
 * The published `validationDetail` entry, shared by schema validation (http/validation.ts) and by
 * use cases that find a violation the schema cannot express (an address that does not parse), so
 * that both read the same.
 */

export interface ValidationDetail {
  field: string;
  expression: string;
  argument: string;
  originalValue: string;
  reason: string;
}

/** One fixed sentence per keyword (listed in the README); the specifics go in `argument`. */
export const REASONS: Readonly<Record<string, string>> = {
  required: 'This field is required.',
  type: 'This field has the wrong type.',
  pattern: 'This field does not match the required pattern.',
  maxLength: 'This field is too long.',
  minLength: 'This field is too short.',
  minimum: 'This field is below the minimum.',
  maximum: 'This field is above the maximum.',
  additionalProperties: 'This field is not allowed.',
  format: 'This field is not in the required format.',
  enum: 'This field is not one of the allowed values.',
};
export const FALLBACK_REASON = 'This field is invalid.';

export const ORIGINAL_VALUE_MAX = 256;

/**
 * At most this many entries in one answer, as many as the fields a body may have (MAX_BODY_FIELDS):
 * a query string has no such limit, and 16 KiB of it holds over a thousand unknown parameters,
 * which at one entry each made a 190 KB answer.
 */
export const MAX_VALIDATION_DETAILS = 64;

/** JSON text of a received value, cut at 256 characters without splitting a surrogate pair. */
export function originalValueText(value: unknown): string {
  const text = value === undefined ? '' : (JSON.stringify(value) ?? '');
  const chars = Array.from(text);
  return chars.length <= ORIGINAL_VALUE_MAX ? text : chars.slice(0, ORIGINAL_VALUE_MAX).join('');
}

/** One entry, as schema validation would have written it. */
export function violation(
  field: string,
  expression: string,
  argument: string,
  value: unknown,
): ValidationDetail {
  return {
    field,
    expression,
    argument,
    originalValue: expression === 'required' ? '' : originalValueText(value),
    reason: REASONS[expression] ?? FALLBACK_REASON,
  };
}
