import { eventPageQuerySchema, getSessionQuerySchema, listSessionsQuerySchema } from '@mosaic/orchestrator-contract';
import { itAgreesWithItsSchema } from '../http/dto-agreement.behaviour';
import { EventPageDto, GetSessionDto, ListSessionsDto } from './list-sessions.dto';

describe("ListSessionsDto and the contract's listSessionsQuerySchema", () => {
  itAgreesWithItsSchema({ dto: ListSessionsDto, schema: listSessionsQuerySchema, in: 'query' });
});

describe("GetSessionDto and the contract's getSessionQuerySchema", () => {
  itAgreesWithItsSchema({ dto: GetSessionDto, schema: getSessionQuerySchema, in: 'query' });
});

describe("EventPageDto and the contract's eventPageQuerySchema", () => {
  itAgreesWithItsSchema({ dto: EventPageDto, schema: eventPageQuerySchema, in: 'query' });
});
