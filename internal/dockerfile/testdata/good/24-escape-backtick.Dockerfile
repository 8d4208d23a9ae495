# escape=`
FROM busybox
RUN echo one `
    two
COPY a\b c\d
ENV P=C:\path W=a`$V
