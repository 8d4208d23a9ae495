FROM busybox
ENTRYPOINT ["/bin/sh", "-c"]
CMD ["echo", "hello"]
CMD echo shell form
ENTRYPOINT []
ENTRYPOINT exec top -b
CMD []
