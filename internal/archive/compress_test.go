package archive

import (
	"bytes"
	"encoding/hex"
	"io"
	"os/exec"
	"strings"
	"testing"
)

func TestCompressRoundTrip(t *testing.T) {
	payload := bytes.Repeat([]byte("layer bytes "), 300000)
	for _, c := range []Compression{Uncompressed, Gzip, Zstd, Xz} {
		t.Run(c.String(), func(t *testing.T) {
			var buf bytes.Buffer
			w, err := CompressStream(&buf, c)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(payload); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if c != Uncompressed && buf.Len() >= len(payload) {
				t.Errorf("%s did not compress: %d bytes", c, buf.Len())
			}
			// deterministic: same input, same bytes
			var again bytes.Buffer
			w2, _ := CompressStream(&again, c)
			w2.Write(payload)
			w2.Close()
			if !bytes.Equal(buf.Bytes(), again.Bytes()) {
				t.Errorf("%s output is not deterministic", c)
			}
			rc, got, err := DecompressStream(&buf)
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			if got != c {
				t.Errorf("detected %s, want %s", got, c)
			}
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(out, payload) {
				t.Errorf("round trip changed the bytes (%d vs %d)", len(out), len(payload))
			}
		})
	}
	if _, err := CompressStream(io.Discard, Bzip2); err == nil {
		t.Error("bzip2 compression should be reported as not implemented")
	}
}

func TestDecompressBzip2(t *testing.T) {
	// "hello bzip2" compressed by bzip2(1).
	data, _ := hex.DecodeString("425a6839314159265359555a44f70000021980400010001264c0102000220069ea100305d3b62183c5dc914e14241556913dc0")
	rc, c, err := DecompressStream(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(rc)
	if err != nil || c != Bzip2 || string(out) != "hello bzip2" {
		t.Errorf("got %q %s %v", out, c, err)
	}
}

// The command-line tools produce streams we must read (multi-member gzip,
// zstd frames with checksums, xz with CRC64).
func TestDecompressCLITools(t *testing.T) {
	payload := strings.Repeat("from the command line\n", 10000)
	for _, tc := range []struct {
		tool string
		args []string
		want Compression
	}{
		{"gzip", []string{"-c"}, Gzip},
		{"zstd", []string{"-c", "-q", "--check"}, Zstd},
		{"xz", []string{"-c"}, Xz},
		{"bzip2", []string{"-c"}, Bzip2},
	} {
		t.Run(tc.tool, func(t *testing.T) {
			if _, err := exec.LookPath(tc.tool); err != nil {
				t.Skipf("%s not installed", tc.tool)
			}
			cmd := exec.Command(tc.tool, tc.args...)
			cmd.Stdin = strings.NewReader(payload)
			data, err := cmd.Output()
			if err != nil {
				t.Fatal(err)
			}
			if tc.tool == "gzip" {
				data = append(data, data...) // two members
			}
			rc, c, err := DecompressStream(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			out, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			want := payload
			if tc.tool == "gzip" {
				want += payload
			}
			if c != tc.want || string(out) != want {
				t.Errorf("got %s, %d bytes; want %s, %d bytes", c, len(out), tc.want, len(want))
			}
		})
	}
}

func TestDecompressSniffsNotNames(t *testing.T) {
	for _, in := range []string{"", "x", "plain tar bytes", "\x1f"} {
		rc, c, err := DecompressStream(strings.NewReader(in))
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		out, _ := io.ReadAll(rc)
		if c != Uncompressed || string(out) != in {
			t.Errorf("%q: got %s %q", in, c, out)
		}
	}
	// A corrupt gzip stream is an error, not garbage.
	rc, _, err := DecompressStream(bytes.NewReader([]byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff, 1, 2, 3}))
	if err == nil {
		_, err = io.ReadAll(rc)
	}
	if err == nil {
		t.Error("corrupt gzip read without error")
	}
}
