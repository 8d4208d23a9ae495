package proc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestStatsFiles(t *testing.T) {
	d := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(d, name)
		os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	if r, w := blkioV1(write("blkio", "8:0 Read 4096\n8:0 Write 512\n8:0 Total 4608\n8:16 Read 100\nTotal 4708\n")); r != 4196 || w != 512 {
		t.Errorf("blkio v1: %d %d", r, w)
	}
	if r, w := ioStatV2(write("io.stat", "8:0 rbytes=10 wbytes=20 rios=1 wios=2\n8:16 rbytes=5 wbytes=0\n")); r != 15 || w != 20 {
		t.Errorf("io.stat: %d %d", r, w)
	}
	if v := statValue(write("memory.stat", "cache 10\ntotal_inactive_file 4096\n"), "total_inactive_file"); v != 4096 {
		t.Errorf("memory.stat: %d", v)
	}
	if u, err := Sample(os.Getpid()); err != nil || u.CPUNanos == 0 || u.MemLimit == 0 {
		t.Errorf("sample of this process: %+v %v", u, err)
	}
}
