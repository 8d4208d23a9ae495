package buildkit

import (
	"runtime"
	"strings"
	"testing"

	controlapi "github.com/moby/buildkit/api/services/control"
)

// buildx's flags, as the dockerfile frontend's attributes, become the
// builder's options; what the builder cannot do is refused by name.
func TestBuilderOptions(t *testing.T) {
	o, err := builderOptions(map[string]string{
		"build-arg:X": "1", "label:a": "b", "target": "t", "no-cache": "", "image-resolve-mode": "pull",
		"force-network-mode": "none", "add-hosts": "h1=10.0.0.1,h2=10.0.0.2", "platform": "linux/" + runtime.GOARCH,
		"ulimit": "nofile=10:20", "cgroup-parent": "p", "attest:provenance": "mode=min",
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.BuildArgs["X"] != "1" || o.Labels["a"] != "b" || o.Target != "t" || !o.NoCache || !o.Pull || o.Network != "none" ||
		strings.Join(o.ExtraHosts, ",") != "h1:10.0.0.1,h2:10.0.0.2" || o.Resources.Ulimits[0] != "nofile=10:20" || o.Resources.CgroupParent != "p" {
		t.Fatalf("options: %+v", o)
	}
	if o, _ := builderOptions(nil); o.NoCache || o.Network != "default" {
		t.Fatalf("defaults: %+v", o)
	}
	for attrs, want := range map[string]map[string]string{
		"named build contexts":     {"context:base": "docker-image://x"},
		"build subrequests":        {"requestid": "frontend.outline"},
		"network mode \"bridge2\"": {"force-network-mode": "bridge2"},
		"this machine's platform":  {"platform": "linux/s390x"},
	} {
		if _, err := builderOptions(want); err == nil || !strings.Contains(err.Error(), attrs) {
			t.Errorf("%v: %v, want an error with %q", want, err, attrs)
		}
	}
}

func TestReadExporter(t *testing.T) {
	ex, err := readExporter(&controlapi.SolveRequest{Exporters: []*controlapi.Exporter{{Type: "moby", Attrs: map[string]string{"name": "a:1, b"}}}})
	if err != nil || ex.kind != "image" || strings.Join(ex.names, "|") != "a:1|b" {
		t.Fatalf("exporter %+v, %v", ex, err)
	}
	if ex, err := readExporter(&controlapi.SolveRequest{ExporterDeprecated: "tar"}); err != nil || ex.kind != "tar" {
		t.Fatalf("tar exporter %+v, %v", ex, err)
	}
	for _, req := range []*controlapi.SolveRequest{
		{Exporters: []*controlapi.Exporter{{Type: "oci"}}},
		{Exporters: []*controlapi.Exporter{{Type: "moby"}, {Type: "moby"}}},
		{Exporters: []*controlapi.Exporter{{Type: "moby", Attrs: map[string]string{"name": "BAD NAME"}}}},
		{ExporterDeprecated: "docker"},
	} {
		if _, err := readExporter(req); err == nil {
			t.Errorf("%v: accepted", req)
		}
	}
}
