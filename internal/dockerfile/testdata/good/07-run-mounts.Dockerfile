FROM busybox
RUN --mount=type=cache,target=/root/.cache,id=gocache,sharing=locked,mode=0755,uid=1000,gid=1000 go build
RUN --mount=type=bind,source=.,target=/src,rw echo bind
RUN --mount=target=/ctx echo default-bind
RUN --mount=type=tmpfs,target=/tmp,size=64m echo tmpfs
RUN --mount=type=secret,id=token,required cat /run/secrets/token
RUN --mount=type=secret,target=/etc/key,mode=0400 cat /etc/key
RUN --mount=type=secret,id=api,env=API_KEY echo $API_KEY
RUN --mount=type=bind,from=builder,source=/out,target=/in ls /in
RUN --mount=type=ssh ssh-add -l
