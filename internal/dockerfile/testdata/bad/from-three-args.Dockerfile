FROM busybox AS
