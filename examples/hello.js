// The smallest TSGI app: `tsgi examples/hello:app`, or `tsgi examples/hello` for the default export.
export const app = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, World!'];
};

export default app;
