# a comment
FROM busybox

# comment between instructions
RUN echo a \
# comment inside a continuation
    && echo b \
    \
    && echo c
  run   echo lower case   
