FROM busybox
ENV A=1 B="two words" C=three\ words
ENV LEGACY value with   spaces
ENV D=$V E=${V}x F=${UNSET:-default} G=${V:+alt} H=${EMPTY-dash} I=${EMPTY:-colondash} J=${UNSET+plus}
ENV ESC=\$V SQ='$V' DQ="$V"
