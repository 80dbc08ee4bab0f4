/**
 * Version of this front-end package.
 *
 * Inlined from package.json by the bundler, so it always matches the release
 * (package.json lives outside `rootDir`, hence `require` rather than `import`).
 */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const pkg = require('../../package.json') as { version: string };

export const FRONTEND_VERSION: string = pkg.version;
