package cli

import (
	"bytes"
	"testing"

	"github.com/hoistproject/hoist/internal/registry/client"
	"github.com/hoistproject/hoist/internal/units"
)

func TestProgressPlain(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false)
	for _, ev := range []client.Event{
		{ID: "aaa", Status: client.StatusPullingFSLayer}, {ID: "bbb", Status: client.StatusAlreadyExists},
		{ID: "aaa", Status: client.StatusDownloading, Current: 10, Total: 100},
		{ID: "aaa", Status: client.StatusDownloading, Current: 100, Total: 100},
		{ID: "aaa", Status: client.StatusVerifying}, {ID: "aaa", Status: client.StatusDownloadComplete},
		{ID: "aaa", Status: client.StatusDownloadComplete},
	} {
		p.Event(ev)
	}
	want := "aaa: Pulling fs layer\nbbb: Already exists\naaa: Verifying Checksum\naaa: Download complete\n"
	if b.String() != want {
		t.Fatalf("got %q", b.String())
	}
}

func TestProgressTTY(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, true)
	p.Update("aaa", client.StatusPullingFSLayer, 0, 0)
	p.Update("bbb", client.StatusPullingFSLayer, 0, 0)
	b.Reset()
	p.Update("aaa", client.StatusDownloading, 1234567, 27090000)
	want := "\x1b[2A\x1b[2K\raaa: Downloading [==>                                                ]  1.235MB/27.09MB\x1b[2B\r"
	if b.String() != want {
		t.Fatalf("got  %q\nwant %q", b.String(), want)
	}
	if got := progressBar(5, 5); got != "[==================================================>]       5B/5B" {
		t.Fatalf("full bar %q", got)
	}
	if units.HumanSize(999, 4) != "999B" || units.HumanSize(204_800_000, 4) != "204.8MB" {
		t.Fatal(units.HumanSize(999, 4), units.HumanSize(204_800_000, 4))
	}
}

func TestProgressAlreadyExistsIsFinal(t *testing.T) {
	var b bytes.Buffer
	p := newProgress(&b, false)
	p.Update("abc", client.StatusAlreadyExists, 0, 0)
	p.Update("abc", "Extracting", 1, 2)
	p.Update("abc", "Pull complete", 0, 0)
	if b.String() != "abc: Already exists\n" {
		t.Fatalf("got %q", b.String())
	}
}
