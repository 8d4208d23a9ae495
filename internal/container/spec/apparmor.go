package spec

import (
	"fmt"
	"os/exec"
	"sync"

	"github.com/moby/profiles/apparmor"

	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/hoistproject/hoist/internal/rootless"
)

// DefaultAppArmorProfile is hoist's name for docker's default AppArmor
// profile (dockerd's "docker-default"), generated from the same template
// (github.com/moby/profiles/apparmor) and loaded with apparmor_parser the
// first time a container needs it on a host that enforces AppArmor.
const DefaultAppArmorProfile = "hoist-default"

// appArmorProfile is the AppArmor profile of a process, as docker chooses
// it: none where the host has AppArmor off, for --privileged, for
// apparmor=unconfined and in rootless hoist (a user cannot load
// profiles); the named one for apparmor=NAME; else the default profile,
// loaded if it is not yet.
func appArmorProfile(sec SecurityOpts, privileged bool) (string, error) {
	if !appArmorOn() || sec.AppArmor == "unconfined" {
		return "", nil
	}
	if sec.AppArmor != "" {
		return sec.AppArmor, nil
	}
	if privileged || rootless.Running() {
		return "", nil
	}
	if err := loadDefaultAppArmor(); err != nil {
		return "", err
	}
	return DefaultAppArmorProfile, nil
}

// appArmorOn is AppArmorEnabled (a variable for the unit test).
var appArmorOn = AppArmorEnabled

// loadDefaultAppArmor loads the default profile once per process, unless
// the kernel has it already.
var loadDefaultAppArmor = sync.OnceValue(func() error {
	if ok, err := apparmor.IsLoaded(DefaultAppArmorProfile); err == nil && ok {
		return nil
	}
	if _, err := exec.LookPath("apparmor_parser"); err != nil {
		return errdefs.FailedPreconditionf("AppArmor is enabled on this host but apparmor_parser is not installed (apt-get install apparmor), so docker's default profile cannot be loaded; or run with --security-opt apparmor=unconfined")
	}
	if err := apparmor.InstallDefault(DefaultAppArmorProfile); err != nil {
		return fmt.Errorf("loading the default AppArmor profile %s: %w", DefaultAppArmorProfile, err)
	}
	return nil
})
