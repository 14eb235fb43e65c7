import { type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { AuthModule } from '../auth/auth.module';
import { OperatorAuthentication } from '../auth/operator-authentication.middleware';
import { ArtifactRepository } from './artifact.repository';
import { ArtifactsController } from './artifacts.controller';
import { ArtifactsService } from './artifacts.service';

/** (v3) Sessions' artifacts (contract 7.2): the operator endpoints that read them. The callback batch stores them. */
@Module({
  imports: [AuthModule],
  controllers: [ArtifactsController],
  providers: [ArtifactRepository, ArtifactsService],
})
export class ArtifactsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(OperatorAuthentication).forRoutes(ArtifactsController);
  }
}
