// The framework benchmark's route in Express: GET / answers a small JSON document.
import express from 'express';

export const app = express();
app.get('/', (req, res) => res.json({ message: 'Hello, World!' }));
