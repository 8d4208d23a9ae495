package output

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hoistproject/hoist/internal/errdefs"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Output
	}{
		{"out", Output{Type: "local", Dest: "out"}},
		{"-", Output{Type: "tar", Dest: "-"}},
		{"type=tar,dest=x.tar", Output{Type: "tar", Dest: "x.tar"}},
		{"type=local,dest=/d", Output{Type: "local", Dest: "/d"}},
	} {
		o, err := Parse(c.in)
		if err != nil || *o != c.want {
			t.Errorf("Parse(%q) = %+v, %v", c.in, o, err)
		}
	}
	for _, in := range []string{"type=tar", "dest=x", "type=oci,dest=x", "type=tar,dest=x,foo=1"} {
		if _, err := Parse(in); !errdefs.IsInvalidArgument(err) {
			t.Errorf("Parse(%q): %v, want an invalid-argument error", in, err)
		}
	}
}

// fakeTar writes the directory's name as the "tar" stream.
func fakeTar(_ context.Context, w io.Writer, dir string, _ *time.Time) error {
	_, err := io.WriteString(w, "tar of "+dir)
	return err
}

type recordUnpacker struct{ dir, data string }

func (u *recordUnpacker) Unpack(_ context.Context, mkdir func() (string, error), r io.Reader) (bool, error) {
	d, err := mkdir()
	b, _ := io.ReadAll(r)
	u.dir, u.data = d, string(b)
	return true, err
}

func TestWrite(t *testing.T) {
	ctx := context.Background()
	var stdout bytes.Buffer
	if err := (&Output{Type: "tar", Dest: "-", W: &stdout}).Write(ctx, "/root", fakeTar, nil, nil); err != nil || stdout.String() != "tar of /root" {
		t.Errorf("tar to -: %q, %v", stdout.String(), err)
	}
	f := filepath.Join(t.TempDir(), "x.tar")
	if err := (&Output{Type: "tar", Dest: f}).Write(ctx, "/root", fakeTar, nil, nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(f); string(b) != "tar of /root" {
		t.Errorf("tar file = %q", b)
	}
	d := filepath.Join(t.TempDir(), "out")
	u := &recordUnpacker{}
	if err := (&Output{Type: "local", Dest: d}).Write(ctx, "/root", fakeTar, nil, u); err != nil {
		t.Fatal(err)
	}
	if u.dir != d || u.data != "tar of /root" {
		t.Errorf("local: unpacked %q into %q", u.data, u.dir)
	}
	err := (&Output{Type: "local", Dest: d}).Write(ctx, "/root", fakeTar, nil, nil)
	if !strings.Contains(err.Error(), "exporting to local "+d) {
		t.Errorf("local without unpacker: %v", err)
	}
}
