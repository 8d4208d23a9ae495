package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/hoistproject/hoist/internal/network"
	"github.com/hoistproject/hoist/internal/testutil"
)

// inNetNS runs the test name inside a network namespace of its own: the
// test binary re-executed under `unshare --net` (HOIST_TEST_NETNS=1, with
// the bridge transport), with loopback up. It returns true in the
// namespace, where the test goes on; false outside, where the re-executed
// test's result is the test's.
func inNetNS(t *testing.T, name string) bool {
	t.Helper()
	if os.Getenv("HOIST_TEST_NETNS") != "1" {
		ctrRoot(t) // skips without root or runc
		unshare, err := exec.LookPath("unshare")
		if err != nil {
			t.Skip("unshare (util-linux) not installed")
		}
		bin := hoistBinary(t)
		args := []string{"--net", "--", os.Args[0], "-test.run", "^" + name + "$", "-test.count=1", "-test.timeout=10m"}
		if testing.Verbose() {
			args = append(args, "-test.v")
		}
		cmd := exec.Command(unshare, args...)
		cmd.Env = append(os.Environ(), "HOIST_TEST_NETNS=1", "HOIST_BIN="+bin, "HOIST_NETWORK_TRANSPORT=bridge")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("%s in its own network namespace failed: %v", name, err)
		}
		return false
	}
	lo, err := netlink.LinkByName("lo")
	if err != nil || netlink.LinkSetUp(lo) != nil {
		t.Fatalf("loopback: %v", err)
	}
	return true
}

// shGet defines the shell function get: get HOST [PORT] prints the
// body's last line of GET / (busybox wget crashes in Debian's static
// busybox: nc does the request).
const shGet = `get() { r=$(printf 'GET / HTTP/1.0\r\n\r\n' | nc -w 2 $1 ${2:-80} 2>/dev/null | tail -n1); [ -n "$r" ] && echo "$r"; }; `

