import { z } from 'zod';

/** The form of a UUID (any version, either case): the form of every id the API gives its rows. */
export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: string): boolean {
  return UUID_PATTERN.test(value);
}

/** A UUID on the wire, documented by its format. */
export const uuidSchema = z.string().refine(isUuid, 'must be a UUID').meta({ format: 'uuid' });
