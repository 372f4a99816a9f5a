/**
 * Every error code tsgi raises, with what it means. docs/errors.md explains each one, and
 * test/config/errors-registry.test.ts fails when a `TSGI_ERR_*` code appears in src/ without an
 * entry here, or an entry here has no section in docs/errors.md.
 *
 * To add a code: append an entry (keep groups together), then document it in docs/errors.md.
 */
export interface ErrorCodeInfo {
  code: `TSGI_ERR_${string}`;
  /** One line: what went wrong. */
  meaning: string;
}

export const ERROR_CODES = [
  // Configuration
  { code: 'TSGI_ERR_CONFIG', meaning: 'A setting has an invalid value, or the command line or a config file cannot be read.' },

  // Loading the app
  { code: 'TSGI_ERR_APP_SPEC', meaning: 'The app spec is not of the form MODULE[:ATTR].' },
  { code: 'TSGI_ERR_APP_NOT_FOUND', meaning: 'No file matches MODULE.' },
  { code: 'TSGI_ERR_APP_IMPORT', meaning: "The app's module threw, or failed to parse or resolve a dependency, while being imported." },
  { code: 'TSGI_ERR_APP_ATTRIBUTE', meaning: 'The module has no export (or property) named by ATTR.' },
  { code: 'TSGI_ERR_APP_NOT_CALLABLE', meaning: 'ATTR (or what its factory returned) is not a function.' },
  { code: 'TSGI_ERR_APP_FACTORY', meaning: 'The app factory named by ATTR threw or rejected.' },
] as const satisfies readonly ErrorCodeInfo[];

export type ErrorCode = (typeof ERROR_CODES)[number]['code'];