// TestNetworks runs the network tests inside a network namespace of its
// own (inNetNS). Nothing touches the host's interfaces or rules; traffic stays among
// the test's containers, a dummy interface of the namespace and 127.0.0.1.
func TestNetworks(t *testing.T) {
	if !inNetNS(t, "TestNetworks") {
		return
	}
	// An address of "the outside": an interface of this namespace (a bridge with no port: dummy may be missing)
	// with a web server, reached by containers through their default
	// route and NAT.
	dummy := &netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: "outside0"}}
	if err := netlink.LinkAdd(dummy); err != nil {
		t.Fatal(err)
	}
	addr, _ := netlink.ParseAddr("192.0.2.1/24")
	netlink.AddrAdd(dummy, addr)
	netlink.LinkSetUp(dummy)
	// A default route, as every host has: it takes no address pool (a
	// network created without --subnet still gets 172.18.0.0/16).
	if err := netlink.RouteAdd(&netlink.Route{LinkIndex: dummy.Attrs().Index, Gw: net.ParseIP("192.0.2.254")}); err != nil {
		t.Fatal(err)
	}
	outside, err := net.Listen("tcp4", "192.0.2.1:8000")
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(outside, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "outside\n") }))
	t.Cleanup(func() { outside.Close() })

	bin := hoistBinary(t)
	root := t.TempDir()
	h := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--root", root}, args...)...)
		var out, errOut strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		return out.String(), errOut.String(), code
	}
	must := func(args ...string) string {
		t.Helper()
		out, errOut, code := h(args...)
		if code != 0 {
			t.Fatalf("%v: exit %d: %s%s", args, code, out, errOut)
		}
		return strings.TrimSpace(out)
	}
	t.Cleanup(func() {
		out, _, _ := h("ps", "-aq")
		for _, id := range strings.Fields(out) {
			h("rm", "-f", id)
		}
		h("network", "prune", "-f")
	})
	must("import", busyboxRootTar(t), "busybox")
	serve := "mkdir -p /www && hostname > /www/index.html && exec httpd -f -p 80 -h /www"
	const get = shGet
	// fetch polls a URL from a new container until it answers (or gives
	// up after about 5 s): the server may still be starting.
	fetch := func(netArgs []string, hostPort string) (string, int) {
		t.Helper()
		script := get + fmt.Sprintf("for i in $(seq 50); do get %s && exit 0; sleep 0.1; done; exit 1", hostPort)
		out, _, code := h(append(append([]string{"run", "--rm"}, netArgs...), "busybox", "sh", "-c", script)...)
		return strings.TrimSpace(out), code
	}
	// resolve prints the address nslookup gets for name in ctr ("" for
	// none), from the nameserver of its resolv.conf or the server given.
	resolve := func(ctr, name string, server ...string) string {
		t.Helper()
		script := "nslookup " + name + " " + strings.Join(server, "") + " 2>/dev/null | awk '/^Name:/ {f=1} f && /^Address/ {print $NF}'"
		out, _, _ := h("exec", ctr, "sh", "-c", script)
		return strings.TrimSpace(out)
	}
	ipOf := func(ctr, net string) string {
		return must("inspect", "-f", "{{(index .NetworkSettings.Networks \""+net+"\").IPAddress}}", ctr)
	}

	t.Run("DefaultNetworksListed", func(t *testing.T) {
		out := must("network", "ls", "--format", "{{.Name}} {{.Driver}}")
		if out != "bridge bridge\nhost host\nnone null" {
			t.Fatalf("network ls: %q", out)
		}
		if out := must("info", "--format", "{{.NetworkTransport}}"); out != "bridge" {
			t.Fatalf("info: transport %q", out)
		}
	})

	must("network", "create", "n1")
	if sub := must("network", "inspect", "-f", "{{range .IPAM.Config}}{{.Subnet}}{{end}}", "n1"); sub != "172.18.0.0/16" {
		t.Fatalf("n1's subnet: %q, want docker's first free default pool 172.18.0.0/16", sub)
	}
	must("network", "create", "--subnet", "10.77.0.0/24", "n2")
	must("network", "create", "--internal", "nint")

	t.Run("NamesAndAliasesNotAcrossNetworks", func(t *testing.T) {
		id := must("run", "-d", "--name", "srv1", "--hostname", "srv1", "--network", "n1", "--network-alias", "web", "busybox", "sh", "-c", serve)
		for _, name := range []string{"srv1", "web", id[:12]} {
			if out, code := fetch([]string{"--network", "n1"}, name); code != 0 || out != "srv1" {
				t.Fatalf("by %s on n1: %d %q", name, code, out)
			}
		}
		// From n2: neither the name resolves nor the address is reachable.
		if out, _, code := h("run", "--rm", "--network", "n2", "busybox", "sh", "-c", get+"get srv1"); code == 0 {
			t.Fatalf("srv1 reached by name from n2: %q", out)
		}
		if out, _, code := h("run", "--rm", "--network", "n2", "busybox", "sh", "-c", get+"get "+ipOf("srv1", "n1")); code == 0 {
			t.Fatalf("srv1 reached by address from n2: %q", out)
		}
		// On a user network --link is a DNS alias for the linking
		// container only (docker's), not an /etc/hosts entry.
		out := must("run", "--rm", "--network", "n1", "--link", "srv1:dbl", "busybox", "sh", "-c",
			"grep -c dbl /etc/hosts; nslookup dbl | awk '/^Name:/ {f=1} f && /^Address/ {print $NF}'")
		if out != "0\n"+ipOf("srv1", "n1") {
			t.Fatalf("--link srv1:dbl on n1: %q, want no hosts entry and %s", out, ipOf("srv1", "n1"))
		}
		if out := must("run", "--rm", "--network", "n1", "busybox", "sh", "-c", "nslookup dbl | awk '/^Name:/ {f=1} f && /^Address/ {print $NF}'"); out != "" {
			t.Fatalf("link alias dbl resolved without the link: %q", out)
		}
		// The default bridge has no DNS; --link writes /etc/hosts.
		must("run", "-d", "--name", "lk", "busybox", "sleep", "300")
		out = must("run", "--rm", "--link", "lk:db", "busybox", "sh", "-c", "grep -w db /etc/hosts | cut -f1")
		if out != ipOf("lk", "bridge") {
			t.Fatalf("--link hosts entry %q, want %s", out, ipOf("lk", "bridge"))
		}
		// --network container:NAME shares srv1's namespace.
		if out := must("run", "--rm", "--network", "container:srv1", "busybox", "sh", "-c", get+"get 127.0.0.1"); out != "srv1" {
			t.Fatalf("container:srv1: %q", out)
		}
		if out := must("ps", "-f", "network=n1", "--format", "{{.Names}}"); out != "srv1" {
			t.Fatalf("ps -f network=n1: %q", out)
		}
	})

	t.Run("OutboundAndInternal", func(t *testing.T) {
		if out, code := fetch(nil, "192.0.2.1 8000"); code != 0 || out != "outside" {
			t.Fatalf("outbound from the default bridge: %d %q", code, out)
		}
		if out, code := fetch([]string{"--network", "n1"}, "192.0.2.1 8000"); code != 0 || out != "outside" {
			t.Fatalf("outbound from n1: %d %q", code, out)
		}
		out, _, code := h("run", "--rm", "--network", "nint", "busybox", "sh", "-c", get+"ip route | grep -c default; get 192.0.2.1 8000")
		if code == 0 || strings.Contains(out, "outside") || !strings.HasPrefix(out, "0\n") {
			t.Fatalf("--internal reached the outside: %d %q", code, out)
		}
	})

	t.Run("PublishedPortsOnLoopback", func(t *testing.T) {
		must("run", "-d", "--name", "pub1", "--hostname", "pub1", "-p", "18080:80", "busybox", "sh", "-c", serve)
		must("run", "-d", "--name", "pub2", "--hostname", "pub2", "--network", "n1", "-p", "127.0.0.1:18081:80", "busybox", "sh", "-c", serve)
		for port, want := range map[string]string{"18080": "pub1", "18081": "pub2"} {
			var body string
			testutil.WaitFor(t, "published port "+port, func() bool {
				resp, err := http.Get("http://127.0.0.1:" + port + "/")
				if err != nil {
					return false
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				body = strings.TrimSpace(string(b))
				return true
			})
			if body != want {
				t.Fatalf("127.0.0.1:%s: %q want %q", port, body, want)
			}
		}
		// A port taken: docker's message, nothing left of the container's start.
		_, errOut, code := h("run", "-d", "--name", "pub3", "-p", "18080:80", "busybox", "sleep", "300")
		if code == 0 || !strings.Contains(errOut, "port is already allocated") {
			t.Fatalf("port taken: %d %q", code, errOut)
		}
		must("rm", "-f", "pub1", "pub2", "pub3")
	})

	t.Run("ConnectDisconnectRunning", func(t *testing.T) {
		must("run", "-d", "--name", "srv2", "--hostname", "srv2", "--network", "n2", "busybox", "sh", "-c", serve)
		must("run", "-d", "--name", "cli1", "--network", "n1", "busybox", "sleep", "300")
		ip := ipOf("srv2", "n2")
		poll := get + "for i in $(seq 50); do get " + ip + " && exit 0; sleep 0.1; done; exit 1"
		if _, _, code := h("exec", "cli1", "sh", "-c", get+"get "+ip); code == 0 {
			t.Fatal("cli1 reached n2 before connect")
		}
		must("network", "connect", "--alias", "c1alias", "n2", "cli1")
		if out := must("exec", "cli1", "sh", "-c", poll); out != "srv2" {
			t.Fatalf("after connect: %q", out)
		}
		// The names of the network connected resolve through cli1's
		// nameserver (n1's resolver), cli1's alias from n2; another
		// network's container asking n2's resolver directly learns nothing.
		if out := must("exec", "cli1", "sh", "-c", strings.ReplaceAll(poll, "get "+ip, "get srv2")); out != "srv2" {
			t.Fatalf("srv2 by name after connect: %q", out)
		}
		if got, want := resolve("srv2", "c1alias"), ipOf("cli1", "n2"); got != want {
			t.Fatalf("c1alias from srv2: %q, want %s", got, want)
		}
		if got, want := resolve("cli1", "srv2", "10.77.0.1"), ip; got != want {
			t.Fatalf("srv2 from cli1 asking n2's resolver: %q, want %s", got, want)
		}
		if got := resolve("srv1", "srv2", "10.77.0.1"); got != "" {
			t.Fatalf("srv1 (n1 only) resolved srv2 through n2's resolver: %q", got)
		}
		if _, errOut, code := h("network", "connect", "n2", "cli1"); code != 1 || !strings.Contains(errOut, "endpoint with name cli1 already exists in network n2") {
			t.Fatalf("connect twice: %d %q", code, errOut)
		}
		must("network", "disconnect", "n2", "cli1")
		if out, _, code := h("exec", "cli1", "sh", "-c", "ip link show eth1"); code == 0 {
			t.Fatalf("eth1 left after disconnect: %q", out)
		}
		if _, errOut, code := h("network", "disconnect", "n2", "cli1"); code != 1 || !strings.Contains(errOut, "is not connected to network n2") {
			t.Fatalf("disconnect twice: %d %q", code, errOut)
		}
	})

	t.Run("RemoveRefusedInUse", func(t *testing.T) {
		_, errOut, code := h("network", "rm", "n1")
		if code != 1 || !strings.Contains(errOut, "Error response from daemon: error while removing network: network n1 id ") || !strings.Contains(errOut, "has active endpoints") {
			t.Fatalf("network rm in use: %d %q", code, errOut)
		}
		if _, errOut, code := h("network", "rm", "bridge"); code != 1 || !strings.Contains(errOut, "bridge is a pre-defined network and cannot be removed") {
			t.Fatalf("network rm bridge: %d %q", code, errOut)
		}
	})

	t.Run("BadInput", func(t *testing.T) {
		before := must("network", "ls", "-q")
		psBefore := must("ps", "-aq")
		for _, tc := range []struct {
			args []string
			want string
		}{
			{[]string{"network", "create", "--subnet", "10.77.0.0/16", "bad1"}, "Pool overlaps with other one on this address space"},
			{[]string{"network", "create", "--subnet", "10.78.0.0/24", "--gateway", "10.79.0.1", "bad2"}, "no matching subnet for gateway 10.79.0.1"},
			{[]string{"network", "create", "n1"}, "network with name n1 already exists"},
			{[]string{"network", "create", "bad name"}, "invalid network name"},
			{[]string{"run", "--rm", "--network", "n2", "--ip", "10.99.0.5", "busybox", "true"}, "Invalid address 10.99.0.5: It does not belong to any of this network's subnets"},
			{[]string{"run", "--rm", "--network", "n2", "--ip", ipOf("srv2", "n2"), "busybox", "true"}, "Address already in use"},
			{[]string{"run", "--rm", "--ip", "172.17.0.99", "busybox", "true"}, "user specified IP address is supported on user defined networks only"},
			{[]string{"run", "--rm", "--network", "nosuchnet", "busybox", "true"}, "network nosuchnet not found"},
			{[]string{"run", "--rm", "--link", "nosuchctr:x", "busybox", "true"}, "could not get container for nosuchctr"},
			{[]string{"network", "connect", "nosuchnet", "srv2"}, "network nosuchnet not found"},
		} {
			_, errOut, code := h(tc.args...)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Errorf("%v: exit %d, %q; want %q", tc.args, code, errOut, tc.want)
			}
		}
		if after := must("network", "ls", "-q"); after != before {
			t.Errorf("networks changed by refused commands: %q -> %q", before, after)
		}
		if after := must("ps", "-aq"); after != psBefore {
			t.Errorf("containers left by refused commands: %q -> %q", psBefore, after)
		}
		var n2 []struct{ Containers map[string]any }
		json.Unmarshal([]byte(must("network", "inspect", "n2")), &n2)
		if len(n2) != 1 || len(n2[0].Containers) != 1 {
			t.Errorf("leases left on n2: %+v", n2)
		}
	})

	t.Run("StoppedContainerReleasesAddress", func(t *testing.T) {
		// As docker: an address is leased while the container runs; a
		// created or stopped one keeps its attachment, not its address.
		must("create", "--name", "cr1", "--network", "n2", "busybox", "true")
		if ip := ipOf("cr1", "n2"); ip != "" {
			t.Fatalf("created container has address %q", ip)
		}
		must("run", "-d", "--name", "st1", "--network", "n2", "--ip", "10.77.0.50", "busybox", "sleep", "300")
		if ip := ipOf("st1", "n2"); ip != "10.77.0.50" {
			t.Fatalf("st1 running: address %q", ip)
		}
		must("stop", "-t", "0", "st1")
		if ip := ipOf("st1", "n2"); ip != "" {
			t.Fatalf("st1 stopped: address %q", ip)
		}
		if out := must("network", "inspect", "-f", "{{range .Containers}}{{.Name}} {{end}}", "n2"); strings.Contains(out, "st1") || strings.Contains(out, "cr1") {
			t.Fatalf("network inspect lists stopped containers: %q", out)
		}
		if out := must("run", "--rm", "--network", "n2", "--ip", "10.77.0.50", "busybox", "sh", "-c", "ip -4 -o addr show eth0 | awk '{print $4}'"); out != "10.77.0.50/24" {
			t.Fatalf("st1's address while it is stopped: %q", out)
		}
		must("start", "st1")
		if ip := ipOf("st1", "n2"); ip != "10.77.0.50" {
			t.Fatalf("st1 started again: address %q", ip)
		}
		// network rm takes a network no running container uses: a stopped
		// container's start then fails on it (docker's).
		must("network", "create", "gone")
		must("create", "--name", "cr2", "--network", "gone", "busybox", "true")
		must("network", "rm", "gone")
		if _, errOut, code := h("start", "cr2"); code == 0 || !strings.Contains(errOut, "network gone not found") {
			t.Fatalf("start on a removed network: %d %q", code, errOut)
		}
		must("rm", "-f", "cr1", "cr2", "st1")
	})

	t.Run("RepairOfAnotherRootLeavesOursAlone", func(t *testing.T) {
		// Two roots on one host: a repair of the other one (which never
		// brought a network up) must not take this root's default
		// bridge or its running container's veth, though their names are
		// of the kinds hoist makes.
		must("run", "-d", "--name", "held", "busybox", "sleep", "300")
		defer h("rm", "-f", "held")
		ports := func() int {
			br, err := netlink.LinkByName(network.DefaultBridge)
			if err != nil {
				return -1
			}
			n := 0
			links, _ := netlink.LinkList()
			for _, l := range links {
				if l.Attrs().MasterIndex == br.Attrs().Index {
					n++
				}
			}
			return n
		}
		if n := ports(); n < 1 {
			t.Fatalf("%s has %d ports while held runs", network.DefaultBridge, n)
		}
		if out, err := exec.Command(bin, "--root", t.TempDir(), "system", "check", "--repair").CombinedOutput(); err != nil {
			t.Fatalf("repair of another root: %v %s", err, out)
		} else if strings.Contains(string(out), "removed interface") {
			t.Errorf("repair of another root removed interfaces: %s", out)
		}
		if n := ports(); n < 1 {
			t.Errorf("after another root's repair %s has %d ports (-1: gone)", network.DefaultBridge, n)
		}
	})

	t.Run("BridgeKeptUntilNetworkRm", func(t *testing.T) {
		// As docker0: a network's bridge, rules and resolver outlive its
		// containers (a run does not make and delete them) and go with
		// network rm.
		id := must("network", "create", "kept")
		must("run", "--rm", "--network", "kept", "busybox", "true")
		br := "hbr-" + id[:10]
		if _, err := netlink.LinkByName(br); err != nil {
			t.Fatalf("bridge %s gone with the network's last container: %v", br, err)
		}
		resolver := func() bool {
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.Contains(string(cl), root) && strings.Contains(string(cl), id) {
					return true
				}
			}
			return false
		}
		if !resolver() {
			t.Fatal("the resolver of network kept is not running")
		}
		must("network", "rm", "kept")
		if _, err := netlink.LinkByName(br); err == nil {
			t.Fatalf("bridge %s left after network rm", br)
		}
		testutil.WaitFor(t, "the resolver of kept to end", func() bool { return !resolver() })
	})

	t.Run("ParallelRunsDistinctAddresses", func(t *testing.T) {
		must("network", "create", "--subnet", "10.88.0.0/24", "par")
		var wg sync.WaitGroup
		ids := make([]string, 20)
		errs := make([]string, 20)
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				out, errOut, code := h("run", "-d", "--network", "par", "busybox", "sleep", "300")
				if code != 0 {
					errs[i] = errOut
				}
				ids[i] = strings.TrimSpace(out)
			}()
		}
		wg.Wait()
		seen := map[string]bool{}
		for i, id := range ids {
			if errs[i] != "" {
				t.Fatalf("create %d: %s", i, errs[i])
			}
			ip := ipOf(id, "par")
			if ip == "" || seen[ip] {
				t.Fatalf("address %q of container %d given twice or not at all", ip, i)
			}
			seen[ip] = true
		}
		must(append([]string{"rm", "-f"}, ids...)...)
		must("network", "rm", "par")
	})

	t.Run("KilledMonitorRepairLeavesNothing", func(t *testing.T) {
		out, _, _ := h("ps", "-aq")
		for _, id := range strings.Fields(out) {
			must("rm", "-f", id)
		}
		id := must("run", "-d", "--name", "k1", "--network", "n1", "-p", "18082:80", "busybox", "sh", "-c", serve)
		if rules, err := network.Rules(); err != nil || rules["prerouting"] != 1 {
			t.Fatalf("rules while k1 runs: %v %v", rules, err)
		}
		var st struct{ Pid, MonitorPid, NetPid int }
		b, _ := os.ReadFile(filepath.Join(root, "containers", id, "state.json"))
		json.Unmarshal(b, &st)
		if st.MonitorPid == 0 || st.Pid == 0 || st.NetPid == 0 {
			t.Fatalf("state: %+v", st)
		}
		for _, pid := range []int{st.MonitorPid, st.Pid} {
			if p, err := os.FindProcess(pid); err == nil {
				p.Kill()
			}
		}
		left := func() []string {
			var l []string
			links, _ := netlink.LinkList()
			for _, ln := range links {
				if n := ln.Attrs().Name; n == network.DefaultBridge || strings.HasPrefix(n, "hbr-") || strings.HasPrefix(n, "hv") {
					l = append(l, "link "+n)
				}
			}
			if rules, _ := network.Rules(); len(rules) > 0 {
				l = append(l, fmt.Sprintf("nft table %s: %v", network.TableName, rules))
			}
			if network.IsHelper(st.NetPid, id) {
				l = append(l, "proxy")
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				var pid int
				if _, err := fmt.Sscan(e.Name(), &pid); err == nil {
					if cl, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); strings.Contains(string(cl), root) && strings.Contains(string(cl), network.HelperVerb) {
						l = append(l, "helper "+strings.ReplaceAll(string(cl), "\x00", " "))
					}
				}
			}
			return l
		}
		// Repaired once the killed process is gone: until its new parent
		// reaps it the runtime still says it runs, and repair keeps it.
		testutil.WaitFor(t, "nothing left after repair", func() bool {
			if out, errOut, code := h("system", "check", "--repair"); code != 0 {
				t.Fatalf("system check --repair: %d %s%s", code, out, errOut)
			}
			return len(left()) == 0
		})
		if l := left(); len(l) > 0 {
			t.Fatalf("left after kill -9 and repair: %v", l)
		}
		must("rm", "k1")
		var n1 []struct{ Containers map[string]any }
		json.Unmarshal([]byte(must("network", "inspect", "n1")), &n1)
		if len(n1) != 1 || len(n1[0].Containers) != 0 {
			t.Fatalf("leases left on n1: %+v", n1)
		}
		must("network", "rm", "n1", "n2", "nint")
		if l := left(); len(l) > 0 {
			t.Fatalf("left after network rm: %v", l)
		}
	})
}
