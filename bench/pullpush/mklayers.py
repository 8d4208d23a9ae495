#!/usr/bin/env python3
"""mklayers.py OUT.tar [LAYERS] [MB_PER_LAYER]: writes a docker-archive (docker
save format) of an image with LAYERS layers (default 10), each holding
MB_PER_LAYER (default 40) MB of hex text made from random bytes in 2 MB files:
compressible about 2:1, so each gzip layer is about MB_PER_LAYER/2 MB.
The image is named bench/tenlayer:latest."""
import hashlib
import io
import json
import os
import sys
import tarfile


def layer_tar(i, mb):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        d = tarfile.TarInfo("layer%d" % i)
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        tf.addfile(d)
        for f in range(mb // 2):
            data = os.urandom(1 << 20).hex().encode()
            ti = tarfile.TarInfo("layer%d/f%03d.txt" % (i, f))
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


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
            data = layer_tar(i, mb)
            h = hashlib.sha256(data).hexdigest()
            diff_ids.append("sha256:" + h)
            paths.append("%s/layer.tar" % h)
            add(paths[-1], data)
        config = json.dumps({
            "architecture": "amd64", "os": "linux",
            "config": {"Cmd": ["/bin/sh"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created_by": "layer %d" % i} for i in range(n)],
        }, separators=(",", ":")).encode()
        cfg_name = hashlib.sha256(config).hexdigest() + ".json"
        add(cfg_name, config)
        manifest = [{"Config": cfg_name, "RepoTags": ["bench/tenlayer:latest"], "Layers": paths}]
        add("manifest.json", json.dumps(manifest).encode())
    os.rename(tmp, out)


if __name__ == "__main__":
    main()
