FROM busybox
# comment
ENV =value
