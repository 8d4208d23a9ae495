package client

import (
	"encoding/json"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// FuzzSelectManifest: whatever an index holds, SelectManifest never
// panics, fails only with a bad-input or not-found error, and what it
// picks is an entry of the index whose platform matches the one asked for.
func FuzzSelectManifest(f *testing.F) {
	for _, s := range []string{
		`{"schemaVersion":2,"manifests":[{"digest":"sha256:aa","size":1,"platform":{"os":"linux","architecture":"amd64"}}]}`,
		`{"manifests":[{"platform":{"os":"linux","architecture":"arm","variant":"v7"}},{"platform":{"os":"linux","architecture":"arm64"}}]}`,
		`{"manifests":[{"platform":{"os":"unknown","architecture":"unknown"}},{"platform":null}]}`,
		`{"manifests":null}`, `[]`, `{`, ``,
	} {
		f.Add([]byte(s), "linux", "amd64", "")
		f.Add([]byte(s), "linux", "arm", "v7")
	}
	f.Fuzz(func(t *testing.T, index []byte, os, arch, variant string) {
		want := ocispec.Platform{OS: os, Architecture: arch, Variant: variant}
		d, err := SelectManifest(index, want)
		if err != nil {
			if !errdefs.IsInvalidArgument(err) && !errdefs.IsNotFound(err) {
				t.Fatalf("SelectManifest(%q, %v): error of another class: %v", index, want, err)
			}
			return
		}
		var idx ocispec.Index
		if json.Unmarshal(index, &idx) != nil {
			t.Fatalf("SelectManifest picked %v from an index that does not parse", d)
		}
		if d.Platform == nil || !PlatformMatches(*d.Platform, want) {
			t.Fatalf("SelectManifest(%q, %v) = %v: platform does not match", index, want, d)
		}
	})
}
