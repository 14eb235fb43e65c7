import { Transform } from 'class-transformer';
import { queryInteger } from '@mosaic/orchestrator-contract';

/**
 * An integer query parameter, read as both services read one (`queryInteger`:
 * decimal digits, not whatever JavaScript's `Number` takes, such as `0x10` or
 * `1e2`). Anything else stays the string it was, for `@IsInt` to refuse by name.
 */
export const QueryInteger = () =>
  Transform(({ value }: { value: unknown }) => {
    const parsed = queryInteger.safeParse(value);
    return parsed.success ? parsed.data : value;
  });
