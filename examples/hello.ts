// The smallest TSGI app in TypeScript: `tsgi examples/hello.ts:app`. No build step: tsgi compiles
// TypeScript apps as it loads them. (`tsgi examples/hello:app` picks hello.js, which comes first.)
import type { App } from 'tsgi';

export const app: App = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, World!'];
};

export default app;
