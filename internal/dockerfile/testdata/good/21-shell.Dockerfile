FROM busybox
SHELL ["/bin/sh", "-ec"]
RUN echo uses new shell
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
