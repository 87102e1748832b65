/*
 * tftp_fast: per-transfer TFTP sockets with a native ACK -> next-DATA fast path.
 *
 * WHY. On loopback our TFTP server was 2-35 % slower than tftpd-hpa (`npm run bench -- tftp`:
 * ratio 0.98-1.05 with client and server on different CPUs, 1.18-1.35 on one CPU; pinned, an
 * 8 MiB lock-step fetch took 0.104 s against tftpd-hpa's 0.093 s). Profiling put the gap in
 * Node's fixed cost per datagram (entering JavaScript, dgram's per-send address lookup and
 * callback), not in our transfer logic: a bare Node responder with prebuilt packets was as slow.
 * So the one step that happens once per block in a healthy transfer -- "the client acknowledged
 * everything in flight: send the next block(s)" -- is done here, in the libuv poll callback,
 * without entering JavaScript. See docs/tftp.md for the figures with this in place.
 *
 * CONTRACT. JavaScript (src/tftp/transfer.ts) stays the protocol owner; this file is a narrow
 * accelerator and must never decide anything JS would decide differently.
 *
 *   tftpOpen(address, onMessage) -> handle
 *       UDP socket bound to address:0 (the server TID), non-blocking, polled with a uv_poll_t on
 *       the Node loop (no thread). Every datagram the fast path does not consume is delivered as
 *       onMessage(buffer, sourceAddress, sourcePort), unchanged, in arrival order.
 *   tftpSend(handle, packet, address, port)   synchronous sendto(); throws errno errors.
 *   tftpFastPath(handle, clientAddress, clientPort, file, blksize, windowsize, blocks, state,
 *                clockOriginMs)
 *       Arms the fast path for a read of `file` (a Uint8Array kept referenced until close).
 *       `state` is a Float64Array shared with JS: [0] acked, [1] sent (absolute block numbers,
 *       1-based, never wrapped), [2] time of the last DATA sent here, in performance.now()
 *       milliseconds (uv_now() - clockOriginMs), [3] DATA packets sent here (a counter
 *       JS reports in stats). Both sides read and write it, always on the loop thread.
 *       It also opens a second socket on the same address:port, connect()ed to the client, which
 *       the kernel prefers for the client's datagrams (a connected socket matches more exactly).
 *       DATA goes out of it with a cached route, about 2 % faster per block than sendmsg() with
 *       an address on loopback; the first socket keeps receiving everything else (wrong TIDs, which
 *       JS answers with error 5 from the right port). If it cannot be opened, the fast path sends
 *       from the first socket instead. A socket error on it (an ICMP "port unreachable" turns into
 *       ECONNREFUSED on a connected socket) is cleared and polling goes on.
 *   tftpClose(handle)   stops polling and closes the fds; nothing is consumed or sent afterwards.
 *
 *   A datagram is consumed here ONLY if all of these hold; otherwise it goes to JS untouched:
 *     - it is exactly 4 bytes, opcode ACK, from exactly clientAddress:clientPort;
 *     - acked < sent < blocks (blocks are in flight and the last one is not among them, so this
 *       is not the final ACK, which JS must see to complete the transfer);
 *     - its block number is sent mod 65536, i.e. it acknowledges the whole window in flight.
 *   Then: acked = sent, and blocks sent+1 .. min(acked + windowsize, blocks) are sent, with the
 *   wire block number mod 65536 (rollover after 65535 is 0), exactly as JS's pump() would.
 *   Everything else -- the OACK phase (sent == 0), duplicate ACKs (never answered: Sorcerer's
 *   Apprentice), stale or partial-window ACKs, the final ACK, ERRORs, wrong TIDs (JS answers
 *   error 5), padded or malformed packets -- is JavaScript's. Retransmission is JavaScript's
 *   timer, which reads state[2] to see when we last sent.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "errors.h"
#include "poll.h"

#include <uv.h>

#include "tftp_fast.h"

#define TFTP_MAGIC 0x74667470u /* "tftp": tells our handles from other externals */
#define OP_DATA 3
#define OP_ACK 4

/* Shared state layout; mirrored in src/tftp/socket.ts (TransferState). */
enum { ST_ACKED = 0, ST_SENT = 1, ST_LAST_SEND = 2, ST_NATIVE_BLOCKS = 3, ST_LENGTH = 4 };

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, "ERR_INTERNAL", "N-API call failed: " #call);                          \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

