package cp

import (
	"archive/tar"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// From writes a tar stream of the path src in the root filesystem rootfs
// of container ref (a file or directory, named by its base name in the
// stream), as `docker cp CTR:SRC -` does. src is resolved inside rootfs
// (symlinks cannot leave it); with follow, a final symlink is followed.
// as names the top entry ("" keeps the base name).
func From(ctx context.Context, w io.Writer, rootfs, ref, src string, follow bool, as string) error {
	clean := path.Clean("/" + src)
	parent, base := path.Split(clean)
	if base == "" {
		base = "."
	}
	dir, err := securejoin.SecureJoin(rootfs, parent)
	if err != nil {
		return err
	}
	full := filepath.Join(dir, base)
	fi, err := os.Lstat(full)
	if err != nil {
		return errdefs.NotFoundf("Could not find the file %s in container %s", src, ref)
	}
	if follow && fi.Mode()&os.ModeSymlink != 0 {
		if full, err = securejoin.SecureJoin(rootfs, strings.TrimPrefix(clean, "/")); err != nil {
			return err
		}
		if fi, err = os.Lstat(full); err != nil {
			return errdefs.NotFoundf("Could not find the file %s in container %s", src, ref)
		}
	}
	name := base
	if clean == "/" {
		name = "."
	}
	if as != "" {
		name = as
	}
	return tarPath(ctx, w, full, fi, name, nil)
}

// To extracts the tar stream r into the directory dst in the root
// filesystem rootfs of container ref, as `docker cp - CTR:DST` does. dst is
// resolved inside rootfs and the extraction never writes outside it.
func To(ctx context.Context, rootfs, ref, dst string, r io.Reader) error {
	dir, err := securejoin.SecureJoin(rootfs, path.Clean("/"+dst))
	if err != nil {
		return err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return errdefs.NotFoundf("Could not find the file %s in container %s", dst, ref)
	}
	if !fi.IsDir() {
		return errdefs.InvalidArgumentf("extraction point is not a directory: %s", dst)
	}
	_, err = archive.Apply(ctx, dir, r, archive.ApplyOptions{})
	return err
}

// tarPath writes full (a file, symlink or directory) as a tar stream whose
// entries are under name.
func tarPath(ctx context.Context, w io.Writer, full string, fi os.FileInfo, name string, fix func(*tar.Header)) error {
	if fix == nil {
		fix = func(*tar.Header) {}
	}
	if fi.IsDir() {
		// archive.Tar writes the directory's contents; put them under name.
		pr, pw := io.Pipe()
		go func() { pw.CloseWithError(archive.Tar(ctx, pw, full, archive.TarOptions{})) }()
		tr := tar.NewReader(pr)
		tw := tar.NewWriter(w)
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			pr.CloseWithError(err)
			return err
		}
		hdr.Name, hdr.Uname, hdr.Gname = name+"/", "", ""
		fix(hdr)
		if err := tw.WriteHeader(hdr); err != nil {
			pr.CloseWithError(err)
			return err
		}
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			h.Name = path.Join(name, h.Name)
			if h.Typeflag == tar.TypeDir {
				h.Name += "/"
			}
			if h.Typeflag == tar.TypeLink {
				h.Linkname = path.Join(name, h.Linkname)
			}
			fix(h)
			if err := tw.WriteHeader(h); err != nil {
				pr.CloseWithError(err)
				return err
			}
			if _, err := io.Copy(tw, tr); err != nil {
				pr.CloseWithError(err)
				return err
			}
		}
		return tw.Close()
	}
	link := ""
	if fi.Mode()&os.ModeSymlink != 0 {
		l, err := os.Readlink(full)
		if err != nil {
			return err
		}
		link = l
	}
	hdr, err := tar.FileInfoHeader(fi, link)
	if err != nil {
		return err
	}
	hdr.Name, hdr.Uname, hdr.Gname = name, "", ""
	fix(hdr)
	tw := tar.NewWriter(w)
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	if fi.Mode().IsRegular() {
		f, err := os.OpenFile(full, os.O_RDONLY|0x20000 /* O_NOFOLLOW */, 0)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.Copy(tw, f); err != nil {
			return err
		}
	}
	return tw.Close()
}

// TarHostPath writes a host path as a tar stream under name (for `cp` into a
// container). Unless keepOwner, entries are owned by root (docker cp without
// -a).
func TarHostPath(ctx context.Context, w io.Writer, hostPath, name string, follow, keepOwner bool) error {
	stat := os.Lstat
	if follow {
		stat = os.Stat
	}
	fi, err := stat(hostPath)
	if err != nil {
		return errdefs.NotFoundf("could not find the file %s on the host", hostPath)
	}
	if follow && fi.Mode()&os.ModeSymlink == 0 {
		if p, err := filepath.EvalSymlinks(hostPath); err == nil {
			hostPath = p
		}
	}
	var fix func(*tar.Header)
	if !keepOwner {
		fix = func(h *tar.Header) { h.Uid, h.Gid = 0, 0 }
	}
	return tarPath(ctx, w, hostPath, fi, name, fix)
}
