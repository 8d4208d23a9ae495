# docker-py (the Docker SDK for Python) against the engine at DOCKER_HOST:
# each step prints "OK <step>"; any failure is a traceback and exit 1.
# Run by TestAPIPythonSDK (api_sdk_test.go) with busybox:latest in the
# store, inside a network namespace of the test's own.
import datetime
import faulthandler
import io
import os
import tarfile
import tempfile

import docker
from docker.errors import APIError, BuildError, ContainerError, ImageNotFound, NotFound


def ok(step):
    print("OK", step, flush=True)


def expect(cond, what):
    if not cond:
        raise AssertionError(what)


def fails(f, kind, status, what):
    """f() raises the error kind with the HTTP status; it is returned."""
    try:
        f()
    except kind as e:
        expect(e.status_code == status, "%s: %r %r" % (what, e.status_code, e))
        return e
    raise AssertionError(what + " succeeded")


# DOCKER_API_VERSION: the version to speak (else the server's, negotiated)
# A step that hangs (a stream that never ends) fails with its traceback.
faulthandler.dump_traceback_later(120, exit=True)

client = docker.from_env(timeout=120, version=os.environ.get("DOCKER_API_VERSION", "auto"))
print("docker-py", docker.__version__, "API", client.api.api_version, flush=True)

# version, ping, info
v = client.version()
expect(v["ApiVersion"] and v["Os"] == "linux" and v["Components"], "version: %r" % v)
expect(client.ping() is True, "ping")
info = client.info()
expect(info["Images"] >= 1 and info["OSType"] == "linux", "info: %r" % info)
ok("system")

# images: list, get, tag
images = client.images.list()
expect(any("busybox:latest" in i.tags for i in images), "images.list: %r" % images)
bb = client.images.get("busybox")
expect(bb.id.startswith("sha256:") and "busybox:latest" in bb.tags, "images.get: %r" % bb.attrs)
expect(bb.tag("sdk/tagged", "v1") is True, "tag")
expect(client.images.get("sdk/tagged:v1").id == bb.id, "the tag's image")
expect([i.id for i in client.images.list(name="sdk/tagged")] == [bb.id], "images.list(name=)")
ok("images")

# a detached container whose loop prints a line until /tmp/stop exists
since = datetime.datetime.now() - datetime.timedelta(seconds=1)
loop = "i=0; while [ ! -e /tmp/stop ]; do echo tick $i; i=$((i+1)); sleep 0.1; done; echo bye; exit 7"
c = client.containers.run("busybox", ["sh", "-c", loop], detach=True, name="pyloop", labels={"sdk": "py"})
loop_id = c.id
expect(c.status == "created", "run(detach) status %r" % c.status)
c.reload()
expect(c.status == "running" and c.name == "pyloop" and c.labels == {"sdk": "py"}, "reload: %r" % c.attrs["State"])
expect([x.id for x in client.containers.list(filters={"label": "sdk=py"})] == [c.id], "containers.list")

logs = c.logs(stream=True)
for line in logs:
    if b"tick" in line:
        break
else:
    raise AssertionError("the log stream ended before a tick")
logs.close()
ok("logs stream")

r = c.exec_run(["sh", "-c", "echo out; echo err >&2; exit 3"])
expect(r.exit_code == 3 and sorted(r.output.splitlines()) == [b"err", b"out"], "exec_run: %r" % (r,))
r = c.exec_run(["sh", "-c", "echo out; echo err >&2"], demux=True)
expect(r.exit_code == 0 and r.output == (b"out\n", b"err\n"), "exec_run demux: %r" % (r,))
r = c.exec_run("cat /etc/hostname", stderr=False)
expect(r.exit_code == 0 and r.output.strip() == c.id[:12].encode(), "exec_run hostname: %r" % (r,))
r = c.exec_run(["pwd"], workdir="/tmp", environment={"A": "b"})
expect(r.output == b"/tmp\n", "exec_run workdir: %r" % (r,))
ok("exec_run")

buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as tf:
    data = b"from python\n"
    ti = tarfile.TarInfo("hello.txt")
    ti.size, ti.mode = len(data), 0o640
    tf.addfile(ti, io.BytesIO(data))
expect(c.put_archive("/tmp", buf.getvalue()) is True, "put_archive")
chunks, stat = c.get_archive("/tmp/hello.txt")
expect(stat["name"] == "hello.txt" and stat["size"] == 12, "get_archive stat: %r" % stat)
with tarfile.open(fileobj=io.BytesIO(b"".join(chunks))) as tf:
    m = tf.getmember("hello.txt")
    expect(tf.extractfile(m).read() == b"from python\n" and m.mode & 0o777 == 0o640, "get_archive: %r" % m)
fails(lambda: c.get_archive("/nosuch"), NotFound, 404, "get_archive of a missing path")
ok("archive")

st = c.stats(stream=False)
expect(st["name"] == "/pyloop" and "cpu_stats" in st and st["memory_stats"]["usage"] > 0, "stats: %r" % st)
expect(st["pids_stats"]["current"] >= 1, "stats pids: %r" % st["pids_stats"])
ok("stats")

top = c.top()
expect("PID" in top["Titles"] and any("sh -c" in " ".join(p) for p in top["Processes"]), "top: %r" % top)
ok("top")

# a conflict: the name in use, and rm of a running container
fails(lambda: client.containers.create("busybox", "true", name="pyloop"), APIError, 409, "create with a name in use")
fails(c.remove, APIError, 409, "remove of a running container")
ok("conflict")

expect(c.exec_run("touch /tmp/stop").exit_code == 0, "touch /tmp/stop")
res = c.wait(timeout=60)
expect(res["StatusCode"] == 7 and not res.get("Error"), "wait: %r" % res)
out = c.logs()
expect(out.startswith(b"tick 0\n") and out.endswith(b"bye\n"), "logs: %r" % out[-40:])
c.reload()
expect(c.status == "exited" and c.attrs["State"]["ExitCode"] == 7, "after wait: %r" % c.attrs["State"])
c.remove()
fails(lambda: client.containers.get("pyloop"), NotFound, 404, "get after remove")
ok("wait remove")

# run without detach: its output, removed; a failure is ContainerError
out = client.containers.run("busybox", ["sh", "-c", "echo hello; echo oops >&2"], remove=True)
expect(out == b"hello\n", "run: %r" % out)
out = client.containers.run("busybox", ["sh", "-c", "echo hello; echo oops >&2"], stderr=True, remove=True)
expect(sorted(out.splitlines()) == [b"hello", b"oops"], "run with stderr: %r" % out)
try:
    client.containers.run("busybox", ["sh", "-c", "echo bad >&2; exit 3"], remove=True)
    raise AssertionError("run of a failing command")
except ContainerError as e:
    expect(e.exit_status == 3 and e.stderr == b"bad\n", "ContainerError: %r %r" % (e.exit_status, e.stderr))
expect(client.containers.list(all=True) == [], "run(remove=True) left %r" % client.containers.list(all=True))
ok("run")

# a classic build: its context a directory, build args and labels
ctx = tempfile.mkdtemp()
with open(os.path.join(ctx, "Dockerfile"), "w") as f:
    f.write('FROM busybox\nARG X=def\nCOPY f.txt /f.txt\nRUN echo "x=$X" >> /f.txt\nLABEL built=yes\nCMD ["cat", "/f.txt"]\n')
with open(os.path.join(ctx, "f.txt"), "w") as f:
    f.write("from context\n")
img, log = client.images.build(path=ctx, tag="pybuilt:1", buildargs={"X": "given"}, labels={"by": "py"}, rm=True)
log = list(log)
streamed = "".join(m.get("stream", "") for m in log)
expect(img.id.startswith("sha256:") and "pybuilt:1" in img.tags, "build: %r %r" % (img.attrs, log))
expect("Successfully built " + img.short_id[7:] in streamed, "build log: %r" % streamed)
expect(img.labels == {"built": "yes", "by": "py"}, "build labels: %r" % img.labels)
out = client.containers.run("pybuilt:1", remove=True)
expect(out == b"from context\nx=given\n", "run of the build: %r" % out)
# a Dockerfile alone (fileobj): its failing RUN is BuildError
try:
    client.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN echo failing; exit 4\n"), tag="pybad:1")
    raise AssertionError("a failing build")
