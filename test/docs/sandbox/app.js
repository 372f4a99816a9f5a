// "Your app" in the sandbox where test/docs/examples.test.ts runs the docs' commands: the docs
// write `tsgi app:app`, `tsgi 'app:create()'` and `tsgi app` for an app of the reader's own.
export const app = (environ, startResponse) => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [`app ${process.pid}`];
};

export function create() {
  return app;
}

export default app;
