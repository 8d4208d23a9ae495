package mount

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hoistproject/hoist/internal/fsutil"
	"github.com/hoistproject/hoist/internal/rootless"
)

// Overlay kinds: how Overlay mounts are made.
const (
	// KernelOverlay is the kernel's overlayfs (in a user namespace with
	// userxattr, kernel >= 5.11).
	KernelOverlay = "overlay"
	// FuseOverlay is fuse-overlayfs (Debian's fuse-overlayfs package), the
	// fallback where the kernel's overlay cannot be mounted in the user
	// namespace.
	FuseOverlay = "fuse-overlayfs"
)

// fuseType is the filesystem type of fuse-overlayfs mounts in mountinfo.
const fuseType = "fuse." + FuseOverlay

// OverlayKindEnv forces the overlay kind of a store that has none
// recorded yet (tests, benchmarks): "overlay" or "fuse-overlayfs".
const OverlayKindEnv = "HOIST_ROOTLESS_OVERLAY"

// kindFile records a root's overlay kind, chosen at its first use.
const kindFile = "overlay-kind"

// ChooseOverlay returns the overlay kind recorded for the hoist root
// (<root>/overlay-kind) and, for a root without a record, chooses it once
// and records it: OverlayKindEnv when set; else the
// kernel's overlay, unless (in rootless hoist only) a probe mount of it
// fails with EPERM or EINVAL and fuse-overlayfs mounts where it did not.
// Where neither mounts, the kernel's is recorded (containers then fall
// back to copies, as before).
func ChooseOverlay(root string) (string, error) {
	rec := filepath.Join(root, kindFile)
	b, err := os.ReadFile(rec)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if k != KernelOverlay && k != FuseOverlay {
			return "", fmt.Errorf("%s: unknown overlay kind %q (want %q or %q)", rec, k, KernelOverlay, FuseOverlay)
		}
		return k, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	k, err := probeOverlay(root)
	if err != nil {
		return "", err
	}
	if err := fsutil.WriteFileAtomic(rec, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, k+"\n")
		return err
	}); err != nil {
		return "", err
	}
	return k, nil
}

// probeOverlay picks the overlay kind of a new root.
func probeOverlay(root string) (string, error) {
	switch k := os.Getenv(OverlayKindEnv); k {
	case "":
	case KernelOverlay, FuseOverlay:
		return k, nil
	default:
		return "", fmt.Errorf("%s=%q: want %q or %q", OverlayKindEnv, k, KernelOverlay, FuseOverlay)
	}
	if !rootless.Running() {
		return KernelOverlay, nil
	}
	dir, err := os.MkdirTemp(root, "overlay-probe-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(dir)
	try := func(kind string) error {
		sub := filepath.Join(dir, kind)
		for _, d := range []string{"lower", "upper", "work", "merged"} {
			if err := os.MkdirAll(filepath.Join(sub, d), 0o700); err != nil {
				return err
			}
		}
		m := Overlay(kind, []string{filepath.Join(sub, "lower")}, filepath.Join(sub, "upper"), filepath.Join(sub, "work"))
		if err := m.Mount(filepath.Join(sub, "merged")); err != nil {
			return err
		}
		return UnmountAll(filepath.Join(sub, "merged"))
	}
	err = try(KernelOverlay)
	if err == nil || !(errors.Is(err, unix.EPERM) || errors.Is(err, unix.EINVAL)) {
		return KernelOverlay, nil
	}
	if try(FuseOverlay) != nil {
		return KernelOverlay, nil
	}
	return FuseOverlay, nil
}

// fuseOverlay describes a fuse-overlayfs mount: the same lowerdir,
// upperdir and workdir options as the kernel's (fuse-overlayfs keeps its
// markers where it can: whiteouts as char devices 0/0, opaque directories
// as user.fuseoverlayfs.opaque plus a ".wh..wh..opq" file; package
// archive reads them).
func fuseOverlay(lowersTopFirst []string, upper, work string) Mount {
	opts := []string{"lowerdir=" + joinLowerdir(lowersTopFirst)}
	if upper != "" {
		opts = append(opts, "upperdir="+escapeOverlay(upper), "workdir="+escapeOverlay(work))
	}
	return Mount{Type: fuseType, Source: FuseOverlay, Options: opts}
}

// mountFuse runs fuse-overlayfs, which mounts and then stays as the
// filesystem's daemon until the mount is unmounted (Unmount, or
// fusermount3 -u). Paths are passed relative to their common parent
// directory (fuse-overlayfs's own lowerdir splits at every ":" and has no
// escapes), as the daemon opens them before it leaves that directory.
func mountFuse(m Mount, target string) error {
	bin, err := exec.LookPath(FuseOverlay)
	if err != nil {
		return fmt.Errorf("mount fuse-overlayfs: %w (Debian package fuse-overlayfs)", err)
	}
	_, data := splitOptions(m.Options)
	dir, rel, err := relativeOverlayOptions(data, func(dir, _ string, paths []string) (string, error) {
		for _, p := range paths {
			if strings.ContainsAny(p, ":,") {
				return "", fmt.Errorf("fuse-overlayfs on %s: the path %s holds ':' or ',', which fuse-overlayfs cannot take", target, filepath.Join(dir, p))
			}
		}
		return strings.Join(paths, ":"), nil
	})
	if err != nil {
		return err
	}
	absTarget, err := filepath.Abs(target)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-o", strings.Join(rel, ","), absTarget)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := strings.TrimSpace(string(out))
		// fuse-overlayfs exits 1 for every failure: the kernel's refusal
		// is in its message.
		if strings.Contains(msg, "Operation not permitted") || strings.Contains(msg, "Permission denied") {
			err = fmt.Errorf("%w: %w", err, unix.EPERM)
		}
		return fmt.Errorf("fuse-overlayfs on %s: %w: %s", target, err, msg)
	}
	return nil
}
