/**
 * The tsgi package root: the TSGI 1.1 types (docs/spec.md is their normative text), the validator
 * middleware, and the error classes every tsgi failure is an instance of.
 */
export type * from './gateway/types.js';
export { validate, ValidationError } from './gateway/validate.js';
export type { Culprit, ValidateOptions } from './gateway/validate.js';
export { TsgiError, HttpParseError } from './errors.js';
