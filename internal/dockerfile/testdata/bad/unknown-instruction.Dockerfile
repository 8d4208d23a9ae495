FROM busybox
RUN true
RUN true
RUN true
RUN true
RUN true
FORM busybox
