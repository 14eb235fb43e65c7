import { createTaskSchema } from '@mosaic/orchestrator-contract';
import { itAgreesWithItsSchema } from '../http/dto-agreement.behaviour';
import { createValidationPipe } from '../http/validation';
import { CreateTaskDto } from './create-task.dto';

describe("CreateTaskDto and the contract's createTaskSchema", () => {
  itAgreesWithItsSchema({ dto: CreateTaskDto, schema: createTaskSchema, in: 'body' });
});

/** The budget of POST /tasks as the API's validation pipe takes it. */
describe('CreateTaskDto budget', () => {
  const pipe = createValidationPipe();
  const validated = (budget: unknown) => pipe.transform({ title: 'task', budget }, { type: 'body', metatype: CreateTaskDto });

  it('takes a cost of up to 6 decimal places', async () => {
    for (const cost of [0.000001, 0.5, 1.123456, 5, 1e9]) {
      await expect(validated({ max_cost_usd: cost })).resolves.toMatchObject({ budget: { max_cost_usd: cost } });
    }
  });

  // 1e-7 is written without a '.', which made class-validator's maxDecimalPlaces throw (a 500), and 1.5e-7 with a
  // short one, which passed it and stored the "positive" limit as 0.
  it('refuses a cost of more decimal places, in exponent notation too, naming the field', async () => {
    for (const cost of [1e-7, 5e-8, 1.5e-7, 1e-300, 0.1234567, 1.00000001]) {
      await expect(validated({ max_cost_usd: cost })).rejects.toMatchObject({
        code: 'bad_request',
        message: 'budget.max_cost_usd: max_cost_usd must have at most 6 decimal places',
      });
    }
  });
});
