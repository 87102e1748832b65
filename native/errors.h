/* Errors from the addon's system calls, thrown to JavaScript in the shape of Node's own. */
#ifndef BOOTFLEET_ERRORS_H
#define BOOTFLEET_ERRORS_H
#include <node_api.h>

/* The errno name ("EADDRINUSE"), or "ESYSCALL" for one we do not name. */
const char *bf_errno_code(int err);

/* Throws Error(`${syscall} ${what}: ${strerror}`) with .code and .syscall; returns NULL. */
napi_value bf_throw_errno(napi_env env, int err, const char *syscall, const char *what);

#endif
