#!/usr/bin/env python3
"""mklayers.py OUT.tar [LAYERS] [MB_PER_LAYER]: writes a docker-archive (docker
save format) of an image with LAYERS layers (default 10), each holding
MB_PER_LAYER (default 40) MB of hex text made from random bytes in 2 MB files:
compressible about 2:1, so each gzip layer is about MB_PER_LAYER/2 MB.
The image is named bench/tenlayer:latest (or NAME, the fourth argument)."""
import hashlib
import io
import json
import os
import sys
import tarfile


def layer_tar(path, i, mb):
    """Writes layer i to path; returns its diffID (hex)."""
    with open(path, "wb") as f:
        with tarfile.open(fileobj=f, mode="w", format=tarfile.PAX_FORMAT) as tf:
            d = tarfile.TarInfo("layer%d" % i)
            d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
            tf.addfile(d)
            for n in range(max(1, mb // 2)):
                data = os.urandom(1 << 20).hex().encode()
                ti = tarfile.TarInfo("layer%d/f%04d.txt" % (i, n))
                ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
                tf.addfile(ti, io.BytesIO(data))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def main():
    out = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    mb = int(sys.argv[3]) if len(sys.argv) > 3 else 40
    tmp = out + ".tmp"
    diff_ids, paths = [], []
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tf:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))

        for i in range(n):
            lp = tmp + ".layer"
            h = layer_tar(lp, i, mb)
            diff_ids.append("sha256:" + h)
            paths.append("%s/layer.tar" % h)
            tf.add(lp, arcname=paths[-1], filter=lambda ti: (setattr(ti, "mtime", 0), ti)[1])
            os.remove(lp)
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "layer %d" % i} for i in range(n)],
        }, separators=(",", ":")).encode()
        cfg_name = hashlib.sha256(config).hexdigest() + ".json"
        add(cfg_name, config)
        tag = sys.argv[4] if len(sys.argv) > 4 else "bench/tenlayer:latest"
        manifest = [{"Config": cfg_name, "RepoTags": [tag], "Layers": paths}]
        add("manifest.json", json.dumps(manifest).encode())
    os.rename(tmp, out)


if __name__ == "__main__":
    main()
