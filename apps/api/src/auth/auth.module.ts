import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { OperatorAuthentication } from './operator-authentication.middleware';
import { OperatorKeyRepository } from './operator-key.repository';
import { OperatorKeysController } from './operator-keys.controller';
import { OperatorKeysService } from './operator-keys.service';

/**
 * Who operators are: the administrator's token and operator keys, and the
 * endpoints that manage the keys. A feature module with operator endpoints
 * imports it and applies OperatorAuthentication to its controllers.
 */
@Module({
  controllers: [OperatorKeysController],
  providers: [OperatorKeyRepository, OperatorKeysService, OperatorAuthentication],
  exports: [OperatorKeyRepository, OperatorAuthentication],
})
export class AuthModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(OperatorKeysController);
  }
}
