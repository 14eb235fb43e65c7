import { dispatchTaskSchema } from '@mosaic/orchestrator-contract';
import { itAgreesWithItsSchema } from '../http/dto-agreement.behaviour';
import { DispatchTaskDto } from './dispatch-task.dto';

describe("DispatchTaskDto and the contract's dispatchTaskSchema", () => {
  itAgreesWithItsSchema({ dto: DispatchTaskDto, schema: dispatchTaskSchema, in: 'body' });
});
