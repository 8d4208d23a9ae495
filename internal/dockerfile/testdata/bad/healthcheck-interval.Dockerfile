FROM busybox
HEALTHCHECK --interval=1ns CMD true
