import { defineConfig } from 'prisma/config';

// Only the Prisma CLI reads this file; the services get their URL from their own
// validated configuration. `generate` needs no database, so an unset URL is fine.
export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
  datasource: { url: process.env.DATABASE_URL ?? 'postgresql://localhost:5432/unset' },
});
