FROM busybox
ADD file.tar.gz /opt/
ADD --chown=1000:1000 --chmod=0644 a b /dest/
ADD --checksum=sha256:24454f830cdb571e2c4ad15481119c43b3cafd48dd869a9b2945d1036d1dc68d https://example.com/x.tar /x.tar
ADD --keep-git-dir=true --link https://github.com/moby/buildkit.git /bk
ADD --exclude=*.md --exclude=docs ["src dir", "/app/"]
ADD --unpack=false arch.tar /raw/
