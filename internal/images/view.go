package images

import (
	"context"
	"path/filepath"
	"strings"
	"time"

	dref "github.com/distribution/reference"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

// InspectConfig is the Config object of `docker image inspect` as docker's
// engine sends it: container.Config's fields, in its order, empty ones
// included (docker 20.10). Container inspect uses it too.
type InspectConfig struct {
	Hostname     string
	Domainname   string
	User         string
	AttachStdin  bool
	AttachStdout bool
	AttachStderr bool
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Tty          bool
	OpenStdin    bool
	StdinOnce    bool
	Env          []string
	Cmd          []string
	Healthcheck  *HealthConfig `json:",omitempty"`
	ArgsEscaped  bool          `json:",omitempty"`
	Image        string
	Volumes      map[string]struct{}
	WorkingDir   string
	Entrypoint   []string
	OnBuild      []string
	Labels       map[string]string
	StopSignal   string   `json:",omitempty"`
	Shell        []string `json:",omitempty"`
}

// GraphDriver is inspect's storage description.
type GraphDriver struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

// InspectRootFS is inspect's RootFS.
type InspectRootFS struct {
	Type   string   `json:"Type"`
	Layers []string `json:"Layers"`
}

// InspectMetadata is inspect's Metadata.
type InspectMetadata struct {
	LastTagTime time.Time `json:"LastTagTime"`
}

// InspectHead and InspectTail are the fields of an image's inspect object
// before and after Config (shared by InspectResponse and InspectTemplate).
type InspectHead struct {
	ID          string `json:"Id"`
	RepoTags    []string
	RepoDigests []string
	Parent      string
	Comment     string
	Created     string
	// Container and ContainerConfig are the container a commit was
	// made from (docker 20.10's fields; empty for other images).
	Container       string
	ContainerConfig InspectConfig
	DockerVersion   string
	Author          string
}

// InspectTail: see InspectHead.
type InspectTail struct {
	Architecture string
	Variant      string `json:",omitempty"`
	Os           string
	OsVersion    string `json:",omitempty"`
	Size         int64
	VirtualSize  int64 // Size (docker 20.10 still has it)
	GraphDriver  GraphDriver
	RootFS       InspectRootFS
	Metadata     InspectMetadata
}

// InspectResponse is one element of `docker image inspect`, with docker's
// field names and order.
type InspectResponse struct {
	InspectHead
	Config InspectConfig
	InspectTail
}

// InspectTemplate is the value `--format` templates run on. Docker's CLI
// decodes the engine's JSON into its own types, whose Config is the OCI
// image config with docker's extensions (ContainerConfig here), so that
// `{{json .Config}}` lists only the fields that are set, in that order.
type InspectTemplate struct {
	InspectHead
	Config ContainerConfig
	InspectTail
}

// Template returns the value --format templates run on.
func (r *InspectResponse) Template() any {
	c := r.Config
	return &InspectTemplate{InspectHead: r.InspectHead, InspectTail: r.InspectTail, Config: ContainerConfig{
		User: c.User, ExposedPorts: c.ExposedPorts, Env: c.Env, Entrypoint: c.Entrypoint, Cmd: c.Cmd,
		Volumes: c.Volumes, WorkingDir: c.WorkingDir, Labels: c.Labels, StopSignal: c.StopSignal,
		ArgsEscaped: c.ArgsEscaped, Healthcheck: c.Healthcheck, OnBuild: c.OnBuild, Shell: c.Shell,
	}}
}

// FamiliarNames renders normalised references in short form.
func FamiliarNames(names []string) []string {
	out := make([]string, 0, len(names))
	for _, n := range names {
		out = append(out, Familiar(n))
	}
	return out
}

// Inspect returns the inspect view of the image ref names.
func (s *Store) Inspect(ctx context.Context, ref string) (*InspectResponse, error) {
	f, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	c := f.Config
	cc := c.Config
	ir := &InspectResponse{
		InspectHead: InspectHead{
			ID:            f.ID.String(),
			RepoTags:      FamiliarNames(f.Names),
			RepoDigests:   FamiliarNames(f.RepoDigests),
			Comment:       c.Comment,
			Container:     c.Container,
			DockerVersion: c.DockerVersion,
			Author:        c.Author,
		},
		Config: InspectConfig{
			User: cc.User, ExposedPorts: cc.ExposedPorts, Env: cc.Env, Cmd: cc.Cmd,
			Healthcheck: cc.Healthcheck, ArgsEscaped: cc.ArgsEscaped, Volumes: cc.Volumes,
			WorkingDir: cc.WorkingDir, Entrypoint: cc.Entrypoint, OnBuild: cc.OnBuild,
			Labels: cc.Labels, StopSignal: cc.StopSignal, Shell: cc.Shell,
		},
		InspectTail: InspectTail{
			Architecture: c.Architecture,
			Variant:      c.Variant,
			Os:           c.OS,
			OsVersion:    c.OSVersion,
			Size:         f.Size,
			VirtualSize:  f.Size,
			GraphDriver:  GraphDriver{Name: "overlay2", Data: map[string]string{}},
			RootFS:       InspectRootFS{Type: "layers", Layers: []string{}},
			Metadata:     InspectMetadata{LastTagTime: f.LastTagTime},
		},
	}
	if f.Parent != "" {
		ir.Parent = f.Parent.String()
	}
	if c.ContainerConfig != nil {
		ir.ContainerConfig = *c.ContainerConfig
	}
	if c.Created != nil {
		ir.Created = c.Created.UTC().Format(time.RFC3339Nano)
	} else {
		ir.Created = time.Time{}.Format(time.RFC3339Nano)
	}
	for _, d := range c.RootFS.DiffIDs {
		ir.RootFS.Layers = append(ir.RootFS.Layers, d.String())
	}
	if n := len(f.Layers); n > 0 {
		// docker's overlay2 keys: the top layer is the upper dir; merged/
		// and work/ are where it would be mounted (hoist mounts images only
		// under containers, so they stay absent, as docker's unmounted ones)
		top := s.ls.DiffDir(f.Layers[n-1].ChainID)
		ir.GraphDriver.Data["UpperDir"] = top
		ir.GraphDriver.Data["MergedDir"] = filepath.Join(filepath.Dir(top), "merged")
		ir.GraphDriver.Data["WorkDir"] = filepath.Join(filepath.Dir(top), "work")
		var lower []string
		for i := n - 2; i >= 0; i-- {
			lower = append(lower, s.ls.DiffDir(f.Layers[i].ChainID))
		}
		if len(lower) > 0 {
			ir.GraphDriver.Data["LowerDir"] = strings.Join(lower, ":")
		}
	}
	return ir, nil
}

// HistoryItem is one line of `docker history`.
type HistoryItem struct {
	ID        string // image ID, or "<missing>"
	Created   time.Time
	CreatedBy string
	Tags      []string
	Size      int64
	Comment   string
}

// History returns the history of the image ref names, newest first. The
// image's ID is on the top line, each recorded parent's on the line of its
// own newest history entry; the rest are "<missing>", as docker's.
func (s *Store) History(ctx context.Context, ref string) ([]HistoryItem, error) {
	f, err := s.Get(ctx, ref)
	if err != nil {
		return nil, err
	}
	var out []HistoryItem
	li := 0
	for _, h := range f.Config.History {
		var size int64
		if !h.EmptyLayer && li < len(f.Layers) {
			size = f.Layers[li].Size
			li++
		}
		it := HistoryItem{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Size: size}
		if h.Created != nil {
			it.Created = *h.Created
		}
		out = append([]HistoryItem{it}, out...)
	}
	// The image and its recorded parents (the images it was built or
	// committed from), with their tags.
	type ancestor struct {
		id   digest.Digest
		tags []string
	}
	var chain []ancestor
	err = s.db.View(ctx, func(tx *metadata.Tx) error {
		for id := f.ID; len(chain) < len(out); {
			a := ancestor{id: id}
			for _, n := range namesOf(tx, id) {
				if nn, err := dref.ParseNormalizedNamed(n); err == nil {
					if _, ok := nn.(dref.NamedTagged); ok {
						a.tags = append(a.tags, dref.FamiliarString(nn))
					}
				}
			}
			chain = append(chain, a)
			r, ok, err := getRecord(tx, id)
			if err != nil || !ok || r.Parent == "" {
				return err
			}
			if _, ok, _ := getRecord(tx, r.Parent); !ok {
				return nil
			}
			id = r.Parent
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// Each goes on the row of its own newest history entry: the image on
	// the top row, a parent as many rows down as the image has more
	// entries than it. The rows between are steps that left no image of
	// their own (a build's steps, as BuildKit's): "<missing>".
	prev := -1
	for i, a := range chain {
		row := 0
		if i > 0 {
			p, err := s.Get(ctx, a.id.String())
			if err != nil {
				break
			}
			row = len(out) - len(p.Config.History)
		}
		if row <= prev || row >= len(out) {
			break
		}
		out[row].ID, out[row].Tags = a.id.String(), a.tags
		prev = row
	}
	return out, err
}
