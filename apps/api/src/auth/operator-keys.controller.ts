import { Body, Controller, Delete, Get, HttpCode, Param, Post } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import type { OperatorKeyList } from '@mosaic/orchestrator-contract';
import { UuidParam } from '../http/uuid-param';
import { ApiErrorResponses } from '../openapi/error-responses';
import { ApiWireBody, ApiWireResponse } from '../openapi/wire-decorators';
import { CreateOperatorKeyDto } from './create-operator-key.dto';
import { OperatorAuth } from './operator-auth.guard';
import { presentCreatedOperatorKey, presentOperatorKey } from './operator-key.presenter';
import { OperatorKeysService } from './operator-keys.service';

/** Operator keys (docs/contract.md §4): the administrator's alone. */
@ApiTags('operator keys')
@Controller('operator-keys')
export class OperatorKeysController {
  constructor(private readonly keys: OperatorKeysService) {}

  @Post()
  @OperatorAuth('admin')
  @ApiOperation({ summary: 'Create an operator key', description: 'The answer carries the key; it is never shown again.' })
  @ApiWireBody('CreateOperatorKey', { required: true })
  @ApiWireResponse(201, 'CreatedOperatorKey')
  @ApiErrorResponses({
    400: { when: 'invalid body; the message names each offending field', code: 'bad_request' },
    409: { when: 'a key (revoked ones included) has this name already', code: 'conflict' },
  })
  async create(@Body() body: CreateOperatorKeyDto) {
    return presentCreatedOperatorKey(await this.keys.create(body.name, body.scopes));
  }

  @Get()
  @OperatorAuth('admin')
  @ApiOperation({ summary: 'Every operator key, without its secret' })
  @ApiWireResponse(200, 'OperatorKeyList')
  async list(): Promise<OperatorKeyList> {
    return { keys: (await this.keys.list()).map(presentOperatorKey) };
  }

  @Delete(':id')
  @HttpCode(200)
  @OperatorAuth('admin')
  @ApiOperation({ summary: 'Revoke an operator key at once', description: 'Idempotent; the key is refused from its next request on.' })
  @ApiWireResponse(200, 'OperatorKey', 'the key, with `revoked_at`')
  @ApiErrorResponses({ 404: { when: 'no key with this id', code: 'not_found' } })
  async revoke(@Param('id', new UuidParam('operator key')) id: string) {
    return presentOperatorKey(await this.keys.revoke(id));
  }
}
