// Package container owns container lifecycle: creation from an image, OCI
// runtime spec generation, runtime (runc/crun) invocation, the per-container
// monitor, logs and state. It performs no mounts itself: every mount goes
// through internal/mount.
//
// The image side is reached only through the narrow ImageResolver interface
// (image config + unpacked layer dirs), so the image store can be wired in by
// the caller.
//
// # Subpackages
//
// Each concept a container is made of lives in a package of its own that
// knows nothing of container records (none imports this package; they get
// plain data and small interfaces):
//
//	spec/      the OCI runtime spec: docker's defaults, --ulimit, --security-opt,
//	           USER resolution in /etc/passwd, Generate; the --init process (RunInit)
//	runtime/   invoking runc/crun (state root, the crun cgroup2 trick, state,
//	           error log, exit codes, the console socket)
//	network/   the user-mode network: netns + slirp4netns, port forwarding,
//	           hosts/hostname/resolv.conf, free host ports
//	attach/    the attach protocol between the monitor (Server) and clients (Dial)
//	logfile/   docker's json-file log format: writing and rotating, `docker logs` reading
//	health/    healthchecks: merging image and --health-* settings, the check loop
//	volume/    -v parsing, volumes/<name>/_data, copy-up of image content, `volume` verbs
//	cp/        `docker cp` tar streams in and out of a root filesystem
//	names/     container names: docker's rule, generated names, container-names/ reservations
//	proc/      /proc and cgroup facts: start times, top rows, OOM kills, `stats` samples
//	inspect/   `docker container inspect`'s object (every docker 20.10 field, in its order)
//	unixsock/  unix sockets in directories with paths too long for sockaddr_un
//
// This package keeps the records (store.go), the lifecycle (create, start,
// ops), the monitor that holds a running container, rootfs mounting
// (copyfs.go, fs.go), exec and commit, and records what happens to
// containers in the root's event log (package events).
//
// # On-disk layout (under the hoist root)
//
//	containers/<id>/              one directory per container (<id>: 64 hex)
//	    container.json            the Container record (config, host config, image, lower dirs);
//	                              written once at create, rewritten atomically on rename
//	    state.json                State (status, pids, exit code, times, health), written atomically
//	                              (temp file + rename) by the monitor and the CLI; an --rm
//	                              container's container.json is not fsynced (a torn one is a
//	                              crash remnant, removed by prune)
//	    lock                      flock(2) file serialising state changes across processes
//	    upper/ work/              the overlay upper and work dirs (the container's changes);
//	                              upper/ is 0755: its mode is that of the container's /
//	                              (docker's), whatever the image's "./" entry says
//	    rootfs/                   the merged mount point (mounted only while running)
//	    bundle/config.json        the OCI runtime spec given to the runtime
//	    container-json.log        logs in docker's json-file format (package logfile), one JSON
//	                              object per line: {"log":"...","stream":"stdout|stderr","time":"RFC3339Nano"};
//	                              container-json.log.1, .2, ... older ones with --log-opt max-size/max-file
//	    hosts hostname resolv.conf  bind-mounted over /etc/... in the container, so never committed
//	    attach.sock               the monitor's attach socket (exists while a monitor runs;
//	                              package attach)
//	    console.sock              the runtime's console socket (-t, during start only)
//	    netns                     the persistent network namespace (bridge mode, while running;
//	                              package network)
//	    slirp.sock                slirp4netns's API socket (bridge mode, while running)
//	    runtime.log               the runtime's own log (errors from create/start)
//	    monitor.log               the monitor's own stderr (its errors; normally empty)
//	    init/                     the init layer: empty mount points (/etc/hosts, ...) on top
//	                              of the image's layers, so they never show in diff/commit
//	    init.pid                  the container's init pid as the runtime wrote it
//	    manually-stopped          marker: the user stopped or killed it since its last start
//	                              (docker's HasBeenManuallyStopped; restart.go)
//	    rootfs.copied             marker: rootfs/ holds a plain copy (Storage "copy", no overlayfs)
//	container-names/<name>        one file per container name, holding the ID; created with
//	                              O_EXCL so names are unique across concurrent hoist processes
//	                              (package names)
//	volumes/<name>/_data          named and anonymous volumes (-v NAME:/path, image VOLUMEs;
//	                              package volume)
//	runtime/<runtime-name>/       the runtime's --root state directory
//
// # Processes
//
// A container's lifetime is held by a monitor: hoist re-executing itself
// ("hoist container-monitor ID"), started in its own session so that it
// outlives the command that started it (run starts it before creating the
// container, "container-monitor -", and tells it the ID first). The starter mounts the rootfs, writes
// the bundle and brings up the bridge network (netns + slirp4netns, its pid
// recorded in the state at once) while the monitor starts up (the new
// process is the longest step before the runtime), and hands the network
// over with Start; the monitor runs "runtime run --detach" as a child
// subreaper, waits for the container's init (that process alone, so that
// the healthcheck probes it runs with "runtime exec" keep their statuses;
// but it reaps the zombies it inherits from the container's pid namespace,
// a probe's process whose runtime died, without which the namespace's init
// never finishes exiting), copies its output to the log file and to attached clients (attach.sock),
// runs the healthcheck (State.Health), records the exit code and finish
// time, then unmounts and cleans up (-t: "create", size the pty, "start").
// If the monitor itself
// is killed, readers of the state reconcile it against the runtime's state
// and the liveness of the monitor (pid + start time): a process the runtime
// still runs stays "running" (unmonitored), otherwise the container is marked
// exited (255, as docker does when it loses track) and its mounts and
// runtime record are removed.
//
// An exec (exec.go) runs "runtime exec" from the calling process: in the
// foreground with the client's stdio, or --detach (exec -d: the process's
// stdio is /dev/null, as docker's, and exec returns once it runs). With a
// terminal the runtime detaches too, handing the pty over a console socket
// and leaving the process to be reparented to a subreaper, the only one
// that gets its exit status. That is the exec monitor: hoist re-executing
// itself ("exec-monitor", RunExecMonitor), a child subreaper that runs the
// runtime, reaps every child it gets until the exec's process exits, and
// exits with its status. Exec never makes its caller a subreaper: a
// long-lived one (hoist serve) would inherit every process orphaned below
// it from then on, and could not reap them (a wait for any child takes the
// status of a command it is itself waiting for).
//
// # Restart policies (restart.go)
//
// --restart (docker's four policies) is applied by the monitor itself: when
// the process exits and the policy (re-read from the record, so update
// --restart counts) says so, the state becomes "restarting" (RestartCount
// incremented; attached clients and waiters get the exit code), the
// monitor waits docker's back-off (100 ms doubling up to a minute, back to
// 100 ms after a run of 10 s), then starts the process again in the same
// rootfs mount and network. A "restarting" container counts as running
// (State.Running), as docker's. A user's stop, kill or rm -f first marks
// the container (manually-stopped, under its lock, which the monitor also
// holds while it restarts the process) and wakes a waiting monitor
// (SIGUSR1 through a pidfd): no policy restarts it then; the next start
// by the user removes the mark and resets RestartCount. Nothing restarts a
// container whose monitor is gone: Restore (`hoist system restore`, run
// at boot by contrib/systemd/hoist-restore.service) applies docker's rule
// for a daemon's start to those containers.
//
// The starting command and the monitor talk over a socketpair (the
// monitor's fd 3): the monitor prepares its sockets and says Ready (a
// starter that fails before Start stops its network and closes its end;
// the monitor then unmounts the rootfs, stops the network a killed starter
// left, and exits); the starter attaches its streams if any (registered
// before it goes on: package attach) and says Start
// (with the terminal size); the monitor starts the process and says Started
// or the error with docker's exit code (125/126/127). Attached clients
// (run without -d, start -a, attach, wait) then get framed stdout/stderr and
// a final exit-code frame (package attach).
//
// # Root filesystems
//
// Normally an overlay: lowers are the init layer then the image's layers,
// upper/ and work/ are the container's; --rm containers mount it "volatile"
// (no sync of the upper filesystem at unmount: their changes are thrown
// away). Bind mounts (-v, --mount type=bind) may be of a single file: -v
// creates a missing host path as a directory (docker's rule), --mount
// refuses it, and the runtime makes the mount point inside the rootfs
// (symlinks resolved in it). The container's directory is 0710, as
// docker's since CVE-2021-41091: no other host user reaches into the
// rootfs. Where overlayfs cannot be mounted (or with Options.Storage "copy")
// the layers are applied once into rootfs/ instead, through the archive
// package (whiteouts honoured); such a container has no diff or commit.
//
// A running container's files may change under cp, export, diff and
// commit (a directory swapped for a symlink to a host path, CVE-2018-15664).
// None of them looks a container path up by host path name: cp resolves
// inside the rootfs from a handle on it (package cp, fsutil.OpenInRoot);
// export, diff and commit walk the merged rootfs or the upper dir through
// directory descriptors with O_NOFOLLOW (package archive), and diff asks
// the read-only stack whether a path existed below the same way. commit
// also pauses a running container while it reads (-p, the default, as
// docker); cp, export and diff do not pause it.
//
// In rootless hoist (package rootless) the same code runs as root of the
// user's namespace; create and update refuse cgroup limits (--memory,
// --cpus, --pids-limit, ...) unless a cgroup v2 hierarchy is delegated
// (rootless.CheckLimits), and spec.AdaptRootless drops the cgroup path.
//
// # Locking
//
// containers/<id>/lock (flock) orders every change of a container across
// processes: create holds it until the record is written (a directory
// without a record and a free lock is a crash's remnant); start holds it
// until the process runs (state "running"); run holds it from create to
// running (CreateOptions.Hold, taken over by StartCreated), so no other
// process sees its container created and idle; rm takes it and re-reads
// the state (a container started meanwhile is not removed); container
// prune only try-locks: a container whose lock is held is being created,
// started or removed and is skipped, and the state is re-read under the
// lock before removal. The monitor writes the state of a running container
// without the lock (nobody else changes a running container's state but
// through it). Images a container uses are held by its record (ImageUsers);
// between the image lookup and the record, the caller's metadata lease
// holds them (package metadata).
//
// Container records are plain JSON files written atomically, not rows of
// the metadata database: each is owned by one container's lock and its
// monitor, a process that must not hold the database for the container's
// lifetime. The image store learns which images and layers containers use
// through Manager.ImageUsers.
package container
