/*
 * tsgi's orphan reaper: one function, reap(pid), that waits for a child process without
 * blocking. Node (libuv) only waits for the processes it spawned itself; as PID 1 in a
 * container, tsgi is also the parent of every orphan in it, and without this their zombies
 * stay in the process table. Loaded only when built (native/build.mjs); src/master/reaper.ts
 * decides which pids to reap, and never one that Node spawned.
 *
 * reap(pid) -> -1 when pid has not exited (or is not our child), else its exit code, or
 * 128 + the signal number that killed it (the shell's convention).
 */
#include <errno.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <node_api.h>

static napi_value reap(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t pid = 0;
  int status = 0;
  int result = -1;
  napi_value out;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 1) return NULL;
  if (napi_get_value_int32(env, argv[0], &pid) != napi_ok || pid <= 0) {
    napi_throw_type_error(env, NULL, "reap(pid): pid must be a positive integer");
    return NULL;
  }
  pid_t got;
  do {
    got = waitpid((pid_t)pid, &status, WNOHANG);
  } while (got == -1 && errno == EINTR);
  if (got == (pid_t)pid) {
    if (WIFEXITED(status)) result = WEXITSTATUS(status);
    else if (WIFSIGNALED(status)) result = 128 + WTERMSIG(status);
    else result = 0;
  }
  napi_create_int32(env, result, &out);
  return out;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "reap", NAPI_AUTO_LENGTH, reap, NULL, &fn);
  napi_set_named_property(env, exports, "reap", fn);
  return exports;
}
