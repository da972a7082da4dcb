// Where the bundled default policy is. This module stays directly under src/ on
// purpose: the URL is relative to the module that holds it, and both builds put
// this code one level below the package root (dist/default-policy.js from tsc;
// dist/index.js or a dist/chunk-*.js from `npm run bundle`), next to policy/.
export const DEFAULT_POLICY_PATH = new URL('../policy/default.yaml', import.meta.url);
