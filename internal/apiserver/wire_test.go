package apiserver

import (
	"net/http/httptest"
	"testing"
)

// Docker's boolean query parameters: docker-py sends Python's booleans
// as "True" and "False" (stats?stream=False streamed forever once).
func TestBoolValue(t *testing.T) {
	for q, want := range map[string]bool{"": false, "?x=": false, "?x=0": false, "?x=no": false, "?x=false": false,
		"?x=False": false, "?x=FALSE": false, "?x=%20none%20": false, "?x=1": true, "?x=true": true, "?x=True": true, "?x=yes": true} {
		if got := boolValue(httptest.NewRequest("GET", "/"+q, nil), "x"); got != want {
			t.Errorf("boolValue(%q) = %v", q, got)
		}
	}
	for q, want := range map[string]bool{"": true, "?x=": false, "?x=False": false, "?x=1": true} {
		if got := boolValueOr(httptest.NewRequest("GET", "/"+q, nil), "x", true); got != want {
			t.Errorf("boolValueOr(%q, true) = %v", q, got)
		}
	}
}
