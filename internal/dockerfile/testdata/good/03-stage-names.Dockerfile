FROM busybox AS Build
RUN echo build > /out
FROM busybox as final
COPY --from=build /out /out
COPY --from=0 /out /out0
