package buildcontext

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testExtract is a minimal extractor for tests (regular files and dirs,
// gzip or plain); production code plugs in internal/archive.
func testExtract(ctx context.Context, dir string, r io.Reader) error {
	br := io.Reader(r)
	var peek [2]byte
	buf := &bytes.Buffer{}
	if _, err := io.ReadFull(r, peek[:]); err != nil {
		return err
	}
	buf.Write(peek[:])
	br = io.MultiReader(buf, r)
	if peek[0] == 0x1f && peek[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		br = zr
	}
	tr := tar.NewReader(br)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			os.MkdirAll(p, 0o755)
		case tar.TypeReg:
			os.MkdirAll(filepath.Dir(p), 0o755)
			data, _ := io.ReadAll(tr)
			if err := os.WriteFile(p, data, os.FileMode(h.Mode)); err != nil {
				return err
			}
		default:
			return fmt.Errorf("unsupported entry %s", h.Name)
		}
	}
}

func mkTar(t *testing.T, files map[string]string, gz bool) []byte {
	var b bytes.Buffer
	var w io.Writer = &b
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&b)
		w = zw
	}
	tw := tar.NewWriter(w)
	for name, content := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write([]byte(content))
	}
	tw.Close()
	if zw != nil {
		zw.Close()
	}
	return b.Bytes()
}

func TestFromStreamTar(t *testing.T) {
	for _, gz := range []bool{false, true} {
		data := mkTar(t, map[string]string{"Dockerfile": "FROM x\n", "src/a": "a", ".dockerignore": "ignored\n", "ignored": "i"}, gz)
		sc, err := FromStream(context.Background(), bytes.NewReader(data), StreamOptions{Extract: testExtract, TempDir: t.TempDir()})
		if err != nil {
			t.Fatal(err)
		}
		if sc.Dockerfile != nil {
			t.Errorf("tar taken as a Dockerfile")
		}
		if _, err := sc.Lstat("src/a"); err != nil {
			t.Errorf("src/a: %v", err)
		}
		if ex, _ := sc.Excluded("ignored"); !ex {
			t.Errorf(".dockerignore of the tar not applied")
		}
		dir := sc.Dir()
		if err := sc.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("context dir left behind: %v", err)
		}
	}
}

func TestFromStreamDockerfileAlone(t *testing.T) {
	src := "FROM busybox\nRUN echo hi\n"
	sc, err := FromStream(context.Background(), strings.NewReader(src), StreamOptions{TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	if string(sc.Dockerfile) != src {
		t.Errorf("Dockerfile %q", sc.Dockerfile)
	}
	entries, _ := os.ReadDir(sc.Dir())
	if len(entries) != 0 {
		t.Errorf("context not empty: %v", entries)
	}
}

func TestFromStreamDefaultExtractor(t *testing.T) {
	for _, gz := range []bool{false, true} {
		tmp := t.TempDir()
		data := mkTar(t, map[string]string{"Dockerfile": "FROM x\n", "dir/file": "content"}, gz)
		sc, err := FromStream(context.Background(), bytes.NewReader(data), StreamOptions{TempDir: tmp})
		if err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		f, err := sc.Open("dir/file")
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(f)
		f.Close()
		if string(got) != "content" {
			t.Errorf("content %q", got)
		}
		if data, err := sc.ReadDockerfile("Dockerfile"); err != nil || string(data) != "FROM x\n" {
			t.Errorf("Dockerfile %q %v", data, err)
		}
		sc.Close()
		if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
			t.Errorf("temp dir left behind: %v", entries)
		}
	}
}

func TestFromStreamRefusesEscapes(t *testing.T) {
	tmp := t.TempDir()
	data := mkTar(t, map[string]string{"../escape": "x"}, false)
	if _, err := FromStream(context.Background(), bytes.NewReader(data), StreamOptions{TempDir: tmp}); err == nil {
		t.Fatal("a tar entry climbing out of the context was accepted")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(tmp), "escape")); err == nil {
		t.Errorf("an entry escaped the context directory")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temp dir left behind: %v", entries)
	}
}

func TestFromStreamBadTarCleansUp(t *testing.T) {
	tmp := t.TempDir()
	data := mkTar(t, map[string]string{"a": strings.Repeat("x", 4096)}, false)
	_, err := FromStream(context.Background(), bytes.NewReader(data[:1500]), StreamOptions{TempDir: tmp})
	if err == nil {
		t.Fatal("truncated tar accepted")
	}
	if entries, _ := os.ReadDir(tmp); len(entries) != 0 {
		t.Errorf("temp dir left behind: %v", entries)
	}
}

func TestIsArchive(t *testing.T) {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	long := strings.Repeat("x", 3000) // a PAX record larger than the peeked head
	tw.WriteHeader(&tar.Header{Name: long, Mode: 0o644, Typeflag: tar.TypeReg, PAXRecords: map[string]string{"comment": long}})
	tw.Close()
	head := b.Bytes()[:1024]
	if !isArchive(head) {
		t.Errorf("PAX tar not detected")
	}
	if isArchive([]byte("FROM busybox\nRUN echo\n")) {
		t.Errorf("Dockerfile taken for an archive")
	}
	if !isArchive([]byte{0x1f, 0x8b, 8, 0}) || !isArchive([]byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Errorf("compressed streams not detected")
	}
}
