package cli

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/hoistproject/hoist/internal/container/spec"
	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// createFlags are the flags `run` and `create` share.
type createFlags struct {
	name, workdir, user, entrypoint, network, hostname, restart, memory, cpus, runtime string
	stopSignal, pull, shmSize, cidfile, pidMode, ipcMode, utsMode, memorySwap          string
	memoryReservation, cpusetCpus, cpusetMems, platform, healthCmd, logDriver          string
	healthInterval, healthTimeout, healthStartPeriod                                   time.Duration
	healthRetries                                                                      int
	cpuPeriod, cpuQuota                                                                int64
	stopTimeout                                                                        int
	env, envFile, volumes, publish, ulimits, securityOpt, labels                       []string
	tmpfs, mounts, capAdd, capDrop, groupAdd, addHost, dns, dnsSearch, dnsOption       []string
	expose, labelFile, logOpts, devices, sysctls, volumesFrom                          []string
	domainname, cgroupParent, cgroupns, userns                                         string
	ip, macAddress                                                                     string
	networkAliases, links                                                              []string
	interactive, tty, rm, publishAll, readOnly, init, privileged, oomKillDisable       bool
	noHealthcheck, quiet                                                               bool
	trust                                                                              contentTrustFlag
	cpuShares, pidsLimit, memorySwappiness                                             int64
	oomScoreAdj                                                                        int
}

