package configstep

import (
	"fmt"
	"strings"

	"github.com/hoistproject/hoist/internal/dockerfile"
	"github.com/hoistproject/hoist/internal/images"
)

// Step is a config-only instruction ready to apply.
type Step struct {
	// Text is the instruction as recorded in history (BuildKit's form) and
	// in the step's cache key.
	Text string
	// Inputs are other inputs of the cache key.
	Inputs []string
	// NoHistory: the step writes no history entry (ONBUILD).
	NoHistory bool
	// Apply makes the change to a config.
	Apply func(cfg *images.Config)
}

// For returns the step of x, an instruction whose variables are expanded;
// ok is false when x is not a config-only instruction. shell is the
// current config's SHELL, cmdSet whether the stage gave a CMD before x
// (ENTRYPOINT resets an inherited CMD, not the stage's own).
func For(x dockerfile.Instruction, shell []string, cmdSet bool) (s Step, ok bool, err error) {
	switch x := x.(type) {
	case *dockerfile.Env:
		vars := x.Vars
		return Step{Text: pairsText("ENV", vars), Apply: func(cfg *images.Config) {
			for _, kv := range vars {
				cfg.Config.Env = setEnv(cfg.Config.Env, kv.Key, kv.Value)
			}
		}}, true, nil
	case *dockerfile.Label:
		labels := x.Labels
		return Step{Text: pairsText("LABEL", labels), Apply: func(cfg *images.Config) {
			if cfg.Config.Labels == nil {
				cfg.Config.Labels = map[string]string{}
			}
			for _, kv := range labels {
				cfg.Config.Labels[kv.Key] = kv.Value
			}
		}}, true, nil
	case *dockerfile.Maintainer:
		h := "MAINTAINER " + x.Name
		return Step{Text: h, Apply: func(cfg *images.Config) { cfg.Author = x.Name }}, true, nil
	case *dockerfile.Cmd:
		args := WithShell(x.CommandLine, shell)
		h := fmt.Sprintf("CMD %q", args)
		return Step{Text: h, Apply: func(cfg *images.Config) {
			cfg.Config.Cmd = args
			cfg.Config.ArgsEscaped = true
		}}, true, nil
	case *dockerfile.Entrypoint:
		args := WithShell(x.CommandLine, shell)
		h := fmt.Sprintf("ENTRYPOINT %q", args)
		return Step{Text: h, Inputs: []string{fmt.Sprint(cmdSet)}, Apply: func(cfg *images.Config) {
			cfg.Config.Entrypoint = args
			if !cmdSet {
				cfg.Config.Cmd = nil
			}
			cfg.Config.ArgsEscaped = true
		}}, true, nil
	case *dockerfile.Expose:
		ports, err := dockerfile.ExposedPorts(x.Ports)
		if err != nil {
			return Step{}, false, err
		}
		h := fmt.Sprintf("EXPOSE %v", ports)
		return Step{Text: h, Apply: func(cfg *images.Config) {
			if cfg.Config.ExposedPorts == nil {
				cfg.Config.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.Config.ExposedPorts[p] = struct{}{}
			}
		}}, true, nil
	case *dockerfile.Volume:
		h := fmt.Sprintf("VOLUME %v", x.Paths)
		return Step{Text: h, Apply: func(cfg *images.Config) {
			if cfg.Config.Volumes == nil {
				cfg.Config.Volumes = map[string]struct{}{}
			}
			for _, p := range x.Paths {
				cfg.Config.Volumes[p] = struct{}{}
			}
		}}, true, nil
	case *dockerfile.User:
		h := "USER " + x.User
		return Step{Text: h, Apply: func(cfg *images.Config) { cfg.Config.User = x.User }}, true, nil
	case *dockerfile.StopSignal:
		h := "STOPSIGNAL " + x.Signal
		return Step{Text: h, Apply: func(cfg *images.Config) { cfg.Config.StopSignal = x.Signal }}, true, nil
	case *dockerfile.Shell:
		h := fmt.Sprintf("SHELL %v", x.Shell)
		return Step{Text: h, Apply: func(cfg *images.Config) { cfg.Config.Shell = x.Shell }}, true, nil
	case *dockerfile.Healthcheck:
		hc := &images.HealthConfig{Test: x.Test, Interval: x.Interval, Timeout: x.Timeout, StartPeriod: x.StartPeriod, StartInterval: x.StartInterval, Retries: x.Retries}
		h := fmt.Sprintf("HEALTHCHECK %+v", *hc)
		return Step{Text: h, Apply: func(cfg *images.Config) { cfg.Config.Healthcheck = hc }}, true, nil
	case *dockerfile.Onbuild:
		expr := x.Expression
		return Step{Text: "ONBUILD " + expr, NoHistory: true, Apply: func(cfg *images.Config) {
			cfg.Config.OnBuild = append(cfg.Config.OnBuild, expr)
		}}, true, nil
	}
	return Step{}, false, nil
}

// pairsText is "KW k=v k2=v2".
func pairsText(kw string, kvs []dockerfile.KeyValue) string {
	var b strings.Builder
	b.WriteString(kw)
	for _, kv := range kvs {
		fmt.Fprintf(&b, " %s=%s", kv.Key, kv.Value)
	}
	return b.String()
}

// WithShell returns the argv of a CMD/ENTRYPOINT/RUN: exec form as is,
// shell form prefixed by shell, the image's SHELL (default /bin/sh -c).
func WithShell(cl dockerfile.CommandLine, shell []string) []string {
	if cl.Exec {
		if cl.Args == nil {
			return []string{}
		}
		return append([]string(nil), cl.Args...)
	}
	sh := shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string(nil), sh...), strings.Join(cl.Args, " "))
}

// setEnv sets key in env in place of an existing entry, else appends.
func setEnv(env []string, key, value string) []string {
	for i, e := range env {
		if k, _, _ := strings.Cut(e, "="); k == key {
			env[i] = key + "=" + value
			return env
		}
	}
	return append(env, key+"="+value)
}
