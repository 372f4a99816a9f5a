// One Bun.serve process of bench/baseline/bun-serve.js (run by bun, not node).
/* global Bun */
const BODY = 'Hello, World!';
Bun.serve({
  port: Number(process.env.PORT),
  hostname: process.env.HOST,
  reusePort: true,
  fetch() {
    return new Response(BODY, { headers: { 'Content-Type': 'text/plain' } });
  },
});
console.log('listening');
