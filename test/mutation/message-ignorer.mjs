/**
 * A Stryker ignorer (stryker.config.mjs): no mutant is made inside the words tsgi says to a
 * person, only inside what it does. Two kinds of text are left alone:
 *
 * - a log statement (`log.error(...)`, `this.log.info(...)`, `core.log.warn(...)`): the line an
 *   operator reads. Which failures are logged is checked where it matters (test/gateway/cycle.test.ts
 *   reads the lines); the wording is not a behaviour.
 * - the message of an error: the text argument of `new SomethingError(...)` and of the functions
 *   that only build one (`parseError(code, ...)`, `serverRefusal(code, ...)`, the parser's
 *   `incomplete(part)` and `chunkError(problem)`, Forwarded's `conflict(...)` and `malformed(...)`, the problem and fix of
 *   the validator's `appBroke(rule, problem, fix)` and `serverBroke(...)`), and the bodies of
 *   `describe()`, `quote()` and `chunkHint()` (cycle.ts, validate-breach.ts), which only word a
 *   value for a message. The code (`TSGI_ERR_*`), the class and the status are what programs act on, and the
 *   tests check those; an argument that names a code stays mutable.
 *
 * Everything else, every string that reaches the wire or decides a branch, is mutated as usual.
 */
import { PluginKind, declareValuePlugin } from '@stryker-mutator/api/plugin';

const LOG_LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace']);
const ERROR_BUILDERS = new Set(['parseError', 'serverRefusal', 'incomplete', 'chunkError', 'conflict', 'malformed']);
/** Functions whose whole job is the wording of a message. */
const BREACH_BUILDERS = new Set(['appBroke', 'serverBroke']);
const MESSAGE_FUNCTIONS = new Set(['describe', 'quote', 'chunkHint']);

/** `log`, `this.log`, `core.log`, `this.conn.core.log`... */
function isLogger(node) {
  if (node.type === 'Identifier') return node.name === 'log';
  return node.type === 'MemberExpression' && !node.computed && node.property.type === 'Identifier' && node.property.name === 'log';
}

function isLogCall(node) {
  if (node.type !== 'CallExpression') return false;
  const callee = node.callee;
  return callee.type === 'MemberExpression' && !callee.computed && callee.property.type === 'Identifier' && LOG_LEVELS.has(callee.property.name) && isLogger(callee.object);
}

/** A string, a template, or a concatenation of them: the shapes a message takes. */
function isText(node) {
  if (node.type === 'StringLiteral' || node.type === 'TemplateLiteral') return true;
  return node.type === 'BinaryExpression' && node.operator === '+' && (isText(node.left) || isText(node.right));
}

function isCode(node) {
  return node.type === 'StringLiteral' && node.value.startsWith('TSGI_ERR_');
}

function isErrorMessage(path) {
  const parent = path.parentPath?.node;
  if (parent === undefined || !isText(path.node) || isCode(path.node)) return false;
  if (parent.type !== 'NewExpression' && parent.type !== 'CallExpression') return false;
  if (!parent.arguments.includes(path.node)) return false;
  const callee = parent.callee;
  if (callee.type !== 'Identifier') return false;
  if (parent.type === 'NewExpression') return callee.name.endsWith('Error');
  // The validator's appBroke(rule, problem, fix) and serverBroke(...): the rule (a spec section)
  // is checked by the tests; the problem and the fix are wording.
  if (BREACH_BUILDERS.has(callee.name)) return parent.arguments.indexOf(path.node) > 0;
  return ERROR_BUILDERS.has(callee.name);
}

export const strykerPlugins = [
  declareValuePlugin(PluginKind.Ignore, 'messages', {
    shouldIgnore(path) {
      if (isLogCall(path.node)) return 'a log statement: the wording of an operator log line (docs/testing.md)';
      if (path.node.type === 'FunctionDeclaration' && MESSAGE_FUNCTIONS.has(path.node.id?.name)) return 'a function that only words a message (docs/testing.md)';
      if (isErrorMessage(path)) return 'the message of an error: its code, class and status are what the tests check (docs/testing.md)';
      return undefined;
    },
  }),
];
