FROM busybox
RUN echo windows \
    line
ENV A=1