except BuildError as e:
    msgs = [m for m in e.build_log]
    expect("returned a non-zero code: 4" in e.msg, "BuildError: %r %r" % (e.msg, msgs))
ok("build")

# volumes
vol = client.volumes.create(name="pyvol", labels={"sdk": "py"})
expect(vol.name == "pyvol" and vol.attrs["Driver"] == "local", "volumes.create: %r" % vol.attrs)
expect([x.name for x in client.volumes.list(filters={"label": "sdk=py"})] == ["pyvol"], "volumes.list")
expect(client.volumes.get("pyvol").attrs["Labels"] == {"sdk": "py"}, "volumes.get")
out = client.containers.run("busybox", ["sh", "-c", "echo kept > /v/f; cat /v/f"], volumes={"pyvol": {"bind": "/v", "mode": "rw"}}, remove=True)
expect(out == b"kept\n", "run with the volume: %r" % out)
vol.remove()
fails(lambda: client.volumes.get("pyvol"), NotFound, 404, "volume after remove")
ok("volumes")

# networks
net = client.networks.create("pynet", driver="bridge", labels={"sdk": "py"})
expect(net.name == "pynet" and len(net.id) == 64, "networks.create: %r" % net.attrs)
expect([n.name for n in client.networks.list(names=["pynet"])] == ["pynet"], "networks.list")
srv = client.containers.run("busybox", ["sleep", "1000"], detach=True, name="pysrv")
net.connect(srv, aliases=["web"])
srv.reload()
expect("pynet" in srv.attrs["NetworkSettings"]["Networks"], "connect: %r" % srv.attrs["NetworkSettings"]["Networks"])
net.reload()
expect(srv.id in net.attrs["Containers"], "network containers: %r" % net.attrs["Containers"])
out = client.containers.run("busybox", ["sh", "-c", "ping -c1 -W5 web >/dev/null && echo reached"], network="pynet", remove=True)
expect(out == b"reached\n", "ping web on pynet: %r" % out)
net.disconnect(srv)
srv.reload()
expect("pynet" not in srv.attrs["NetworkSettings"]["Networks"], "disconnect")
srv.remove(force=True)
net.remove()
fails(lambda: client.networks.get("pynet"), NotFound, 404, "network after remove")
ok("networks")

# events: the loop container's, between since and until
until = datetime.datetime.now() + datetime.timedelta(seconds=1)
evs = list(client.events(since=since, until=until, decode=True, filters={"type": "container", "container": loop_id}))
actions = [e["Action"] for e in evs]
for a in ["create", "start", "die", "destroy"]:
    expect(a in actions, "events: no %s in %r" % (a, actions))
expect(all(e["Actor"]["Attributes"].get("name") == "pyloop" for e in evs), "events of another: %r" % evs)
expect(actions.index("create") < actions.index("start") < actions.index("die") < actions.index("destroy"), "order: %r" % actions)
ok("events")

# a running container's other verbs: rename, pause, attach with its past
# logs, exec with stdin on its socket, diff, commit, logs' tail, restart
c = client.containers.create("busybox", ["sh", "-c", "echo first; exec sleep 1000"], name="pyextra")
c.start()
c.rename("pyextra2")
c.reload()
expect(c.name == "pyextra2", "rename: %r" % c.name)
c.pause()
c.reload()
expect(c.status == "paused", "pause: %r" % c.status)
c.unpause()
c.reload()
expect(c.status == "running", "unpause: %r" % c.status)
for line in c.logs(stream=True):
    break
