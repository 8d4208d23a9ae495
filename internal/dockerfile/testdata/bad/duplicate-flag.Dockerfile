FROM busybox
COPY --chown=a --chown=b /a /b
