{
  "targets": [
    {
      "target_name": "bootfleet_net",
      "sources": ["native/bootfleet_net.c", "native/tftp_fast.c", "native/errors.c", "native/poll.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
