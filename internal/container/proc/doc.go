// Package proc owns what hoist reads about host processes from /proc and
// /sys/fs/cgroup: a process's start time (StartTime, the guard against pid
// reuse when a record names a pid), `docker top`'s row of a process
// (TopRow), and a container's memory cgroup and its OOM-kill counter
// (ContainerMemoryCgroup, OOMKills; cgroup v1 and v2), and a container's
// resource use for `stats` (Sample: CPU, memory, block and network I/O,
// pids), and a process's parent, pid namespace and zombie children (Parent,
// PidNamespace, ZombieChildren: the monitor reaps orphans inherited from
// its container's pid namespace). It writes nothing.
package proc
