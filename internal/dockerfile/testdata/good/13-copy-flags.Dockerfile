FROM busybox AS a
FROM busybox
COPY --from=a --chown=app:app --chmod=755 --link /x /y
COPY --parents ./a/b/c ./d /dst/
COPY --exclude=*.tmp --exclude=.git . /app
COPY ["with space", "/dest dir/"]
COPY $DIR/file ${DIR}/
