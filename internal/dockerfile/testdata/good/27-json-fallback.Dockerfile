FROM busybox
CMD [echo, not, json]
RUN ['single', 'quotes']
VOLUME [/data]
