package images

import (
	"context"
	"strings"
	"time"

	dref "github.com/distribution/reference"
	"github.com/hoistproject/hoist/internal/metadata"
)

// InspectConfig is the Config object of `docker image inspect`.
type InspectConfig struct {
	User         string              `json:"User,omitempty"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *HealthConfig       `json:"Healthcheck,omitempty"`
	ArgsEscaped  bool                `json:"ArgsEscaped,omitempty"`
	Volumes      map[string]struct{} `json:"Volumes,omitempty"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
	StopSignal   string              `json:"StopSignal,omitempty"`
	Shell        []string            `json:"Shell,omitempty"`
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

// InspectResponse is one element of `docker image inspect`, with docker's
// field names.
type InspectResponse struct {
	ID            string          `json:"Id"`
	RepoTags      []string        `json:"RepoTags"`
	RepoDigests   []string        `json:"RepoDigests"`
	Parent        string          `json:"Parent"`
	Comment       string          `json:"Comment"`
	Created       string          `json:"Created"`
	Container     string          `json:"Container,omitempty"`
	DockerVersion string          `json:"DockerVersion"`
	Author        string          `json:"Author"`
	Config        InspectConfig   `json:"Config"`
	Architecture  string          `json:"Architecture"`
	Variant       string          `json:"Variant,omitempty"`
	Os            string          `json:"Os"`
	OsVersion     string          `json:"OsVersion,omitempty"`
	Size          int64           `json:"Size"`
	GraphDriver   GraphDriver     `json:"GraphDriver"`
	RootFS        InspectRootFS   `json:"RootFS"`
	Metadata      InspectMetadata `json:"Metadata"`
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
		ID:            f.ID.String(),
		RepoTags:      FamiliarNames(f.Names),
		RepoDigests:   FamiliarNames(f.RepoDigests),
		Comment:       c.Comment,
		Container:     c.Container,
		DockerVersion: c.DockerVersion,
		Author:        c.Author,
		Config: InspectConfig{
			User: cc.User, ExposedPorts: cc.ExposedPorts, Env: cc.Env, Cmd: cc.Cmd,
			Healthcheck: cc.Healthcheck, ArgsEscaped: cc.ArgsEscaped, Volumes: cc.Volumes,
			WorkingDir: cc.WorkingDir, Entrypoint: cc.Entrypoint, OnBuild: cc.OnBuild,
			Labels: cc.Labels, StopSignal: cc.StopSignal, Shell: cc.Shell,
		},
		Architecture: c.Architecture,
		Variant:      c.Variant,
		Os:           c.OS,
		OsVersion:    c.OSVersion,
		Size:         f.Size,
		GraphDriver:  GraphDriver{Name: "overlay2", Data: map[string]string{}},
		RootFS:       InspectRootFS{Type: "layers", Layers: []string{}},
		Metadata:     InspectMetadata{LastTagTime: f.LastTagTime},
	}
	if f.Parent != "" {
		ir.Parent = f.Parent.String()
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
		ir.GraphDriver.Data["UpperDir"] = s.ls.DiffDir(f.Layers[n-1].ChainID)
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

// History returns the history of the image ref names, newest first. Lines
// are attributed to the image and its recorded parents, top down; the rest
// are "<missing>", as docker does.
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
	err = s.db.View(ctx, func(tx *metadata.Tx) error {
		id := f.ID
		for i := range out {
			out[i].ID = id.String()
			for _, n := range namesOf(tx, id) {
				if nn, err := dref.ParseNormalizedNamed(n); err == nil {
					if _, ok := nn.(dref.NamedTagged); ok {
						out[i].Tags = append(out[i].Tags, dref.FamiliarString(nn))
					}
				}
			}
			r, ok, err := getRecord(tx, id)
			if err != nil || !ok || r.Parent == "" {
				return err
			}
			id = r.Parent
			if _, ok, _ := getRecord(tx, id); !ok {
				return nil
			}
		}
		return nil
	})
	return out, err
}
