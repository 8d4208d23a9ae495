package spec

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/cyphar/filepath-securejoin/pathrs-lite"

	"github.com/hoistproject/hoist/internal/errdefs"
)

// ExecUser is a resolved USER[:GROUP].
type ExecUser struct {
	UID, GID uint32
	// Groups are the supplementary groups: the primary group first (as
	// docker since 20.10.18, CVE-2022-36109: a process must not shed its
	// primary group with setgroups to get past a deny-by-group file), then
	// the user's /etc/group memberships.
	Groups []uint32
	Home   string
}

type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

type groupEntry struct {
	name    string
	gid     uint32
	members []string
}

// readInRoot opens path inside rootfs without following symlinks out of it.
func readInRoot(rootfs, path string) ([]byte, error) {
	f, err := pathrs.OpenInRoot(rootfs, path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	rf, err := pathrs.Reopen(f, 0) // O_RDONLY
	if err != nil {
		return nil, err
	}
	defer rf.Close()
	return io.ReadAll(io.LimitReader(rf, 16<<20))
}

func parseColonFile(b []byte, fn func(fields []string)) {
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fn(strings.Split(line, ":"))
	}
}

func parsePasswd(b []byte) []passwdEntry {
	var out []passwdEntry
	parseColonFile(b, func(f []string) {
		if len(f) < 4 {
			return
		}
		uid, err1 := strconv.ParseUint(f[2], 10, 32)
		gid, err2 := strconv.ParseUint(f[3], 10, 32)
		if err1 != nil || err2 != nil {
			return
		}
		e := passwdEntry{name: f[0], uid: uint32(uid), gid: uint32(gid)}
		if len(f) > 5 {
			e.home = f[5]
		}
		out = append(out, e)
	})
	return out
}

func parseGroup(b []byte) []groupEntry {
	var out []groupEntry
	parseColonFile(b, func(f []string) {
		if len(f) < 3 {
			return
		}
		gid, err := strconv.ParseUint(f[2], 10, 32)
		if err != nil {
			return
		}
		e := groupEntry{name: f[0], gid: uint32(gid)}
		if len(f) > 3 && f[3] != "" {
			e.members = strings.Split(f[3], ",")
		}
		out = append(out, e)
	})
	return out
}

// ResolveUser resolves a docker USER spec ("", "name", "uid", "name:group",
// "uid:gid", ...) against the /etc/passwd and /etc/group inside rootfs.
func ResolveUser(rootfs, spec string) (ExecUser, error) {
	u := ExecUser{Home: "/"}
	userPart, groupPart, hasGroup := strings.Cut(spec, ":")
	if userPart == "" {
		userPart = "0"
	}
	pwBytes, pwErr := readInRoot(rootfs, "/etc/passwd")
	grBytes, _ := readInRoot(rootfs, "/etc/group")
	users, groups := parsePasswd(pwBytes), parseGroup(grBytes)

	name := ""
	if n, err := strconv.ParseUint(userPart, 10, 32); err == nil {
		u.UID = uint32(n)
		for _, e := range users {
			if e.uid == u.UID {
				u.GID, u.Home, name = e.gid, e.home, e.name
				break
			}
		}
	} else {
		found := false
		for _, e := range users {
			if e.name == userPart {
				u.UID, u.GID, u.Home, name, found = e.uid, e.gid, e.home, e.name, true
				break
			}
		}
		if !found {
			if pwErr != nil {
				return u, errdefs.InvalidArgumentf("unable to find user %s: no matching entries in passwd file", userPart)
			}
			return u, errdefs.InvalidArgumentf("unable to find user %s: no matching entries in passwd file", userPart)
		}
	}
	if hasGroup {
		if n, err := strconv.ParseUint(groupPart, 10, 32); err == nil {
			u.GID = uint32(n)
		} else {
			found := false
			for _, g := range groups {
				if g.name == groupPart {
					u.GID, found = g.gid, true
					break
				}
			}
			if !found {
				return u, errdefs.InvalidArgumentf("unable to find group %s: no matching entries in group file", groupPart)
			}
		}
	} else if name != "" {
		// Supplementary groups from /etc/group membership (only when no
		// explicit group is given, like docker).
		for _, g := range groups {
			for _, mbr := range g.members {
				if mbr == name && g.gid != u.GID {
					u.Groups = append(u.Groups, g.gid)
				}
			}
		}
	}
	u.Groups = append([]uint32{u.GID}, u.Groups...)
	if u.Home == "" {
		u.Home = "/"
	}
	return u, nil
}

func (u ExecUser) String() string { return fmt.Sprintf("%d:%d", u.UID, u.GID) }
