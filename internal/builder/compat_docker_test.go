package builder

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// TestCompatDocker builds the corpus with docker too (where a docker engine
// answers) and requires the same config and the same file tree (path, type,
// mode, owner, size, content hash, link target), except docker's own
// runtime files. Cases using BuildKit-only syntax (heredocs, RUN --mount,
// --chmod) are compared by TestCompatCorpus only.
func TestCompatDocker(t *testing.T) {
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker not installed")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := exec.CommandContext(ctx, "docker", "info").Run(); err != nil {
		t.Skip("no docker engine answers")
	}
	// Always docker's classic builder: the BuildKit built into dockerd 20.10
	// (v0.8) predates most of the syntax the corpus covers, and offline it
	// cannot fetch a newer frontend, so the comparison would depend on
	// whether the machine happens to have the buildx plugin.
	const buildkit = false
	e := newRealEnv(t)
	// The same busybox base in docker, under a name of our own.
	baseName := fmt.Sprintf("hoist-compat/busybox:%d", os.Getpid())
	tarPath := filepath.Join(t.TempDir(), "bb.tar")
	if out, err := exec.Command("bash", "../../scripts/mkbusybox.sh", tarPath).CombinedOutput(); err != nil {
		t.Fatalf("mkbusybox: %v %s", err, out)
	}
	if out, err := exec.Command("docker", "import", "-c", `CMD ["sh"]`, tarPath, baseName).CombinedOutput(); err != nil {
		t.Fatalf("docker import: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("docker", "rmi", "-f", baseName).Run() })

	cases, _ := filepath.Glob("testdata/compat/*/Dockerfile")
	for _, dfPath := range cases {
		dir := filepath.Dir(dfPath)
		name := filepath.Base(dir)
		t.Run(name, func(t *testing.T) {
			df, _ := os.ReadFile(dfPath)
			exp, _ := os.ReadFile(filepath.Join(dir, "expect"))
			if strings.Contains(string(exp), "error ") {
				t.Skip("a failing build: compared by TestCompatCorpus only")
			}
			if !buildkit && bytes.Contains(exp, []byte("# buildkit-only")) {
				t.Skip("needs BuildKit semantics: compared by TestCompatCorpus only")
			}
			if !buildkit && (bytes.Contains(df, []byte("<<")) || bytes.Contains(df, []byte("--mount")) || bytes.Contains(df, []byte("--chmod"))) {
				t.Skip("BuildKit-only syntax: compared by TestCompatCorpus only")
			}
			ctxDir := filepath.Join(dir, "ctx")
			if _, err := os.Stat(ctxDir); err != nil {
				ctxDir = t.TempDir()
			}
			var args []string
			opts := Options{Tags: []string{"compatd/" + name}, BuildArgs: map[string]string{}}
			for _, c := range readExpect(t, filepath.Join(dir, "expect")) {
				switch c.kind {
				case "@arg":
					args = append(args, "--build-arg", c.arg)
					k, v, _ := strings.Cut(c.arg, "=")
					opts.BuildArgs[k] = v
				case "@target":
					args = append(args, "--target", c.arg)
					opts.Target = c.arg
				}
			}
			// hoist
			r, _ := e.build(t, string(df), ctxDir, opts)
			if r.err != nil {
				t.Fatalf("hoist: %v\n%s", r.err, r.out)
			}
			// docker, on its copy of the base
			ddf := strings.ReplaceAll(string(df), "FROM busybox", "FROM "+baseName)
			ddf = strings.ReplaceAll(ddf, "ARG BASE=busybox", "ARG BASE="+baseName)
			dfFile := filepath.Join(t.TempDir(), "Dockerfile")
			os.WriteFile(dfFile, []byte(ddf), 0o644)
			tag := fmt.Sprintf("hoist-compat/%s:%d", name, os.Getpid())
			cmd := exec.Command("docker", append(append([]string{"build", "-q", "--network", "host", "-f", dfFile, "-t", tag}, args...), ctxDir)...)
			cmd.Env = append(os.Environ(), "DOCKER_BUILDKIT=0")
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("docker build: %v\n%s", err, out)
			}
			t.Cleanup(func() { exec.Command("docker", "rmi", "-f", tag).Run() })

			// Configs.
			out, err := exec.Command("docker", "image", "inspect", "--format", "{{json .Config}}", tag).Output()
			if err != nil {
				t.Fatal(err)
			}
			var dc ContainerConfig
			if err := json.Unmarshal(out, &dc); err != nil {
				t.Fatal(err)
			}
			hc := r.cfg.Config
			for _, f := range []struct {
				name string
				h, d any
			}{
				{"Env", hc.Env, dc.Env}, {"Cmd", hc.Cmd, dc.Cmd}, {"Entrypoint", hc.Entrypoint, dc.Entrypoint},
				{"WorkingDir", hc.WorkingDir, dc.WorkingDir}, {"User", hc.User, dc.User},
				{"Labels", hc.Labels, dc.Labels}, {"ExposedPorts", hc.ExposedPorts, dc.ExposedPorts},
				{"Volumes", hc.Volumes, dc.Volumes}, {"StopSignal", hc.StopSignal, dc.StopSignal},
				{"Healthcheck", hc.Healthcheck, dc.Healthcheck}, {"OnBuild", hc.OnBuild, dc.OnBuild},
				{"Shell", hc.Shell, dc.Shell},
			} {
				if !reflect.DeepEqual(emptyNil(f.h), emptyNil(f.d)) {
					t.Errorf("%s: hoist %s, docker %s", f.name, jsonOf(f.h), jsonOf(f.d))
				}
			}
			// File trees.
			ht := hoistTree(t, e, "compatd/"+name)
			dt := dockerTree(t, tag)
			compareTrees(t, ht, dt)
		})
	}
}

