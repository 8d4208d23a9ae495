ARG BASE=busybox
ARG TAG
ARG A=1 B=2 C
FROM ${BASE}:${TAG:-latest}
ARG A
RUN echo $A
