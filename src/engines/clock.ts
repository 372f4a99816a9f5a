/**
 * The driver keeps time with performance.now() (monotonic, and cheap); the wall clock a record or
 * a Date field needs is this origin plus such a reading. `performance.timeOrigin` is a getter that
 * costs more than the addition, so it is read once.
 */
export const TIME_ORIGIN = performance.timeOrigin;