func emptyNil(v any) any {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return nil
	}
	switch rv.Kind() {
	case reflect.Slice, reflect.Map:
		if rv.Len() == 0 {
			return nil
		}
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
	}
	return v
}

type treeEntry struct {
	Type     byte
	Mode     int64
	UID, GID int
	Size     int64
	Sum      string
	Link     string
}

func readTree(t *testing.T, r io.Reader) map[string]treeEntry {
	t.Helper()
	out := map[string]treeEntry{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		name := "/" + strings.Trim(strings.TrimPrefix(h.Name, "./"), "/")
		e := treeEntry{Type: h.Typeflag, Mode: h.Mode & 0o7777, UID: h.Uid, GID: h.Gid, Link: h.Linkname}
		if h.Typeflag == tar.TypeReg {
			s := sha256.New()
			n, _ := io.Copy(s, tr)
			e.Size, e.Sum = n, hex.EncodeToString(s.Sum(nil))
		}
		if h.Typeflag == tar.TypeLink {
			e.Type = tar.TypeReg // hardlinks: compare as files
		}
		out[name] = e
	}
}

func hoistTree(t *testing.T, e *realEnv, ref string) map[string]treeEntry {
	t.Helper()
	f, err := e.st.Get(context.Background(), ref)
	if err != nil {
		t.Fatal(err)
	}
	dir, release, err := e.b.Snapshots.View(context.Background(), f.ChainID)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	var buf bytes.Buffer
	if err := e.b.Tar(context.Background(), &buf, dir, nil); err != nil {
		t.Fatal(err)
	}
	return readTree(t, &buf)
}

func dockerTree(t *testing.T, tag string) map[string]treeEntry {
	t.Helper()
	id, err := exec.Command("docker", "create", tag, "true").Output()
	if err != nil {
		t.Fatal(err)
	}
	cid := strings.TrimSpace(string(id))
	defer exec.Command("docker", "rm", "-f", cid).Run()
	out, err := exec.Command("docker", "export", cid).Output()
	if err != nil {
		t.Fatal(err)
	}
	return readTree(t, bytes.NewReader(out))
}

// dockerOnly are files docker's export adds (its runtime files).
var dockerOnly = map[string]bool{"/.dockerenv": true, "/etc/hosts": true, "/etc/hostname": true, "/etc/resolv.conf": true,
	"/etc/mtab": true, "/dev": true, "/dev/console": true, "/dev/pts": true, "/dev/shm": true, "/proc": true, "/sys": true}

func compareTrees(t *testing.T, h, d map[string]treeEntry) {
	t.Helper()
	var diffs []string
	for p, de := range d {
		if dockerOnly[p] || p == "/" || strings.HasSuffix(p, "/.dockerignore") {
			continue // the docker CLI rewrites .dockerignore into the context
		}
		he, ok := h[p]
		if !ok && p == "/etc" {
			continue // docker makes /etc in every container (for hosts, resolv.conf)
		}
		if !ok {
			diffs = append(diffs, "only in docker: "+p)
			continue
		}
		if he != de {
			diffs = append(diffs, fmt.Sprintf("%s: hoist %+v, docker %+v", p, he, de))
		}
	}
	for p := range h {
		if _, ok := d[p]; !ok && !dockerOnly[p] && p != "/" && !strings.HasSuffix(p, "/.dockerignore") {
			diffs = append(diffs, "only in hoist: "+p)
		}
	}
	sort.Strings(diffs)
	for i, s := range diffs {
		if i == 20 {
			t.Errorf("... %d more", len(diffs)-20)
			break
		}
		t.Error(s)
	}
}
