package errdefs

import (
	"errors"
	"fmt"
	"testing"
)

func TestClassKeepsMessageAndIs(t *testing.T) {
	err := NotFoundf("No such image: %s", "busybox")
	if err.Error() != "No such image: busybox" {
		t.Fatalf("message changed: %q", err)
	}
	wrapped := fmt.Errorf("remove: %w", err)
	if !IsNotFound(wrapped) || IsConflict(wrapped) {
		t.Fatalf("class lost through wrapping")
	}
	base := errors.New("x")
	if !errors.Is(InvalidArgument(base), base) {
		t.Fatalf("original error lost")
	}
	if NotFound(nil) != nil {
		t.Fatalf("nil must stay nil")
	}
}
