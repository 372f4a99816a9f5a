// The smallest TSGI app: `tsgi examples/hello:app`
export const app = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return ['Hello, World!'];
};