typedef struct {
  uint32_t magic;
  napi_env env;
  int fd;        /* bound to address:port, unconnected: the TID everything is received on */
  int cfd;       /* the same address:port, connected to the client; -1 until armed (or if unavailable) */
  uv_poll_t poll, cpoll;
  napi_ref callback;
  napi_async_context async;
  int closing;   /* tftpClose (or the finalizer) has started closing */
  int finalized; /* the JS external is gone */
  int polls;     /* poll handles initialised and not yet released by uv */
  /* The fast path; armed by tftpFastPath. */
  int armed;
  struct sockaddr_in client;
  napi_ref file_ref, state_ref;
  const uint8_t *file;
  size_t size;
  double *st;
  uint32_t blksize, window;
  int64_t blocks;
  double clock_origin_ms;
} TftpSock;

/* Large enough for any IPv4 UDP datagram, so JS always sees what was sent. Per thread, in case
 * the addon is also loaded in a worker (each has its own loop). */
static _Thread_local uint8_t rxbuf[65536];

static napi_value throw_arg(napi_env env, const char *msg) {
  napi_throw_type_error(env, "ERR_INVALID_ARG", msg);
  return NULL;
}

/* An IPv4 address literal argument. Returns 0 on success (else a TypeError is pending). */
static int get_ipv4(napi_env env, napi_value v, struct in_addr *out, char text[INET_ADDRSTRLEN]) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, text, INET_ADDRSTRLEN, &len) != napi_ok ||
      inet_pton(AF_INET, text, out) != 1) {
    throw_arg(env, "address must be an IPv4 address literal");
    return -1;
  }
  return 0;
}

static int get_port(napi_env env, napi_value v, uint16_t *out) {
  uint32_t port = 0;
  if (napi_get_value_uint32(env, v, &port) != napi_ok || port == 0 || port > 65535) {
    throw_arg(env, "port must be 1-65535");
    return -1;
  }
  *out = (uint16_t)port;
  return 0;
}

/* ---------------------------------------------------------------------------------------- */

static void free_if_done(TftpSock *s) {
  if (s->finalized && s->polls == 0) free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  TftpSock *s = (TftpSock *)h->data;
  int *fd = h == (uv_handle_t *)&s->cpoll ? &s->cfd : &s->fd;
  close(*fd);
  *fd = -1;
  s->polls--;
  free_if_done(s);
}

/* Stops polling, disarms the fast path and releases JS references. Safe to call twice. */
static void sock_close(TftpSock *s) {
  if (s->closing) return;
  s->closing = 1;
  s->armed = 0;
  s->file = NULL;
  s->st = NULL;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  if (s->cfd >= 0) {
    uv_poll_stop(&s->cpoll);
    uv_close((uv_handle_t *)&s->cpoll, on_poll_closed);
  }
  napi_ref *refs[] = {&s->callback, &s->file_ref, &s->state_ref};
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    if (*refs[i]) napi_delete_reference(s->env, *refs[i]);
    *refs[i] = NULL;
  }
  if (s->async) napi_async_destroy(s->env, s->async);
  s->async = NULL;
}

static void sock_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  TftpSock *s = (TftpSock *)data;
  sock_close(s);
  s->finalized = 1;
  free_if_done(s);
}

