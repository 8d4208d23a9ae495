FROM busybox
ARG S=build
COPY --from=$S /a /b
