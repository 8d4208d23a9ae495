FROM busybox
RUN --network=none echo offline
RUN --network=host echo host
RUN --network=default --security=sandbox echo default