att = c.attach(stdout=True, stderr=True, stream=True, logs=True)
expect(next(att) == b"first\n", "attach with logs")
c.exec_run(["sh", "-c", "echo second > /proc/1/fd/1"])
expect(next(att) == b"second\n", "attach stream")
att.close()
ex = c.exec_run(["sh", "-c", "cat > /tmp/in.txt; echo got $(wc -c < /tmp/in.txt)"], stdin=True, socket=True)
sock = ex.output
raw = getattr(sock, "_sock", sock)
raw.sendall(b"twelve bytes")
raw.shutdown(1)  # SHUT_WR: the exec's stdin ends
got = b""
while True:
    chunk = raw.recv(4096)
    if not chunk:
        break
    got += chunk
sock.close()
expect(got.endswith(b"got 12\n") and got[0] == 1, "exec socket: %r" % got)
changes = {(d["Path"], d["Kind"]) for d in c.diff()}
expect(("/tmp/in.txt", 1) in changes, "diff: %r" % changes)
img = c.commit("pycommit", "1", changes=['CMD ["cat", "/tmp/in.txt"]'], message="by py")
expect("pycommit:1" in img.tags and img.attrs["Comment"] == "by py", "commit: %r" % img.attrs)
out = client.containers.run("pycommit:1", remove=True)
expect(out == b"twelve bytes", "run of the commit: %r" % out)
logs = c.logs(tail=1, timestamps=True)
expect(logs.endswith(b" second\n") and logs.count(b"\n") == 1, "logs tail timestamps: %r" % logs)
c.restart(timeout=1)
c.reload()
expect(c.status == "running" and c.attrs["RestartCount"] == 0, "restart: %r" % c.attrs["State"])
c.remove(force=True)
expect(client.containers.prune()["ContainersDeleted"] in (None, []), "containers.prune")
ok("container verbs")

# image history, save and load, prune; disk usage
hist = client.images.get("pycommit:1").history()
expect(len(hist) == 2 and hist[0]["Comment"] == "by py", "history: %r" % hist)
data = b"".join(client.images.get("pycommit:1").save(named=True))
client.images.remove("pycommit:1")
loaded = client.images.load(data)
expect([i.tags for i in loaded] == [["pycommit:1"]], "load: %r" % loaded)
df = client.df()
expect(len(df["Images"]) >= 2 and df["LayersSize"] > 0, "df: %r" % df)
client.images.remove("pycommit:1")
pr = client.images.prune(filters={"dangling": True})
expect("SpaceReclaimed" in pr, "images.prune: %r" % pr)
ok("image verbs")

# push and pull with the registry at REGISTRY
reg = os.environ.get("REGISTRY")
if reg:
    ref = reg + "/py/bb"
    expect(client.images.get("busybox").tag(ref, "1"), "tag for the push")
    msgs = list(client.images.push(ref, tag="1", stream=True, decode=True))
    expect(any("digest: sha256:" in m.get("status", "") for m in msgs) and not any("error" in m for m in msgs), "push: %r" % msgs)
    client.images.remove(ref + ":1")
    pulled = client.images.pull(ref, tag="1")
    expect(pulled.id == client.images.get("busybox").id and ref + ":1" in pulled.tags, "pull: %r" % pulled.attrs)
    e = fails(lambda: client.images.pull(reg + "/py/nosuch", tag="1"), NotFound, 404, "pull of a missing image")
    expect("not found" in str(e), "pull nosuch: %r" % e)
    client.images.remove(ref + ":1")
    ok("push pull")

# missing objects
fails(lambda: client.containers.get("nosuch"), NotFound, 404, "get of a missing container")
fails(lambda: client.images.get("nosuch:1"), ImageNotFound, 404, "get of a missing image")
fails(lambda: client.volumes.get("nosuch"), NotFound, 404, "get of a missing volume")
fails(lambda: client.networks.get("nosuch"), NotFound, 404, "get of a missing network")
fails(lambda: client.containers.create("nosuch:1", "true"), ImageNotFound, 404, "create of a missing image")
ok("not found")

client.images.remove("sdk/tagged:v1")
client.images.remove("pybuilt:1")
client.close()
ok("done")
