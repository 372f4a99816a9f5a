/**
 * Exit codes a worker uses to tell the master why it stopped (Gunicorn's numbers), and the master's
 * own when a worker could not boot. Part of the master-worker contract, so both sides import it.
 */
export const EXIT_OK = 0;
/** The worker could not start (e.g. could not listen on the sockets it was given). */
export const EXIT_BOOT_ERROR = 3;
/** The app could not be loaded (not found, import error, not callable, factory threw). */
export const EXIT_APP_LOAD_ERROR = 4;
