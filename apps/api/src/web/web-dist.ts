import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Where the operators' page was built: `@mosaic/web`'s dist/, found by module
 * resolution, so that the compiled API (apps/api/dist) and its sources under
 * ts-jest find the same directory. Undefined when it was not built.
 */
export function webDistDirectory(): string | undefined {
  let manifest: string;
  try {
    manifest = require.resolve('@mosaic/web/package.json');
  } catch {
    return undefined;
  }
  const dist = join(dirname(manifest), 'dist');
  return existsSync(join(dist, 'index.html')) ? dist : undefined;
}
