import { type ArtifactData, artifactNameSchema } from '@mosaic/orchestrator-contract';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';

/** The most files under `out/` sent as artifacts: each is a callback, and an agent could write thousands. */
export const MAX_OUT_ARTIFACTS = 100;

const MEDIA_TYPES: Readonly<Record<string, string>> = {
  '.md': 'text/markdown',
  '.txt': 'text/plain',
  '.json': 'application/json',
  '.html': 'text/html',
  '.csv': 'text/csv',
  '.patch': 'text/x-diff',
  '.diff': 'text/x-diff',
  '.png': 'image/png',
};

export function mediaTypeOf(name: string): string {
  return MEDIA_TYPES[extname(name).toLowerCase()] ?? 'application/octet-stream';
}

/** An artifact of `content`, the first bytes of one `size` long: cut at `maxBytes`, and then marked `truncated`. */
export function artifactOf(name: string, mediaType: string, content: Buffer, size: number, maxBytes: number): ArtifactData {
  const sent = content.subarray(0, maxBytes);
  return {
    name,
    media_type: mediaType,
    size,
    sha256: createHash('sha256').update(sent).digest('hex'),
    content_base64: sent.toString('base64'),
    ...(size > sent.length ? { truncated: true } : {}),
  };
}

export interface OutArtifacts {
  readonly artifacts: ArtifactData[];
  /** What was left out, and why: names an artifact may not have, files past MAX_OUT_ARTIFACTS. */
  readonly skipped: string[];
}

/**
 * Every regular file under `out` (the directory `out/` of a workspace without a repository), by name order, as
 * `out/<relative path>`. Symlinks are neither followed nor sent, nor anything else that is not a regular file.
 */
export async function outArtifacts(out: string, maxBytes: number): Promise<OutArtifacts> {
  const result: OutArtifacts = { artifacts: [], skipped: [] };
  // No out/, or a symlink or file in its place: nothing to send.
  const stats = await lstat(out).catch(() => undefined);
  if (stats?.isDirectory()) await walk(out, 'out', result, maxBytes);
  return result;
}

/** Returns false once the cap is reached, which stops the walk. */
async function walk(directory: string, name: string, result: OutArtifacts, maxBytes: number): Promise<boolean> {
  const entries = await readdir(directory, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(directory, entry.name);
    const entryName = `${name}/${entry.name}`;
    if (entry.isDirectory()) {
      if (!(await walk(path, entryName, result, maxBytes))) return false;
      continue;
    }
    if (!entry.isFile()) continue;
    if (result.artifacts.length === MAX_OUT_ARTIFACTS) {
      result.skipped.push(`${entryName} and any further files: more than ${MAX_OUT_ARTIFACTS} files under out/`);
      return false;
    }
    if (!artifactNameSchema.safeParse(entryName).success) {
      result.skipped.push(`${entryName}: not a valid artifact name (path segments of letters, digits and . _ -)`);
      continue;
    }
    const artifact = await readArtifact(path, entryName, maxBytes);
    if (artifact !== undefined) result.artifacts.push(artifact);
  }
  return true;
}

/**
 * Opened without following a symlink and without blocking (a FIFO put there since the listing would wait forever);
 * anything but a regular file is then left out.
 */
async function readArtifact(path: string, name: string, maxBytes: number): Promise<ArtifactData | undefined> {
  const file = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined);
  if (file === undefined) return undefined;
  try {
    const stats = await file.stat();
    if (!stats.isFile()) return undefined;
    const content = Buffer.alloc(Math.min(stats.size, maxBytes));
    const { bytesRead } = await file.read(content, 0, content.length, 0);
    return artifactOf(name, mediaTypeOf(name), content.subarray(0, bytesRead), stats.size, maxBytes);
  } finally {
    await file.close();
  }
}
