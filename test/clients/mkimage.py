#!/usr/bin/env python3
"""mkimage.py makes a docker-archive image (what `docker save` writes and
`ctr image import` and `docker load` read) from a rootfs tarball, without a
registry:

    mkimage.py ROOTFS.tar OUT.tar NAME:TAG [USER] [NAME:TAG USER]...

Each NAME:TAG gets its own config (USER, e.g. "65534:65534", is the image's
default user; empty for root) over the one layer, ROOTFS.tar itself.
"""
import hashlib
import io
import json
import sys
import tarfile


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def add_bytes(tar, name, data):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def main(argv):
    if len(argv) < 4:
        sys.stderr.write(__doc__)
        return 2
    rootfs, out = argv[1], argv[2]
    rest = argv[3:]
    images = []
    while rest:
        name = rest[0]
        user = rest[1] if len(rest) > 1 else ""
        images.append((name, user))
        rest = rest[2:]
    diff_id = sha256_file(rootfs)
    layer = diff_id + "/layer.tar"
    manifest = []
    with tarfile.open(out, "w") as tar:
        tar.add(rootfs, arcname=layer)
        for name, user in images:
            config = {
                "architecture": "amd64",
                "os": "linux",
                "config": {
                    "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
                    "Cmd": ["/bin/sh"],
                    "User": user,
                },
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + diff_id]},
                "history": [{"created_by": "rampart test/clients/mkimage.py"}],
            }
            raw = json.dumps(config, sort_keys=True).encode()
            cfg = hashlib.sha256(raw).hexdigest() + ".json"
            add_bytes(tar, cfg, raw)
            manifest.append({"Config": cfg, "RepoTags": [name], "Layers": [layer]})
        add_bytes(tar, "manifest.json", json.dumps(manifest).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
