FROM busybox
VOLUME /data
VOLUME ["/a", "/b"]
VOLUME /c /d $DIR
