import { z } from 'zod';
import { jsonStorageProblem, unstorableText } from './json';

/*
 * What the API's request bodies are checked for beyond their types. The DTOs
 * that validate them check the same, sharing the storable and decimal-place
 * checks; the API's dto-agreement suite holds the two to it.
 */

const PRESENTATION_SEQUENCE = /[^\uFE0F\uFE0E][\uFE0F\uFE0E]/g;
const SURROGATE_PAIR = /[\uD800-\uDBFF][\uDC00-\uDFFF]/g;

/**
 * The length of `text` as the API's DTOs measure it (class-validator's
 * `MinLength`/`MaxLength`): code points, and a variation selector that
 * follows a character is not counted.
 */
export function textLength(text: string): number {
  return text.length - (text.match(PRESENTATION_SEQUENCE)?.length ?? 0) - (text.match(SURROGATE_PAIR)?.length ?? 0);
}

/** Text of `min` to `max` characters as `textLength` counts them. */
export function boundedText({ min = 0, max }: { min?: number; max: number }) {
  return z
    .string()
    .superRefine((value, context) => {
      const length = textLength(value);
      if (length < min) context.addIssue({ code: 'custom', message: `must be at least ${min} characters long` });
      if (length > max) context.addIssue({ code: 'custom', message: `must be at most ${max} characters long` });
    })
    .meta({ ...(min > 0 && { minLength: min }), maxLength: max });
}

/** `boundedText` the API stores, so without what PostgreSQL refuses (`unstorableText`). */
export function storableText(limits: { min?: number; max: number }) {
  return boundedText(limits).superRefine((value, context) => {
    const problem = unstorableText(value);
    if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
  });
}

/** A JSON object the API stores as jsonb (`jsonStorageProblem`). */
export const storableJsonObjectSchema = z.record(z.string(), z.unknown()).superRefine((value, context) => {
  const problem = jsonStorageProblem(value);
  if (problem !== undefined) context.addIssue({ code: 'custom', message: problem });
});

/**
 * Whether `value` has at most 6 decimal places, as a cost column keeps it.
 * Read from the number, not its text: JavaScript writes 1e-7 without a '.'.
 */
export function hasAtMostMicroUnits(value: number): boolean {
  return Number(value.toFixed(6)) === value;
}
