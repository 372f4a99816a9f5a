// The framework benchmark's route in Fastify: GET / answers a small JSON document.
import Fastify from 'fastify';

export const app = Fastify();
app.get('/', async () => ({ message: 'Hello, World!' }));
