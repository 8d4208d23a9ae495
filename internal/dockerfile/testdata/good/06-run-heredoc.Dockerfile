FROM busybox
RUN <<EOF
echo one
echo two
EOF
RUN <<-EOT bash
	echo tabs stripped
	EOT
RUN <<'EOF'
echo $NOT_EXPANDED
EOF
RUN cat <<A >/a && cat <<B >/b
first
A
second
B
