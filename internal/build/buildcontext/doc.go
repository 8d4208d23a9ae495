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
// Checksum hashes, in a deterministic order, the path, type, mode, owner,
// size, link target and content of every selected file (never mtime). A
// StatCache makes repeated hashing incremental: it maps an absolute path plus
// size, mtime, ctime and inode to the content digest, so unchanged files are
// not read again.
//
// On-disk state owned here: the stat cache file, at a path chosen by the
// caller (the builder keeps one per context directory). Format: the line
// "hoist-statcache-v1\n", then per entry: uvarint path length, path bytes,
// uvarint size, varint mtime ns, varint ctime ns, uvarint inode, 32 bytes
// SHA-256 of the content. It is replaced atomically (temp file + rename); a
// missing or unreadable cache is treated as empty.
//
// Tar contexts (`hoist build -`) are extracted into a temporary directory
// through an Extractor (internal/archive.Apply once available).
package buildcontext
