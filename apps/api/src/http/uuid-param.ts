import { type PipeTransform, Injectable } from '@nestjs/common';
import { AppError } from '@mosaic/http-kit';
import { isUuid } from '@mosaic/orchestrator-contract';

/**
 * Ids in paths are UUIDs; anything else cannot name a row, so it is a 404
 * (not a 400, and never a database error for a malformed uuid).
 */
@Injectable()
export class UuidParam implements PipeTransform<string, string> {
  constructor(private readonly what: string) {}

  transform(value: string): string {
    if (!isUuid(value)) throw new AppError('not_found', `${this.what} ${value} not found`);
    return value.toLowerCase();
  }
}
