// The framework benchmark's route in Hono: GET / answers a small JSON document.
import { Hono } from 'hono';

export const app = new Hono();
app.get('/', (c) => c.json({ message: 'Hello, World!' }));
