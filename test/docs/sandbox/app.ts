// "Your app" in TypeScript, for the docs' `tsgi app.ts:app` (see app.js).
export const app = (environ: Record<string, unknown>, startResponse: (status: string, headers: [string, string][]) => void): string[] => {
  startResponse('200 OK', [['Content-Type', 'text/plain']]);
  return [`app.ts ${process.pid}`];
};

export default app;
