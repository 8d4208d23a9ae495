FROM busybox
HEALTHCHECK NONE
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --start-interval=1s --retries=3 CMD wget -q -O- http://localhost/ || exit 1
HEALTHCHECK CMD ["/bin/check", "--fast"]
HEALTHCHECK --interval=0s CMD true
