FROM busybox
RUN --mount=type=secret,id=a,from=x true
