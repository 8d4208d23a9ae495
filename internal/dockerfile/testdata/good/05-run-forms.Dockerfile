FROM busybox
RUN echo shell form
RUN ["echo", "exec", "form"]
RUN echo "quoted $HOME" 'single' \
    && echo continued
RUN []
