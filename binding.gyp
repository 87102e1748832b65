{
  "targets": [
    {
      "target_name": "bootfleet_net",
      "sources": ["native/bootfleet_net.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
