FROM busybox
ONBUILD RUN echo triggered
ONBUILD COPY . /app
ONBUILD ENV A=$V
ONBUILD RUN <<EOF
echo heredoc trigger
EOF