/* Delivers one datagram to JS: onMessage(buffer, sourceAddress, sourcePort). */
static void deliver(TftpSock *s, const uint8_t *data, size_t len, const struct sockaddr_in *src) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[3], result;
  void *copy = NULL;
  char addr[INET_ADDRSTRLEN] = "";
  inet_ntop(AF_INET, &src->sin_addr, addr, sizeof addr);
  if (napi_get_reference_value(env, s->callback, &cb) == napi_ok && cb != NULL &&
      napi_get_global(env, &recv) == napi_ok && /* napi_make_callback needs an object receiver */
      napi_create_buffer_copy(env, len, data, &copy, &argv[0]) == napi_ok &&
      napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok &&
      napi_create_uint32(env, ntohs(src->sin_port), &argv[2]) == napi_ok) {
    if (napi_make_callback(env, s->async, recv, cb, 3, argv, &result) == napi_pending_exception) {
      /* A throwing JS callback becomes an uncaughtException, as with any Node event. */
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

/* Sends DATA for absolute block `block` (1 <= block <= blocks) straight from the file buffer. */
static void send_block(TftpSock *s, int64_t block) {
  uint64_t off = (uint64_t)(block - 1) * s->blksize;
  size_t len = off >= s->size ? 0 : (s->size - off < s->blksize ? s->size - off : s->blksize);
  uint8_t hdr[4] = {0, OP_DATA, (uint8_t)((block >> 8) & 0xff), (uint8_t)(block & 0xff)};
  struct iovec iov[2] = {{.iov_base = hdr, .iov_len = sizeof hdr},
                         {.iov_base = (void *)(s->file + (len ? off : 0)), .iov_len = len}};
  struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
  if (s->cfd < 0) {
    msg.msg_name = &s->client;
    msg.msg_namelen = sizeof s->client;
  }
  /* A failed send (ENOBUFS, ...) is a lost packet: JS's retransmission timer recovers, as it does
   * for a datagram lost on the wire. */
  (void)sendmsg(s->cfd >= 0 ? s->cfd : s->fd, &msg, MSG_DONTWAIT);
  s->st[ST_NATIVE_BLOCKS] += 1;
}

/* The fast path (see the contract above). Returns 1 if it consumed the datagram. */
static int fast_ack(TftpSock *s, const uint8_t *p, ssize_t n, const struct sockaddr_in *src) {
  if (!s->armed || n != 4 || p[0] != 0 || p[1] != OP_ACK) return 0;
  if (src->sin_port != s->client.sin_port || src->sin_addr.s_addr != s->client.sin_addr.s_addr) return 0;
  double *st = s->st;
  int64_t acked = (int64_t)st[ST_ACKED], sent = (int64_t)st[ST_SENT];
  uint16_t wire = (uint16_t)((p[2] << 8) | p[3]);
  if (!(acked >= 0 && acked < sent && sent < s->blocks) || wire != (uint16_t)(sent & 0xffff)) return 0;
  acked = sent;
  st[ST_ACKED] = (double)acked;
  int64_t last = acked + s->window < s->blocks ? acked + s->window : s->blocks;
  while (sent < last) {
    send_block(s, ++sent);
    st[ST_SENT] = (double)sent;
  }
  /* The loop's cached clock (no syscall); at most one loop iteration old, which is nothing next to
   * a retransmission timeout of whole seconds. */
  st[ST_LAST_SEND] = (double)uv_now(s->poll.loop) - s->clock_origin_ms;
  return 1;
}

static void on_readable(uv_poll_t *h, int status, int events) {
  TftpSock *s = (TftpSock *)h->data;
  int fd = h == &s->cpoll ? s->cfd : s->fd;
  if (status < 0) {
    /* libuv reports a POLLERR it sees this way and stops the poll. On the connected socket that
     * is an ICMP error from the client's side (ECONNREFUSED, EHOSTUNREACH), usually consumed by
     * recvfrom() below first: clear it and keep polling; the transfer's fate is JS's business
     * (its timer retransmits or gives up). */
    if (h == &s->cpoll && !s->closing) {
      int err = 0;
      socklen_t elen = sizeof err;
      (void)getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen);
      uv_poll_start(h, UV_READABLE, on_readable);
    }
    return;
  }
  if (!(events & UV_READABLE)) return;
  for (int i = 0; i < 64 && !s->closing; i++) { /* bounded so a flood cannot starve the loop */
    struct sockaddr_in src;
    socklen_t slen = sizeof src;
    ssize_t n = recvfrom(fd, rxbuf, sizeof rxbuf, MSG_DONTWAIT, (struct sockaddr *)&src, &slen);
    if (n < 0) return; /* EAGAIN: drained; other errors: try again on the next wake-up */
    if (slen < sizeof src || src.sin_family != AF_INET) continue;
    /* After a fast-path send, read again at once instead of going back to the loop: when the
     * client shares our CPU the kernel switched to it inside sendmsg() and its next ACK is
     * usually queued by the time we get back here, which saves a loop iteration + epoll_wait. */
    if (!fast_ack(s, rxbuf, n, &src)) deliver(s, rxbuf, (size_t)n, &src);
  }
}

static TftpSock *get_sock(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data ||
      ((TftpSock *)data)->magic != TFTP_MAGIC) {
    throw_arg(env, "expected a tftp socket handle");
    return NULL;
  }
  return (TftpSock *)data;
}

