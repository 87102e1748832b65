/*
 * bootfleet_net: the few socket calls Node cannot make.
 *
 * 1. openUdp4(ifname, port) -> fd
 *    A UDP socket pinned to ONE interface with SO_BINDTODEVICE *before* bind(), plus SO_BROADCAST,
 *    bound to 0.0.0.0:port so it sees broadcasts. The caller wraps the fd with Node's
 *    dgram.Socket#bind({ fd }). Creating the fd here (instead of calling setsockopt on
 *    dgram's socket._handle.fd after bind) closes the window in which a socket bound to
 *    0.0.0.0 would queue packets from every interface, and avoids relying on the private
 *    `_handle` field. Once bound to a device, the kernel also routes every send out of that
 *    device, broadcasts included (socket(7), SO_BINDTODEVICE).
 *
 * 2. icmp6Open / icmp6Send / icmp6Close
 *    A raw ICMPv6 socket (RFC 4861 needs it: neighbour discovery is ICMPv6 with hop limit 255)
 *    pinned to one interface, with an ICMP6_FILTER passing only the requested types, optional
 *    multicast group memberships (ff02::2 so router solicitations reach us even though the host
 *    is not a router), and IPV6_RECVHOPLIMIT so JS can apply RFC 4861 §6.1 validation. Incoming
 *    packets are delivered on the Node event loop through a uv_poll_t on the fd: no thread, and
 *    stop() is just uv_close + close(fd). The kernel fills in the ICMPv6 checksum (RFC 3542 §3.1).
 *
 * Errors are thrown as JS Error objects with `code` set to the errno name (ENODEV, EACCES, ...)
 * and `syscall` set, like Node's own system errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/icmp6.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <node_api.h>
#include "errors.h"
#include "poll.h"
#include <uv.h>

#include "tftp_fast.h"

#define CHECK(call)                                                                                \
  do {                                                                                             \
    if ((call) != napi_ok) {                                                                       \
      napi_throw_error(env, "ERR_INTERNAL", "N-API call failed: " #call);                          \
      return NULL;                                                                                 \
    }                                                                                              \
  } while (0)

/* Reads an interface name argument (max IFNAMSIZ-1 bytes). Returns 0 on success. */
static int get_ifname(napi_env env, napi_value v, char out[IFNAMSIZ]) {
  size_t len = 0;
  if (napi_get_value_string_utf8(env, v, out, IFNAMSIZ, &len) != napi_ok || len == 0 ||
      len >= IFNAMSIZ - 1 + 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "interface name must be a 1-15 character string");
    return -1;
  }
  return 0;
}

/* ---------------------------------------------------------------------------------------- */

static napi_value open_udp4(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IFNAMSIZ];
  if (argc < 2 || get_ifname(env, argv[0], ifname) != 0) return NULL;
  uint32_t port = 0;
  if (napi_get_value_uint32(env, argv[1], &port) != napi_ok || port > 65535) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "port must be 0-65535");
    return NULL;
  }
  if (if_nametoindex(ifname) == 0) return bf_throw_errno(env, ENODEV, "if_nametoindex", ifname);

  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return bf_throw_errno(env, errno, "socket", "AF_INET/SOCK_DGRAM");
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) != 0) {
    int e = errno;
    close(fd);
    return bf_throw_errno(env, e, "setsockopt", "SO_BINDTODEVICE");
  }
  if (setsockopt(fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) != 0) {
    int e = errno;
    close(fd);
    return bf_throw_errno(env, e, "setsockopt", "SO_BROADCAST");
  }
  struct sockaddr_in sa;
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  sa.sin_addr.s_addr = htonl(INADDR_ANY);
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    int e = errno;
    close(fd);
    char what[64];
    snprintf(what, sizeof what, "0.0.0.0:%u on %s", port, ifname);
    return bf_throw_errno(env, e, "bind", what);
  }
  napi_value result;
  CHECK(napi_create_int32(env, fd, &result));
  return result;
}

/* ---------------------------------------------------------------------------------------- */

typedef struct {
  napi_env env;
  int fd;
  unsigned ifindex;
  uv_poll_t poll;
  napi_ref callback;
  napi_async_context async;
  int closing;   /* icmp6Close (or the finalizer) has started closing */
  int finalized; /* the JS external is gone */
  int released;  /* uv has released the poll handle */
} Icmp6;

static void icmp6_free_if_done(Icmp6 *s) {
  if (s->finalized && s->released) free(s);
}

static void on_poll_closed(uv_handle_t *h) {
  Icmp6 *s = (Icmp6 *)h->data;
  close(s->fd);
  s->fd = -1;
  s->released = 1;
  icmp6_free_if_done(s);
}

/* Stops polling and releases JS references. Safe to call twice. */
static void icmp6_close(Icmp6 *s) {
  if (s->closing) return;
  s->closing = 1;
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, on_poll_closed);
  if (s->callback) napi_delete_reference(s->env, s->callback);
  s->callback = NULL;
  if (s->async) napi_async_destroy(s->env, s->async);
  s->async = NULL;
}

