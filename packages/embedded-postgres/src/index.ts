export {
  EmbeddedPostgresError,
  defaultEmbeddedDataDir,
  deleteEmbeddedPostgres,
  startEmbeddedPostgres,
  type EmbeddedPostgres,
  type EmbeddedPostgresOptions,
} from './embedded-postgres';