/* ---------------------------------------------------------------------------------------- */

/* tftpOpen(address, onMessage) -> handle */
static napi_value tftp_open(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_arg(env, "tftpOpen(address, onMessage)");
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  char text[INET_ADDRSTRLEN];
  if (get_ipv4(env, argv[0], &sa.sin_addr, text) != 0) return NULL;
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[1], &type));
  if (type != napi_function) return throw_arg(env, "onMessage must be a function");

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return bf_throw_errno(env, errno, "socket", "AF_INET/SOCK_DGRAM");
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    char what[INET_ADDRSTRLEN + 8];
    snprintf(what, sizeof what, "%s:0", text);
    return bf_throw_errno(env, e, "bind", what);
  }

  TftpSock *s = calloc(1, sizeof *s);
  if (!s) {
    close(fd);
    return bf_throw_errno(env, ENOMEM, "calloc", "tftp socket state");
  }
  s->magic = TFTP_MAGIC;
  s->env = env;
  s->fd = fd;
  s->cfd = -1;
  napi_value external;
  if (bf_poll_setup(env, fd, argv[1], "bootfleet:tftp", &s->poll, &s->callback, &s->async) != 0) {
    free(s);
    close(fd);
    napi_throw_error(env, "ERR_INTERNAL", "tftpOpen: cannot set up the event-loop poll");
    return NULL;
  }
  s->poll.data = s;
  s->polls = 1;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (napi_create_external(env, s, sock_finalize, NULL, &external) != napi_ok) {
    sock_close(s);
    s->finalized = 1;
    napi_throw_error(env, "ERR_INTERNAL", "tftpOpen: cannot create the handle");
    return NULL;
  }
  return external;
}

/* tftpSend(handle, packet: Uint8Array, address, port) */
static napi_value tftp_send(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 4) return throw_arg(env, "tftpSend(handle, packet, address, port)");
  TftpSock *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  if (s->closing) return bf_throw_errno(env, EBADF, "sendto", "closed tftp socket");
  bool is_ta = false;
  napi_typedarray_type ta_type;
  size_t len = 0;
  void *data = NULL;
  CHECK(napi_is_typedarray(env, argv[1], &is_ta));
  if (!is_ta || napi_get_typedarray_info(env, argv[1], &ta_type, &len, &data, NULL, NULL) != napi_ok ||
      ta_type != napi_uint8_array)
    return throw_arg(env, "packet must be a Uint8Array");
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  char text[INET_ADDRSTRLEN];
  if (get_ipv4(env, argv[2], &sa.sin_addr, text) != 0 || get_port(env, argv[3], &sa.sin_port) != 0) return NULL;
  sa.sin_port = htons(sa.sin_port);
  if (sendto(s->fd, len ? data : "", len, MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof sa) < 0)
    return bf_throw_errno(env, errno, "sendto", text);
  return NULL;
}

/* Opens s->cfd: a second socket on s->fd's address:port, connected to the client (see the
 * contract). Best effort: on any failure the fast path sends from s->fd. */
