/** The Node.js lines the project runs on: the maintained LTS lines (Node 20 reached its end of life on 2026-04-30). */
export const SUPPORTED_NODE_RANGE = '^22.12.0 || >=24.0.0';

/** One line saying that `version` (as `process.version` gives it) cannot run the project, or undefined when it can. */
export function unsupportedNodeMessage(version: string): string | undefined {
  const [major, minor] = version.replace(/^v/, '').split('.').map(Number);
  const supported = (major === 22 && minor >= 12) || major >= 24;
  return supported ? undefined : `Node.js ${version} is not supported: run on Node.js ${SUPPORTED_NODE_RANGE} (the 22 or 24 LTS line).`;
}