static void icmp6_finalize(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  Icmp6 *s = (Icmp6 *)data;
  icmp6_close(s);
  s->finalized = 1;
  icmp6_free_if_done(s);
}

/* Delivers one datagram to JS: callback(buffer, sourceAddress, hopLimit, destinationAddress). */
static void deliver(Icmp6 *s, const uint8_t *data, size_t len, const struct sockaddr_in6 *src, int hops,
                    const struct in6_addr *dst) {
  napi_env env = s->env;
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value cb, recv, argv[4], result;
  void *copy = NULL;
  char addr[INET6_ADDRSTRLEN] = "", daddr[INET6_ADDRSTRLEN] = "";
  inet_ntop(AF_INET6, &src->sin6_addr, addr, sizeof addr);
  inet_ntop(AF_INET6, dst, daddr, sizeof daddr);
  if (napi_get_reference_value(env, s->callback, &cb) == napi_ok &&
      napi_get_global(env, &recv) == napi_ok && /* napi_make_callback needs an object receiver */
      napi_create_buffer_copy(env, len, data, &copy, &argv[0]) == napi_ok &&
      napi_create_string_utf8(env, addr, NAPI_AUTO_LENGTH, &argv[1]) == napi_ok &&
      napi_create_int32(env, hops, &argv[2]) == napi_ok &&
      napi_create_string_utf8(env, daddr, NAPI_AUTO_LENGTH, &argv[3]) == napi_ok) {
    if (napi_make_callback(env, s->async, recv, cb, 4, argv, &result) == napi_pending_exception) {
      /* A throwing JS callback becomes an uncaughtException, as with any Node event. */
      napi_value err;
      napi_get_and_clear_last_exception(env, &err);
      napi_fatal_exception(env, err);
    }
  }
  napi_close_handle_scope(env, scope);
}

static void on_readable(uv_poll_t *h, int status, int events) {
  Icmp6 *s = (Icmp6 *)h->data;
  if (status < 0 || !(events & UV_READABLE)) return;
  for (int i = 0; i < 64 && !s->closing; i++) { /* bounded so a flood cannot starve the loop */
    uint8_t buf[1500];
    uint8_t control[CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(struct in6_pktinfo))];
    struct sockaddr_in6 src;
    struct iovec iov = {.iov_base = buf, .iov_len = sizeof buf};
    struct msghdr msg = {.msg_name = &src, .msg_namelen = sizeof src, .msg_iov = &iov,
                         .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control};
    ssize_t n = recvmsg(s->fd, &msg, MSG_DONTWAIT);
    if (n < 0) return; /* EAGAIN: drained; other errors: try again on the next wake-up */
    int hops = -1;
    struct in6_pktinfo pi;
    memset(&pi, 0, sizeof pi);
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != IPPROTO_IPV6) continue;
      if (c->cmsg_type == IPV6_HOPLIMIT) memcpy(&hops, CMSG_DATA(c), sizeof hops);
      if (c->cmsg_type == IPV6_PKTINFO) memcpy(&pi, CMSG_DATA(c), sizeof pi);
    }
    deliver(s, buf, (size_t)n, &src, hops, &pi.ipi6_addr);
  }
}

static napi_value fail_icmp6(napi_env env, int fd, int err, const char *syscall, const char *what) {
  close(fd);
  return bf_throw_errno(env, err, syscall, what);
}

