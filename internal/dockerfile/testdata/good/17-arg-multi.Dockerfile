FROM busybox
ARG A B=2 C="three 3" D=$B
ARG E=${A:-none}
