/* Shared by the addon's sources: one errno → JS error mapping (see errors.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "errors.h"

const char *bf_errno_code(int err) {
  switch (err) {
  case EACCES: return "EACCES";
  case EADDRINUSE: return "EADDRINUSE";
  case EADDRNOTAVAIL: return "EADDRNOTAVAIL";
  case EAGAIN: return "EAGAIN";
  case EBADF: return "EBADF";
  case ECONNREFUSED: return "ECONNREFUSED";
  case EHOSTUNREACH: return "EHOSTUNREACH";
  case EINVAL: return "EINVAL";
  case EMFILE: return "EMFILE";
  case EMSGSIZE: return "EMSGSIZE";
  case ENETUNREACH: return "ENETUNREACH";
  case ENFILE: return "ENFILE";
  case ENOBUFS: return "ENOBUFS";
  case ENODEV: return "ENODEV";
  case ENOMEM: return "ENOMEM";
  case EPERM: return "EPERM";
  default: return "ESYSCALL";
  }
}

napi_value bf_throw_errno(napi_env env, int err, const char *syscall, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "%s %s: %s", syscall, what, strerror(err));
  napi_value jmsg, jerr, jcode, jsys;
  napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &jmsg);
  napi_create_string_utf8(env, bf_errno_code(err), NAPI_AUTO_LENGTH, &jcode);
  napi_create_string_utf8(env, syscall, NAPI_AUTO_LENGTH, &jsys);
  napi_create_error(env, jcode, jmsg, &jerr);
  napi_set_named_property(env, jerr, "syscall", jsys);
  napi_throw(env, jerr);
  return NULL;
}
