/* tftp_fast: native TFTP transfer sockets with an ACK -> DATA fast path; see tftp_fast.c. */
#ifndef BOOTFLEET_TFTP_FAST_H
#define BOOTFLEET_TFTP_FAST_H

#include <node_api.h>

/* Adds tftpOpen, tftpSend, tftpFastPath and tftpClose to `exports`. */
napi_status tftp_fast_register(napi_env env, napi_value exports);

#endif
