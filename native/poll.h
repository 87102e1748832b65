/* A socket polled on Node's event loop that calls back into JavaScript. */
#ifndef BOOTFLEET_POLL_H
#define BOOTFLEET_POLL_H
#include <node_api.h>
#include <uv.h>

/*
 * Prepares `poll` for `fd` on this env's loop, keeps a reference to `callback` and creates the
 * async context named `name` that callbacks run in (async_hooks, used by AsyncLocalStorage,
 * rejects a NULL resource, so a real object is made). Returns 0; on failure releases what it
 * made and returns -1 (the caller still owns fd and its own state).
 */
int bf_poll_setup(napi_env env, int fd, napi_value callback, const char *name,
                  uv_poll_t *poll, napi_ref *callback_ref, napi_async_context *async);

#endif
