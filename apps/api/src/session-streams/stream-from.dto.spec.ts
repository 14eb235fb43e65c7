import { streamFromQuerySchema } from '@mosaic/orchestrator-contract';
import { itAgreesWithItsSchema } from '../http/dto-agreement.behaviour';
import { StreamFromDto } from './stream-from.dto';

describe("StreamFromDto and the contract's streamFromQuerySchema", () => {
  itAgreesWithItsSchema({ dto: StreamFromDto, schema: streamFromQuerySchema, in: 'query' });
});
