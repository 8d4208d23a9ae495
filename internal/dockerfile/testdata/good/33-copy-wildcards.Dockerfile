FROM busybox
COPY *.go go.* /src/
COPY dir/[a-c]?.txt /txt/