static void open_connected(TftpSock *s) {
  struct sockaddr_in local;
  socklen_t llen = sizeof local;
  int one = 1, zero = 0;
  if (getsockname(s->fd, (struct sockaddr *)&local, &llen) != 0) return;
  int cfd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (cfd < 0) return;
  /* Sharing the port needs SO_REUSEADDR on both sockets, but only while binding: s->fd was bound
   * without it (so its ephemeral port was unique) and drops it again at once, so nobody else can
   * bind this port afterwards. */
  int ok = setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
           setsockopt(cfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0 &&
           bind(cfd, (struct sockaddr *)&local, sizeof local) == 0 &&
           connect(cfd, (struct sockaddr *)&s->client, sizeof s->client) == 0;
  (void)setsockopt(s->fd, SOL_SOCKET, SO_REUSEADDR, &zero, sizeof zero);
  uv_loop_t *loop = s->poll.loop;
  if (!ok || uv_poll_init(loop, &s->cpoll, cfd) != 0) {
    close(cfd);
    return;
  }
  s->cfd = cfd;
  s->cpoll.data = s;
  s->polls++;
  uv_poll_start(&s->cpoll, UV_READABLE, on_readable);
}

/* tftpFastPath(handle, clientAddress, clientPort, file, blksize, windowsize, blocks, state, clockOriginMs) */
static napi_value tftp_fast_path(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 9)
    return throw_arg(env, "tftpFastPath(handle, clientAddress, clientPort, file, blksize, windowsize, blocks, state, clockOriginMs)");
  TftpSock *s = get_sock(env, argv[0]);
  if (!s) return NULL;
  if (s->closing) return bf_throw_errno(env, EBADF, "tftpFastPath", "closed tftp socket");
  if (s->armed) return throw_arg(env, "the fast path is already armed on this socket");
  struct sockaddr_in client;
  memset(&client, 0, sizeof client);
  client.sin_family = AF_INET;
  char text[INET_ADDRSTRLEN];
  if (get_ipv4(env, argv[1], &client.sin_addr, text) != 0 || get_port(env, argv[2], &client.sin_port) != 0) return NULL;
  client.sin_port = htons(client.sin_port);

  bool is_ta = false;
  napi_typedarray_type ta_type;
  size_t size = 0, st_len = 0;
  void *file = NULL, *st = NULL;
  CHECK(napi_is_typedarray(env, argv[3], &is_ta));
  if (!is_ta || napi_get_typedarray_info(env, argv[3], &ta_type, &size, &file, NULL, NULL) != napi_ok ||
      ta_type != napi_uint8_array)
    return throw_arg(env, "file must be a Uint8Array");
  uint32_t blksize = 0, window = 0;
  double blocks = 0, origin = 0;
  if (napi_get_value_uint32(env, argv[4], &blksize) != napi_ok || blksize < 8 || blksize > 65464)
    return throw_arg(env, "blksize must be 8-65464");
  if (napi_get_value_uint32(env, argv[5], &window) != napi_ok || window < 1 || window > 65535)
    return throw_arg(env, "windowsize must be 1-65535");
  /* The only block count that keeps every read inside `file`; JS computes the same. */
  if (napi_get_value_double(env, argv[6], &blocks) != napi_ok || blocks != (double)(size / blksize + 1))
    return throw_arg(env, "blocks must be floor(file.length / blksize) + 1");
  CHECK(napi_is_typedarray(env, argv[7], &is_ta));
  if (!is_ta || napi_get_typedarray_info(env, argv[7], &ta_type, &st_len, &st, NULL, NULL) != napi_ok ||
      ta_type != napi_float64_array || st_len < ST_LENGTH)
    return throw_arg(env, "state must be a Float64Array of at least 4 elements");
  if (napi_get_value_double(env, argv[8], &origin) != napi_ok) return throw_arg(env, "clockOriginMs must be a number");

  /* References keep both arrays (and their memory) alive until tftpClose or finalization. */
  CHECK(napi_create_reference(env, argv[3], 1, &s->file_ref));
  if (napi_create_reference(env, argv[7], 1, &s->state_ref) != napi_ok) {
    napi_delete_reference(env, s->file_ref);
    s->file_ref = NULL;
    napi_throw_error(env, "ERR_INTERNAL", "tftpFastPath: cannot reference the state");
    return NULL;
  }
  s->client = client;
  s->file = (const uint8_t *)file;
  s->size = size;
  s->blksize = blksize;
  s->window = window;
  s->blocks = (int64_t)blocks;
  s->st = (double *)st;
  s->clock_origin_ms = origin;
  s->armed = 1;
  open_connected(s);
  return NULL;
}

static napi_value tftp_close(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return throw_arg(env, "tftpClose(handle)");
  TftpSock *s = get_sock(env, argv[0]);
  if (s) sock_close(s);
  return NULL;
}

napi_status tftp_fast_register(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"tftpOpen", NULL, tftp_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tftpSend", NULL, tftp_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tftpFastPath", NULL, tftp_fast_path, NULL, NULL, NULL, napi_enumerable, NULL},
      {"tftpClose", NULL, tftp_close, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  return napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
