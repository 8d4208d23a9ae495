package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

func TestTagsList(t *testing.T) {
	r := newTestRegistry(t)
	im := r.image("t/app", "x", true)
	for _, tag := range []string{"c", "a", "e", "b", "d"} {
		r.expect(r.putManifest("t/app", tag, ociManifest, im.manifest), http.StatusCreated, "")
	}
	list := func(q string) ([]string, string) {
		resp := r.do("GET", "/v2/t/app/tags/list"+q, nil)
		b := r.expect(resp, http.StatusOK, "")
		var v struct {
			Name string
			Tags []string
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Name != "t/app" {
			t.Fatalf("tags list: %s", b)
		}
		return v.Tags, resp.Header.Get("Link")
	}
	if tags, link := list(""); !reflect.DeepEqual(tags, []string{"a", "b", "c", "d", "e"}) || link != "" {
		t.Fatalf("all: %v %q", tags, link)
	}
	tags, link := list("?n=2")
	if !reflect.DeepEqual(tags, []string{"a", "b"}) || link != `</v2/t/app/tags/list?last=b&n=2>; rel="next"` {
		t.Fatalf("n=2: %v %q", tags, link)
	}
	if tags, link := list("?n=2&last=b"); !reflect.DeepEqual(tags, []string{"c", "d"}) || link == "" {
		t.Fatalf("page 2: %v %q", tags, link)
	}
	if tags, link := list("?n=2&last=d"); !reflect.DeepEqual(tags, []string{"e"}) || link != "" {
		t.Fatalf("last page: %v %q", tags, link)
	}
	if tags, link := list("?n=0"); len(tags) != 0 || tags == nil || link != "" {
		t.Fatalf("n=0: %v %q", tags, link)
	}
	if tags, _ := list("?last=bb"); !reflect.DeepEqual(tags, []string{"c", "d", "e"}) {
		t.Fatalf("last=bb: %v", tags)
	}
	r.expect(r.do("GET", "/v2/t/app/tags/list?n=-1", nil), http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
	r.expect(r.do("GET", "/v2/t/app/tags/list?n=x", nil), http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
	r.expect(r.do("GET", "/v2/t/none/tags/list", nil), http.StatusNotFound, "NAME_UNKNOWN")
	r.expect(r.do("GET", "/v2/T/tags/list", nil), http.StatusBadRequest, "NAME_INVALID")
	// A repository with blobs but no tags lists none.
	r.pushBlob("t/blobsonly", []byte("x"))
	resp := r.do("GET", "/v2/t/blobsonly/tags/list", nil)
	if b := r.expect(resp, http.StatusOK, ""); !strings.Contains(string(b), `"tags":[]`) {
		t.Fatalf("no tags: %s", b)
	}
}

func TestCatalog(t *testing.T) {
	r := newTestRegistry(t)
	names := []string{"b/two", "a", "c/d/e", "a/sub"}
	for _, n := range names {
		r.pushBlob(n, []byte(n))
	}
	list := func(q string) ([]string, string) {
		resp := r.do("GET", "/v2/_catalog"+q, nil)
		b := r.expect(resp, http.StatusOK, "")
		var v struct{ Repositories []string }
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		return v.Repositories, resp.Header.Get("Link")
	}
	want := []string{"a", "a/sub", "b/two", "c/d/e"}
	if got, link := list(""); !reflect.DeepEqual(got, want) || link != "" {
		t.Fatalf("catalog %v %q", got, link)
	}
	if got, link := list("?n=2147483647"); !reflect.DeepEqual(got, want) || link != "" {
		t.Fatalf("huge n: %v %q", got, link)
	}
	got, link := list("?n=2")
	if !reflect.DeepEqual(got, want[:2]) || link != `</v2/_catalog?last=a%2Fsub&n=2>; rel="next"` {
		t.Fatalf("n=2: %v %q", got, link)
	}
	if got, _ := list("?n=2&last=a%2Fsub"); !reflect.DeepEqual(got, want[2:]) {
		t.Fatalf("page 2: %v", got)
	}
	r.expect(r.do("GET", "/v2/_catalog?n=-5", nil), http.StatusBadRequest, "PAGINATION_NUMBER_INVALID")
}

func TestCatalogBoundedPages(t *testing.T) {
	r := newTestRegistry(t)
	s := r.srv.Config.Handler.(*Server)
	s.maxCatalog = 3
	for i := range 5 {
		r.pushBlob(fmt.Sprintf("r%d", i), []byte("x"))
	}
	for _, q := range []string{"", "?n=2147483647"} {
		resp := r.do("GET", "/v2/_catalog"+q, nil)
		b := r.expect(resp, http.StatusOK, "")
		var v struct{ Repositories []string }
		json.Unmarshal(b, &v)
		if len(v.Repositories) != 3 || resp.Header.Get("Link") == "" {
			t.Fatalf("%q: %v %q", q, v.Repositories, resp.Header.Get("Link"))
		}
	}
}

func TestReadOnly(t *testing.T) {
	r := newTestRegistry(t, WithReadOnly(true))
	r.expect(r.do("POST", "/v2/a/blobs/uploads/", nil), http.StatusMethodNotAllowed, "UNSUPPORTED")
	r.expect(r.do("PUT", "/v2/a/manifests/v1", "{}"), http.StatusMethodNotAllowed, "UNSUPPORTED")
	r.expect(r.do("DELETE", "/v2/a/manifests/v1", nil), http.StatusMethodNotAllowed, "UNSUPPORTED")
	r.expect(r.do("GET", "/v2/", nil), http.StatusOK, "")
}

func TestMetrics(t *testing.T) {
	m := NewMetrics()
	r := newTestRegistry(t, WithMetrics(m))
	im := r.image("m", "x", true)
	r.expect(r.putManifest("m", "v1", ociManifest, im.manifest), http.StatusCreated, "")
	r.expect(r.do("GET", "/v2/m/manifests/v1", nil), http.StatusOK, "")
	r.expect(r.do("GET", "/v2/m/manifests/nope", nil), http.StatusNotFound, "")
	m.GCRun(2, 100, 1, false)
	b := string(r.expect(r.do("GET", "/metrics", nil), http.StatusOK, ""))
	for _, want := range []string{
		`hoist_registry_http_requests_total{route="manifest",method="GET",code="200"} 1`,
		`hoist_registry_http_requests_total{route="manifest",method="GET",code="404"} 1`,
		`hoist_registry_http_requests_total{route="upload_start",method="POST",code="201"} 2`,
		`hoist_registry_http_request_duration_seconds_count{route="manifest"} 3`,
		`hoist_registry_http_request_duration_seconds_bucket{route="manifest",le="+Inf"} 3`,
		"hoist_registry_gc_runs_total 1",
		"hoist_registry_gc_bytes_freed_total 100",
		"hoist_registry_http_request_bytes_total ",
		"hoist_registry_http_response_bytes_total ",
	} {
		if !strings.Contains(b, want) {
			t.Errorf("metrics lack %q", want)
		}
	}
}
