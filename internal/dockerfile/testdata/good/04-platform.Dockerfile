FROM --platform=$BUILDPLATFORM busybox AS b
FROM --platform=linux/arm64 busybox
