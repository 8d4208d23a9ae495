// Package buildcontext is the build context of `hoist build`: a directory
// (or a tar stream extracted into one) filtered by .dockerignore rules, the
// resolution of COPY/ADD source paths in it, and content hashing of those
// sources for build cache keys.
//
// Ignore rules follow docker (BuildKit): `<Dockerfile name>.dockerignore`
// next to the Dockerfile wins over `.dockerignore` at the context root;
// patterns are read with moby/patternmatcher/ignorefile (comments, `!`
// exceptions, `**`, leading `/` and `./` cleaned) and matched with
// moby/patternmatcher against slash-separated paths relative to the context
// root. As with BuildKit, ignored files are never visible to COPY/ADD, the
// Dockerfile and .dockerignore included when they are listed; the Dockerfile
// itself is always read by the builder through its own path.
//
// Nothing follows a symbolic link out of the context: links found while
// walking are reported (and copied) as links; a COPY source that names a link
// is resolved inside the context and refused when its target leaves it.
//
// Checksum hashes, in a deterministic order, the path, type, mode, size,
// link target and content of every selected file (never mtime, nor the
// owner, which COPY replaces). A
// StatCache makes repeated hashing incremental: for one context directory
// it maps a file's relative path plus size, mtime, ctime and inode to its
// content digest, and a directory's relative path plus the same identity to
// its sorted entry names, so a no-op rebuild reads no file and lists no
// unchanged directory (it still lstats every entry). Entries whose mtime or
// ctime is within a second of the run are used but not persisted (git's
// "racy clean" rule), so a file rewritten within one timestamp tick is not
// missed. After Checksum, Selection.Sum gives each regular file's content
// digest (COPY's incremental path links the files whose digest did not
// change from the previous layer).
//
// On-disk state owned here: the stat cache file, at a path chosen by the
// caller (the builder keeps one per context directory). Format: the line
// "hoist-statcache-v2\n", then uvarint-length-prefixed strings and varints:
// the context directory; the file count, then per file: path, size (uvarint),
// mtime ns (varint), ctime ns (varint), inode (uvarint), 32 bytes SHA-256;
// the directory count, then per directory: path, the same four stat fields,
// the name count and the names. It is replaced atomically (temp file +
// rename); a missing, corrupt or foreign cache is treated as empty.
//
// Stream contexts (`hoist build -`, or a tarball URL's body): a tar, plain
// or compressed, is extracted into a temporary directory with
// internal/archive (DecompressStream + Apply, which never writes outside
// it); anything else is a Dockerfile alone and the context is empty.
package buildcontext
