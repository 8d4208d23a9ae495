FROM busybox
ENV A= B="" C=''
LABEL empty=
ARG X=
