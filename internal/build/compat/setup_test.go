package compat

import "testing"

// setupCtx adds what git cannot hold to a case's context dir: archives,
// special modes, links, empty dirs, odd names.
func setupCtx(t *testing.T, name, dir string) {
	t.Helper()
	if f := setups[name]; f != nil {
		f(t, dir)
	}
}

var setups = map[string]func(t *testing.T, dir string){}
