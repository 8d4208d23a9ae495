FROM busybox
ENV A=$ B=$$ C=${V}$ D=a$1b E=price\$5
WORKDIR /${V}
