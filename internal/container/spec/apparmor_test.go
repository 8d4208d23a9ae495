package spec

import (
	"errors"
	"testing"
)

// docker's choice of profile, on a host that enforces AppArmor (simulated:
// this one may not) and on one that does not.
func TestAppArmorProfileChoice(t *testing.T) {
	on, load := appArmorOn, loadDefaultAppArmor
	t.Cleanup(func() { appArmorOn, loadDefaultAppArmor = on, load })
	loaded := 0
	appArmorOn = func() bool { return true }
	loadDefaultAppArmor = func() error { loaded++; return nil }
	for _, c := range []struct {
		sec        SecurityOpts
		privileged bool
		want       string
	}{
		{SecurityOpts{}, false, DefaultAppArmorProfile},
		{SecurityOpts{AppArmor: "unconfined"}, false, ""},
		{SecurityOpts{AppArmor: "my-profile"}, false, "my-profile"},
		{SecurityOpts{}, true, ""},
		{SecurityOpts{AppArmor: "my-profile"}, true, "my-profile"},
	} {
		if got, err := appArmorProfile(c.sec, c.privileged); err != nil || got != c.want {
			t.Errorf("%+v privileged=%v: %q %v, want %q", c.sec, c.privileged, got, err, c.want)
		}
	}
	if loaded != 1 {
		t.Errorf("default profile loaded %d times, want once per default container", loaded)
	}
	loadDefaultAppArmor = func() error { return errors.New("no parser") }
	if _, err := appArmorProfile(SecurityOpts{}, false); err == nil {
		t.Error("a profile that cannot be loaded is not an error")
	}
	appArmorOn = func() bool { return false }
	if got, _ := appArmorProfile(SecurityOpts{AppArmor: "my-profile"}, false); got != "" {
		t.Errorf("AppArmor off: profile %q", got)
	}
}
