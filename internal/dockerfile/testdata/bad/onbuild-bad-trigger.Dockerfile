FROM busybox
ONBUILD COPY onlyone
