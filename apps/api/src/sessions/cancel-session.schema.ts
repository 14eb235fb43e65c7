import { ApiPropertyOptional, ApiSchema } from '@nestjs/swagger';
import { LIMITS, type CancelRequest } from '@mosaic/orchestrator-contract';

/** The OpenAPI schema of a cancel's body; the body itself is validated by the contract's `cancelRequestSchema`. */
@ApiSchema({ name: 'CancelSession', description: 'how long the agent may take to stop' })
export class CancelSessionSchema implements CancelRequest {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 0,
    maximum: LIMITS.cancelGraceMaxMs,
    description: 'milliseconds between SIGTERM and SIGKILL; the orchestrator\'s `CANCEL_GRACE_MS` when absent',
    example: 5000,
  })
  grace_ms?: number;
}