func (f *createFlags) register(fs *pflag.FlagSet) {
	fs.SetInterspersed(false)
	// -h is --hostname here (as in docker), so help has no shorthand.
	fs.Bool("help", false, "Print usage")
	fs.StringVar(&f.name, "name", "", "Assign a name to the container")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringVar(&f.entrypoint, "entrypoint", "", "Overwrite the default ENTRYPOINT of the image")
	fs.StringVar(&f.network, "network", "default", "Connect a container to a network (bridge, host, none, NAME or container:NAME)")
	fs.StringVar(&f.network, "net", "default", "Connect a container to a network")
	fs.Lookup("net").Hidden = true
	fs.StringArrayVar(&f.networkAliases, "network-alias", nil, "Add network-scoped alias for the container")
	fs.StringArrayVar(&f.networkAliases, "net-alias", nil, "Add network-scoped alias for the container")
	fs.Lookup("net-alias").Hidden = true
	fs.StringVar(&f.ip, "ip", "", "IPv4 address (e.g., 172.30.100.104)")
	fs.StringVar(&f.macAddress, "mac-address", "", "Container MAC address (e.g., 92:d0:c6:0a:29:33)")
	fs.StringArrayVar(&f.links, "link", nil, "Add link to another container")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&f.restart, "restart", "no", "Restart policy to apply when a container exits")
	fs.StringVarP(&f.memory, "memory", "m", "", "Memory limit")
	fs.StringVar(&f.cpus, "cpus", "", "Number of CPUs")
	fs.Int64VarP(&f.cpuShares, "cpu-shares", "c", 0, "CPU shares (relative weight)")
	fs.Int64Var(&f.pidsLimit, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.StringVar(&f.runtime, "runtime", "", "Runtime to use for this container (default runc)")
	fs.StringVar(&f.stopSignal, "stop-signal", "", "Signal to stop the container")
	fs.IntVar(&f.stopTimeout, "stop-timeout", -1, "Timeout (in seconds) to stop a container")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringArrayVar(&f.envFile, "env-file", nil, "Read in a file of environment variables")
	fs.StringArrayVarP(&f.volumes, "volume", "v", nil, "Bind mount a volume")
	fs.StringArrayVarP(&f.publish, "publish", "p", nil, "Publish a container's port(s) to the host")
	fs.StringArrayVar(&f.ulimits, "ulimit", nil, "Ulimit options")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "Security Options")
	fs.StringArrayVarP(&f.labels, "label", "l", nil, "Set meta data on a container")
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&f.rm, "rm", false, "Automatically remove the container when it exits")
	fs.BoolVarP(&f.publishAll, "publish-all", "P", false, "Publish all exposed ports to random ports")
	fs.BoolVar(&f.readOnly, "read-only", false, "Mount the container's root filesystem as read only")
	fs.StringVar(&f.pull, "pull", "missing", `Pull image before running ("always", "missing", "never")`)
	fs.BoolVar(&f.init, "init", false, "Run an init inside the container that forwards signals and reaps processes")
	fs.StringArrayVar(&f.tmpfs, "tmpfs", nil, "Mount a tmpfs directory (PATH[:OPTIONS])")
	fs.StringArrayVar(&f.mounts, "mount", nil, "Attach a filesystem mount to the container (type=bind|volume|tmpfs,...)")
	fs.StringArrayVar(&f.capAdd, "cap-add", nil, "Add Linux capabilities")
	fs.StringArrayVar(&f.capDrop, "cap-drop", nil, "Drop Linux capabilities")
	fs.StringArrayVar(&f.groupAdd, "group-add", nil, "Add additional groups to join")
	fs.StringVar(&f.shmSize, "shm-size", "", "Size of /dev/shm")
	fs.StringArrayVar(&f.addHost, "add-host", nil, "Add a custom host-to-IP mapping (host:ip)")
	fs.StringArrayVar(&f.dns, "dns", nil, "Set custom DNS servers")
	fs.StringArrayVar(&f.dnsSearch, "dns-search", nil, "Set custom DNS search domains")
	fs.StringArrayVar(&f.dnsOption, "dns-option", nil, "Set DNS options")
	fs.StringVar(&f.cidfile, "cidfile", "", "Write the container ID to the file")
	fs.StringArrayVar(&f.expose, "expose", nil, "Expose a port or a range of ports")
	fs.StringArrayVar(&f.labelFile, "label-file", nil, "Read in a line delimited file of labels")
	fs.BoolVar(&f.privileged, "privileged", false, "Give extended privileges to this container")
	fs.StringVar(&f.pidMode, "pid", "", "PID namespace to use (host)")
	fs.StringVar(&f.ipcMode, "ipc", "", "IPC mode to use (host, private)")
	fs.StringVar(&f.utsMode, "uts", "", "UTS namespace to use (host)")
	fs.StringVar(&f.memorySwap, "memory-swap", "", "Swap limit equal to memory plus swap: '-1' to enable unlimited swap")
	fs.StringVar(&f.memoryReservation, "memory-reservation", "", "Memory soft limit")
	fs.StringVar(&f.cpusetCpus, "cpuset-cpus", "", "CPUs in which to allow execution (0-3, 0,1)")
	fs.StringVar(&f.cpusetMems, "cpuset-mems", "", "MEMs in which to allow execution (0-3, 0,1)")
	fs.Int64Var(&f.cpuPeriod, "cpu-period", 0, "Limit CPU CFS (Completely Fair Scheduler) period")
	fs.Int64Var(&f.cpuQuota, "cpu-quota", 0, "Limit CPU CFS (Completely Fair Scheduler) quota")
	fs.BoolVar(&f.oomKillDisable, "oom-kill-disable", false, "Disable OOM Killer")
	fs.StringVar(&f.platform, "platform", os.Getenv("DOCKER_DEFAULT_PLATFORM"), "Set platform if server is multi-platform capable")
	fs.StringVar(&f.healthCmd, "health-cmd", "", "Command to run to check health")
	fs.DurationVar(&f.healthInterval, "health-interval", 0, "Time between running the check (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.healthTimeout, "health-timeout", 0, "Maximum time to allow one check to run (ms|s|m|h) (default 0s)")
	fs.DurationVar(&f.healthStartPeriod, "health-start-period", 0, "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s)")
	fs.IntVar(&f.healthRetries, "health-retries", 0, "Consecutive failures needed to report unhealthy")
	fs.BoolVar(&f.noHealthcheck, "no-healthcheck", false, "Disable any container-specified HEALTHCHECK")
	fs.StringVar(&f.logDriver, "log-driver", "", "Logging driver for the container (json-file, none)")
	fs.StringArrayVar(&f.logOpts, "log-opt", nil, "Log driver options (max-size, max-file)")
	fs.StringArrayVar(&f.devices, "device", nil, "Add a host device to the container")
	fs.StringArrayVar(&f.sysctls, "sysctl", nil, "Sysctl options")
	fs.StringArrayVar(&f.volumesFrom, "volumes-from", nil, "Mount volumes from the specified container(s)")
	fs.StringVar(&f.domainname, "domainname", "", "Container NIS domain name")
	fs.IntVar(&f.oomScoreAdj, "oom-score-adj", 0, "Tune host's OOM preferences (-1000 to 1000)")
	fs.Int64Var(&f.memorySwappiness, "memory-swappiness", -1, "Tune container memory swappiness (0 to 100)")
	fs.StringVar(&f.cgroupParent, "cgroup-parent", "", "Optional parent cgroup for the container")
	fs.StringVar(&f.cgroupns, "cgroupns", "", `Cgroup namespace to use (host|private)`)
	fs.StringVar(&f.userns, "userns", "", "User namespace to use (host)")
	fs.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the pull output")
	f.trust.register(fs)
}

