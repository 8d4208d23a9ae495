FROM busybox
ARG =x
