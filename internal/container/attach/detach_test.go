package attach

import (
	"bytes"
	"testing"
)

func TestDetacher(t *testing.T) {
	d := detacher{keys: []byte{0x10, 0x11}}
	var sent []byte
	for _, chunk := range []string{"ab\x10", "c\x10", "\x10", "\x11zz"} {
		p, detach := d.scan([]byte(chunk))
		sent = append(sent, p...)
		if detach {
			if string(sent) != "ab\x10c\x10" {
				t.Fatalf("sent %q before detaching", sent)
			}
			return
		}
	}
	t.Fatalf("no detach; sent %q", sent)
}

func TestParseDetachKeys(t *testing.T) {
	for in, want := range map[string][]byte{"ctrl-p,ctrl-q": {0x10, 0x11}, "a,ctrl-@,ctrl-_": {'a', 0, 0x1f}} {
		if got, err := ParseDetachKeys(in); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%q: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"ctrl-", "ctrl-pq", "ab", ""} {
		if _, err := ParseDetachKeys(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