// options converts the flags and IMAGE [COMMAND] [ARG...] into CreateOptions.
func (f *createFlags) options(cmd *cobra.Command, args []string) (engine.ContainerOptions, error) {
	o := engine.ContainerOptions{Name: f.name, Image: args[0]}
	if err := f.trust.check(); err != nil {
		return o, err
	}
	env, err := parseEnv(f.env, f.envFile)
	if err != nil {
		return o, err
	}
	o.Config = engine.ContainerConfig{
		Hostname: f.hostname, User: f.user, Env: env, Cmd: args[1:], WorkingDir: f.workdir,
		Tty: f.tty, OpenStdin: f.interactive, StopSignal: f.stopSignal,
	}
	if cmd.Flags().Changed("entrypoint") {
		o.Config.EntrypointSet = true
		o.Config.Entrypoint = []string{f.entrypoint}
	}
	if cmd.Flags().Changed("stop-timeout") {
		t := f.stopTimeout
		o.Config.StopTimeout = &t
	}
	labels, err := readLineFiles(f.labelFile)
	if err != nil {
		return o, err
	}
	labels = append(labels, f.labels...)
	if len(labels) > 0 {
		o.Config.Labels = map[string]string{}
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			o.Config.Labels[k] = v
		}
	}
	for _, e := range f.expose {
		ports, err := parseExpose(e)
		if err != nil {
			return o, err
		}
		if o.Config.ExposedPorts == nil {
			o.Config.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			o.Config.ExposedPorts[p] = struct{}{}
		}
	}
	hc := engine.HostConfig{
		Binds: f.volumes, NetworkMode: f.network, ReadonlyRootfs: f.readOnly, Init: f.init,
		AutoRemove: f.rm, CPUShares: f.cpuShares, PidsLimit: f.pidsLimit, SecurityOpt: f.securityOpt,
		Runtime: f.runtime, PublishAll: f.publishAll, Links: f.links,
	}
	if hc.RestartPolicy, err = engine.ParseRestartPolicy(f.restart); err != nil {
		return o, err
	}
	o.Endpoint = engine.EndpointOptions{IP: f.ip, MAC: f.macAddress, Aliases: f.networkAliases}
	if hc.Memory, err = parseBytes(f.memory); err != nil {
		return o, err
	}
	if hc.Memory > 0 && hc.Memory < 6<<20 {
		return o, errdefs.InvalidArgumentf("Minimum memory limit allowed is 6MB")
	}
	if f.cpus != "" {
		v, err := strconv.ParseFloat(f.cpus, 64)
		if err != nil || v < 0 {
			return o, errdefs.InvalidArgumentf("invalid argument %q for \"--cpus\" flag", f.cpus)
		}
		hc.NanoCPUs = int64(v * 1e9)
	}
	for _, p := range f.publish {
		pb, err := parsePort(p)
		if err != nil {
			return o, err
		}
		hc.PortBindings = append(hc.PortBindings, pb)
	}
	for _, u := range f.ulimits {
		ul, err := spec.ParseUlimit(u)
		if err != nil {
			return o, err
		}
		hc.Ulimits = append(hc.Ulimits, ul)
	}
	if err := f.hostOptions(&o, &hc); err != nil {
		return o, err
	}
	if o.Config.Healthcheck, err = f.healthcheck(); err != nil {
		return o, err
	}
	if f.rm && f.restart != "" && f.restart != "no" {
		return o, errdefs.InvalidArgumentf("conflicting options: cannot specify both --restart and --rm")
	}
	o.HostConfig = hc
	return o, nil
}

func newCreateCmd(e *env) *cobra.Command {
	var f createFlags
	c := &cobra.Command{
		Use:   "create [OPTIONS] IMAGE [COMMAND] [ARG...]",
		Short: "Create a new container",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o, err := f.options(cmd, args)
			if err != nil {
				return createFailure(err)
			}
			if err := e.engine().OpenContainers(); err != nil {
				return withStatus(125, err)
			}
			if err := checkCIDFile(f.cidfile); err != nil {
				return createFailure(err)
			}
			ctr, err := e.createContainer(cmd.Context(), o, &f)
			if err != nil {
				return createFailure(err)
			}
			if err := writeCIDFile(f.cidfile, ctr.ID); err != nil {
				return createFailure(err)
			}
			fmt.Fprintln(e.out, ctr.ID)
			return nil
		},
	}
	f.register(c.Flags())
	return c
}

// createContainer creates a container, pulling its image as --pull and
// --platform say; pull progress goes to stderr (none with -q), as docker
// run prints it.
func (e *env) createContainer(ctx context.Context, o engine.ContainerOptions, f *createFlags) (*engine.Container, error) {
	co := engine.CreateOptions{CreateOptions: o, Pull: f.pull, Platform: f.platform}
	if !f.quiet {
		co.Status, co.Progress = e.errOut, newProgress(e.errOut, false).Event
	}
	return e.engine().CreateContainer(ctx, co)
}