/* icmp6Open(ifname, passTypes: number[], joinGroups: string[], onMessage) -> external handle */
static napi_value icmp6_open(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  char ifname[IFNAMSIZ];
  if (argc < 4 || get_ifname(env, argv[0], ifname) != 0) return NULL;
  unsigned ifindex = if_nametoindex(ifname);
  if (ifindex == 0) return bf_throw_errno(env, ENODEV, "if_nametoindex", ifname);

  int fd = socket(AF_INET6, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_ICMPV6);
  if (fd < 0) return bf_throw_errno(env, errno, "socket", "AF_INET6/SOCK_RAW/ICMPV6");
  if (setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen(ifname)) != 0)
    return fail_icmp6(env, fd, errno, "setsockopt", "SO_BINDTODEVICE");

  struct icmp6_filter filter;
  ICMP6_FILTER_SETBLOCKALL(&filter);
  uint32_t ntypes = 0, ngroups = 0;
  CHECK(napi_get_array_length(env, argv[1], &ntypes));
  for (uint32_t i = 0; i < ntypes; i++) {
    napi_value v;
    uint32_t type = 0;
    CHECK(napi_get_element(env, argv[1], i, &v));
    CHECK(napi_get_value_uint32(env, v, &type));
    ICMP6_FILTER_SETPASS(type & 0xff, &filter);
  }
  if (setsockopt(fd, IPPROTO_ICMPV6, ICMP6_FILTER, &filter, sizeof filter) != 0)
    return fail_icmp6(env, fd, errno, "setsockopt", "ICMP6_FILTER");

  int one = 1, hops = 255; /* RFC 4861 §6.1: ND messages are sent and accepted only with hop limit 255 */
  if (setsockopt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, &one, sizeof one) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof one) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, &hops, sizeof hops) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) != 0 ||
      setsockopt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) != 0)
    return fail_icmp6(env, fd, errno, "setsockopt", "IPV6 hop limits");

  CHECK(napi_get_array_length(env, argv[2], &ngroups));
  for (uint32_t i = 0; i < ngroups; i++) {
    napi_value v;
    char group[INET6_ADDRSTRLEN];
    size_t glen = 0;
    struct ipv6_mreq mreq;
    CHECK(napi_get_element(env, argv[2], i, &v));
    CHECK(napi_get_value_string_utf8(env, v, group, sizeof group, &glen));
    if (inet_pton(AF_INET6, group, &mreq.ipv6mr_multiaddr) != 1) {
      close(fd);
      napi_throw_type_error(env, "ERR_INVALID_ARG", "joinGroups must hold IPv6 addresses");
      return NULL;
    }
    mreq.ipv6mr_interface = ifindex;
    if (setsockopt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, &mreq, sizeof mreq) != 0)
      return fail_icmp6(env, fd, errno, "setsockopt", "IPV6_ADD_MEMBERSHIP");
  }

  Icmp6 *s = calloc(1, sizeof *s);
  if (!s) return fail_icmp6(env, fd, ENOMEM, "calloc", "icmp6 state");
  s->env = env;
  s->fd = fd;
  s->ifindex = ifindex;
  napi_value external;
  if (bf_poll_setup(env, fd, argv[3], "bootfleet:icmp6", &s->poll, &s->callback, &s->async) != 0) {
    free(s);
    close(fd);
    napi_throw_error(env, "ERR_INTERNAL", "icmp6Open: cannot set up the event-loop poll");
    return NULL;
  }
  s->poll.data = s;
  uv_poll_start(&s->poll, UV_READABLE, on_readable);
  if (napi_create_external(env, s, icmp6_finalize, NULL, &external) != napi_ok) {
    icmp6_close(s);
    s->finalized = 1;
    napi_throw_error(env, "ERR_INTERNAL", "icmp6Open: cannot create the handle");
    return NULL;
  }
  return external;
}

static Icmp6 *get_handle(napi_env env, napi_value v) {
  void *data = NULL;
  if (napi_get_value_external(env, v, &data) != napi_ok || !data) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "expected an icmp6 handle");
    return NULL;
  }
  return (Icmp6 *)data;
}

/* icmp6Send(handle, destination: string, payload: Buffer). Link-local destinations use the
 * socket's interface as scope. */
static napi_value icmp6_send(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "icmp6Send(handle, destination, payload)");
    return NULL;
  }
  Icmp6 *s = get_handle(env, argv[0]);
  if (!s) return NULL;
  if (s->closing) return bf_throw_errno(env, EBADF, "sendto", "closed icmp6 socket");
  char dst[INET6_ADDRSTRLEN];
  size_t dlen = 0;
  struct sockaddr_in6 sa;
  memset(&sa, 0, sizeof sa);
  sa.sin6_family = AF_INET6;
  sa.sin6_scope_id = s->ifindex;
  if (napi_get_value_string_utf8(env, argv[1], dst, sizeof dst, &dlen) != napi_ok ||
      inet_pton(AF_INET6, dst, &sa.sin6_addr) != 1) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "destination must be an IPv6 address without scope");
    return NULL;
  }
  void *data = NULL;
  size_t len = 0;
  if (napi_get_buffer_info(env, argv[2], &data, &len) != napi_ok) {
    napi_throw_type_error(env, "ERR_INVALID_ARG", "payload must be a Buffer");
    return NULL;
  }
  ssize_t n = sendto(s->fd, data, len, 0, (struct sockaddr *)&sa, sizeof sa);
  if (n < 0) return bf_throw_errno(env, errno, "sendto", dst);
  napi_value result;
  CHECK(napi_create_int32(env, (int32_t)n, &result));
  return result;
}

static napi_value icmp6_close_js(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) return NULL;
  Icmp6 *s = get_handle(env, argv[0]);
  if (s) icmp6_close(s);
  return NULL;
}

static napi_value init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
      {"openUdp4", NULL, open_udp4, NULL, NULL, NULL, napi_enumerable, NULL},
      {"icmp6Open", NULL, icmp6_open, NULL, NULL, NULL, napi_enumerable, NULL},
      {"icmp6Send", NULL, icmp6_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"icmp6Close", NULL, icmp6_close_js, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  tftp_fast_register(env, exports); /* native/tftp_fast.c: TFTP transfer sockets */
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
