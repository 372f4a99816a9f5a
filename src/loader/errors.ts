/**
 * Why an app could not be loaded: one class per failure, each with its stable code and a one-line
 * message saying exactly what went wrong. The worker exits with its app-load status on any of them.
 */
import { relative, resolve } from 'node:path';
import { TsgiError } from '../errors.js';

/** Any failure to produce an app from a spec; the worker exits with its app-load status. */
export class AppLoadError extends TsgiError {}

export class AppSpecError extends AppLoadError {
  constructor(spec: string, why: string) {
    super('TSGI_ERR_APP_SPEC', `Invalid app spec ${JSON.stringify(spec)}: ${why}; write MODULE[:ATTR], e.g. app.js:app or app:create('x')`);
  }
}

export class AppNotFoundError extends AppLoadError {
  readonly tried: readonly string[];
  constructor(module: string, cwd: string, tried: readonly string[], hint = '') {
    const list = tried.map((path) => relative(cwd, path) || '.').join(', ');
    super('TSGI_ERR_APP_NOT_FOUND', `App module ${JSON.stringify(module)} not found in ${resolve(cwd)} (tried ${list})${hint}`);
    this.tried = tried;
  }
}

export class AppUnreadableError extends AppLoadError {
  constructor(module: string, path: string) {
    const uid = process.getuid?.();
    const who = uid === undefined ? 'this process' : `uid ${uid}`;
    super('TSGI_ERR_APP_UNREADABLE', `App module ${JSON.stringify(module)} cannot be read by ${who} (permission denied at ${path}); with --user, make the app and the directories above it readable by that user`);
  }
}

export class AppImportError extends AppLoadError {
  constructor(modulePath: string, cause: unknown, detail: string) {
    super('TSGI_ERR_APP_IMPORT', `Importing ${modulePath} failed: ${detail}`, { cause });
  }
}

export class AppAttributeError extends AppLoadError {
  constructor(message: string) {
    super('TSGI_ERR_APP_ATTRIBUTE', message);
  }
}

export class AppNotCallableError extends AppLoadError {
  constructor(message: string) {
    super('TSGI_ERR_APP_NOT_CALLABLE', message);
  }
}

export class AppFactoryError extends AppLoadError {
  constructor(call: string, cause: unknown, detail: string) {
    super('TSGI_ERR_APP_FACTORY', `App factory ${call} threw: ${detail}`, { cause });
  }
}
