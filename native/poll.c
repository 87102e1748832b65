/* See poll.h: the shared set-up of the addon's polled sockets (ICMPv6, TFTP). */
#include "poll.h"

int bf_poll_setup(napi_env env, int fd, napi_value callback, const char *name,
                  uv_poll_t *poll, napi_ref *callback_ref, napi_async_context *async) {
  uv_loop_t *loop = NULL;
  napi_value jname, resource;
  *callback_ref = NULL;
  *async = NULL;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok ||
      napi_create_reference(env, callback, 1, callback_ref) != napi_ok ||
      napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &jname) != napi_ok ||
      napi_create_object(env, &resource) != napi_ok ||
      napi_async_init(env, resource, jname, async) != napi_ok || uv_poll_init(loop, poll, fd) != 0) {
    if (*callback_ref) napi_delete_reference(env, *callback_ref);
    if (*async) napi_async_destroy(env, *async);
    *callback_ref = NULL;
    *async = NULL;
    return -1;
  }
  return 0;
}
