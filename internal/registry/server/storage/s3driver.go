package storage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"net"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/errdefs"
	"github.com/opencontainers/go-digest"
)

// s3Driver keeps the registry in an S3 bucket, under the same key layout
// as the filesystem driver (doc.go), plus:
//
//	blobtouch/<alg>/<hex>        empty object: its LastModified is the blob's last use (GC grace)
//	uploads/<id>/state           JSON session state: the pieces (multipart uploads, their parts'
//	                             ETags), the tail object, the serialized hash state; replaced
//	                             only by a conditional PUT (If-Match its ETag)
//	uploads/<id>/piece-<random>  the multipart upload of the bytes one request received, in
//	                             parts of exactly chunksize (completed at commit)
//	uploads/<id>/tail-<random>   received bytes not yet in a part (less than chunksize)
//	ingest/<random>              multipart key of a monolithic blob PUT in progress
type s3Driver struct {
	cfg    S3Config
	c      *s3.Client
	bucket string
	prefix string // rootdirectory without leading "/", with trailing "/" ("" for none)
	chunk  int64
}

// OpenS3 opens the registry storage in an S3 bucket. It checks that the
// bucket exists and the credentials work: the error names the bucket and
// the endpoint.
func OpenS3(ctx context.Context, cfg S3Config) (*Store, error) {
	d, err := newS3Driver(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return OpenDriver(d), nil
}

func newS3Driver(ctx context.Context, cfg S3Config) (*s3Driver, error) {
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = DefaultS3ChunkSize
	}
	if cfg.ChunkSize < MinS3ChunkSize {
		return nil, fmt.Errorf("s3 storage: chunksize %d is below S3's minimum part size of %d bytes", cfg.ChunkSize, MinS3ChunkSize)
	}
	c, err := newS3Client(ctx, &cfg)
	if err != nil {
		return nil, err
	}
	d := &s3Driver{cfg: cfg, c: c, bucket: cfg.Bucket, chunk: cfg.ChunkSize}
	if p := strings.Trim(cfg.RootDirectory, "/"); p != "" {
		d.prefix = p + "/"
	}
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	// A list (not a HEAD, which some may do who cannot list, and whose
	// errors have no body: an unknown access key looked like a missing
	// bucket) checks bucket and credentials with the server's own error
	// code.
	if _, err := c.ListObjectsV2(cctx, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(d.prefix), MaxKeys: aws.Int32(1)}); err != nil {
		return nil, fmt.Errorf("%s: %s", cfg.where(), describeS3Error(err))
	}
	return d, nil
}

// describeS3Error turns the usual start-up failures into plain words.
func describeS3Error(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NotFound", "NoSuchBucket":
			return "the bucket does not exist"
		case "Forbidden", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "XAdminUserNotFound":
			return "access denied: check accesskey and secretkey (" + ae.ErrorCode() + ")"
		case "BadRequest", "InvalidBucketName":
			return "the server refused the request (" + ae.ErrorCode() + "): is the bucket name valid (3 to 63 lowercase letters, digits, dots and hyphens)?"
		}
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return "cannot reach the S3 server: " + oe.Error()
	}
	return err.Error()
}

func (d *s3Driver) String() string         { return d.cfg.where() }
func (d *s3Driver) key(name string) string { return d.prefix + name }
func (d *s3Driver) Blobs() content.Store   { return (*s3Blobs)(d) }

func isS3NotFound(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchKey", "NotFound", "NoSuchUpload":
			return true
		}
	}
	return false
}

func (d *s3Driver) wrap(op, name string, err error) error {
	if isS3NotFound(err) {
		return &fs.PathError{Op: op, Path: name, Err: fs.ErrNotExist}
	}
	return fmt.Errorf("%s %s in %s: %w", op, name, d, err)
}

func (d *s3Driver) ReadFile(ctx context.Context, name string) ([]byte, error) {
	b, _, err := d.get(ctx, name)
	return b, err
}

func (d *s3Driver) get(ctx context.Context, name string) ([]byte, time.Time, error) {
	out, err := d.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))})
	if err != nil {
		return nil, time.Time{}, d.wrap("read", name, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, time.Time{}, d.wrap("read", name, err)
	}
	return b, aws.ToTime(out.LastModified), nil
}

func (d *s3Driver) WriteFile(ctx context.Context, name string, data []byte) error {
	_, err := d.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data)))})
	if err != nil {
		return d.wrap("write", name, err)
	}
	return nil
}

func (d *s3Driver) Stat(ctx context.Context, name string) (FileInfo, error) {
	out, err := d.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))})
	if err == nil {
		mod := aws.ToTime(out.LastModified)
		return FileInfo{Name: path.Base(name), Size: aws.ToInt64(out.ContentLength), ModTime: mod,
			Version: aws.ToString(out.ETag) + "@" + mod.String()}, nil
	}
	if !isS3NotFound(err) {
		return FileInfo{}, d.wrap("stat", name, err)
	}
	// A "directory": any key below it.
	l, err := d.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: aws.String(d.key(name) + "/"), MaxKeys: aws.Int32(1)})
	if err != nil {
		return FileInfo{}, d.wrap("stat", name, err)
	}
	if len(l.Contents) == 0 {
		return FileInfo{}, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return FileInfo{Name: path.Base(name), Dir: true}, nil
}

func (d *s3Driver) List(ctx context.Context, dir string) ([]FileInfo, error) {
	prefix := d.key(dir) + "/"
	var out []FileInfo
	p := s3.NewListObjectsV2Paginator(d.c, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &prefix, Delimiter: aws.String("/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, d.wrap("list", dir, err)
		}
		for _, cp := range page.CommonPrefixes {
			n := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(cp.Prefix), prefix), "/")
			if n != "" {
				out = append(out, FileInfo{Name: n, Dir: true})
			}
		}
		for _, o := range page.Contents {
			n := strings.TrimPrefix(aws.ToString(o.Key), prefix)
			if n == "" || strings.Contains(n, "/") {
				continue
			}
			out = append(out, FileInfo{Name: n, Size: aws.ToInt64(o.Size), ModTime: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

func (d *s3Driver) Remove(ctx context.Context, name string) error {
	if _, err := d.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))}); err != nil {
		return d.wrap("remove", name, err)
	}
	return d.remove(ctx, name)
}

// remove deletes a key (missing is not an error: S3 semantics).
func (d *s3Driver) remove(ctx context.Context, name string) error {
	if _, err := d.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(name))}); err != nil {
		return d.wrap("remove", name, err)
	}
	return nil
}

// removeAll deletes every key under dir.
func (d *s3Driver) removeAll(ctx context.Context, dir string) (int64, error) {
	prefix := d.key(dir) + "/"
	var size int64
	p := s3.NewListObjectsV2Paginator(d.c, &s3.ListObjectsV2Input{Bucket: &d.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return size, d.wrap("remove", dir, err)
		}
		for _, o := range page.Contents {
			if _, err := d.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &d.bucket, Key: o.Key}); err != nil {
				return size, d.wrap("remove", aws.ToString(o.Key), err)
			}
			size += aws.ToInt64(o.Size)
		}
	}
	return size, nil
}

// ---- blobs ------------------------------------------------------------------

// redirectTTL is how long a presigned blob URL stays valid.
const redirectTTL = 20 * time.Minute

// BlobURL is a presigned GET URL of blob dg (Redirector).
func (d *s3Driver) BlobURL(ctx context.Context, dg digest.Digest) (string, error) {
	if !d.cfg.Redirect {
		return "", nil
	}
	req, err := s3.NewPresignClient(d.c, s3.WithPresignExpires(redirectTTL)).PresignGetObject(ctx,
		&s3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(blobName(dg)))})
	if err != nil {
		return "", fmt.Errorf("%s: presigning blob %s: %s", d.cfg.where(), dg, describeS3Error(err))
	}
	return req.URL, nil
}

func blobName(dg digest.Digest) string {
	return "blobs/" + string(dg.Algorithm()) + "/" + dg.Encoded()
}

func touchName(dg digest.Digest) string {
	return "blobtouch/" + string(dg.Algorithm()) + "/" + dg.Encoded()
}

func (d *s3Driver) TouchBlob(ctx context.Context, dg digest.Digest, older time.Duration) {
	if dg.Validate() != nil {
		return
	}
	if older > 0 {
		info, err := d.Blobs().Info(ctx, dg)
		if err != nil || time.Since(d.LastUsed(ctx, info)) <= older {
			return
		}
	}
	_ = d.WriteFile(ctx, touchName(dg), nil)
}

func (d *s3Driver) LastUsed(ctx context.Context, info content.Info) time.Time {
	if st, err := d.Stat(ctx, touchName(info.Digest)); err == nil && !st.Dir && st.ModTime.After(info.CreatedAt) {
		return st.ModTime
	}
	return info.CreatedAt
}

// LockGC: S3 has no lock; the grace period alone protects pushes (doc.go).
func (d *s3Driver) LockGC(bool) (func(), error) { return func() {}, nil }

// s3Blobs is the S3 driver's content.Store.
type s3Blobs s3Driver

func (b *s3Blobs) d() *s3Driver { return (*s3Driver)(b) }

func (b *s3Blobs) Info(ctx context.Context, dg digest.Digest) (content.Info, error) {
	if err := dg.Validate(); err != nil {
		return content.Info{}, errdefs.InvalidArgumentf("invalid digest %q: %v", dg, err)
	}
	st, err := b.d().Stat(ctx, blobName(dg))
	if err != nil || st.Dir {
		if err == nil || notExist(err) {
			return content.Info{}, errdefs.NotFoundf("blob %s not found", dg)
		}
		return content.Info{}, err
	}
	return content.Info{Digest: dg, Size: st.Size, CreatedAt: st.ModTime}, nil
}

func (b *s3Blobs) Open(ctx context.Context, dg digest.Digest) (content.Reader, error) {
	info, err := b.Info(ctx, dg)
	if err != nil {
		return nil, err
	}
	return &s3Reader{d: b.d(), ctx: ctx, key: b.d().key(blobName(dg)), size: info.Size}, nil
}

func (b *s3Blobs) Delete(ctx context.Context, dg digest.Digest) error {
	if _, err := b.Info(ctx, dg); err != nil {
		return err
	}
	if err := b.d().remove(ctx, blobName(dg)); err != nil {
		return err
	}
	return b.d().remove(ctx, touchName(dg))
}

func (b *s3Blobs) Walk(ctx context.Context, fn func(content.Info) error) error {
	for _, alg := range algorithms {
		prefix := b.d().key("blobs/" + string(alg) + "/")
		p := s3.NewListObjectsV2Paginator(b.c, &s3.ListObjectsV2Input{Bucket: &b.bucket, Prefix: &prefix})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return b.d().wrap("list", "blobs", err)
			}
			for _, o := range page.Contents {
				dg := digest.NewDigestFromEncoded(alg, strings.TrimPrefix(aws.ToString(o.Key), prefix))
				if dg.Validate() != nil {
					continue
				}
				if err := fn(content.Info{Digest: dg, Size: aws.ToInt64(o.Size), CreatedAt: aws.ToTime(o.LastModified)}); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// Writer streams a blob into a multipart upload under ingest/; Commit
// verifies the digest before the blob becomes visible.
func (b *s3Blobs) Writer(ctx context.Context, alg digest.Algorithm) (content.Writer, error) {
	alg, err := newWriteAlgorithm(alg)
	if err != nil {
		return nil, err
	}
	id, err := randomID()
	if err != nil {
		return nil, err
	}
	return &s3Writer{ctx: ctx, mp: &s3Multipart{d: b.d(), name: "ingest/" + id}, dg: alg.Digester()}, nil
}

type s3Writer struct {
	ctx  context.Context
	mp   *s3Multipart
	buf  []byte // bytes short of a part
	dg   digest.Digester
	n    int64
	done bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if err := fillParts(w.ctx, w.mp.d.chunk, &w.buf, p, w.mp.uploadPart); err != nil {
		return 0, err
	}
	w.dg.Hash().Write(p)
	w.n += int64(len(p))
	return len(p), nil
}

func (w *s3Writer) Digest() digest.Digest { return w.dg.Digest() }
func (w *s3Writer) Size() int64           { return w.n }

func (w *s3Writer) Close() error {
	if !w.done {
		w.done = true
		w.mp.abort(context.WithoutCancel(w.ctx))
	}
	return nil
}

func (w *s3Writer) Commit(ctx context.Context, size int64, expected digest.Digest) (content.Info, error) {
	got := w.dg.Digest()
	if size >= 0 && size != w.n {
		return content.Info{}, errdefs.DataLossf("blob %s: size mismatch: expected %d bytes, got %d", expected, size, w.n)
	}
	if expected != "" && expected != got {
		return content.Info{}, errdefs.DataLossf("blob digest mismatch: expected %s, got %s", expected, got)
	}
	w.done = true
	if err := w.publish(ctx, got); err != nil {
		w.mp.abort(context.WithoutCancel(ctx))
		return content.Info{}, err
	}
	return content.Info{Digest: got, Size: w.n, CreatedAt: time.Now()}, nil
}

// publish makes the bytes written blob dg (verified by the caller): a
// small blob is one PUT; otherwise the rest is uploaded as the last part,
// the multipart upload completed and the object copied to its blob key.
func (w *s3Writer) publish(ctx context.Context, dg digest.Digest) error {
	d := w.mp.d
	if _, err := d.Blobs().Info(ctx, dg); err == nil {
		w.mp.abort(ctx)
		d.TouchBlob(ctx, dg, 0)
		return nil
	}
	if len(w.mp.parts) == 0 {
		return d.WriteFile(ctx, blobName(dg), w.buf)
	}
	if len(w.buf) > 0 {
		if err := w.mp.uploadPart(ctx, w.buf); err != nil {
			return err
		}
	}
	if err := w.mp.complete(ctx); err != nil {
		return err
	}
	if err := d.assemble(ctx, blobName(dg), []s3Object{{w.mp.name, w.n}}, nil); err != nil {
		return err
	}
	return d.remove(ctx, w.mp.name)
}

// fillParts appends p to *buf, handing every full part (exactly chunk
// bytes) to upload. On an error the bytes of p that did not make it into
// a part are dropped from *buf (parts uploaded before stay).
func fillParts(ctx context.Context, chunk int64, buf *[]byte, p []byte, upload func(context.Context, []byte) error) error {
	for len(p) > 0 {
		if *buf == nil {
			*buf = make([]byte, 0, chunk)
		}
		n := min(int64(len(p)), chunk-int64(len(*buf)))
		*buf = append(*buf, p[:n]...)
		p = p[n:]
		if int64(len(*buf)) == chunk {
			if err := upload(ctx, *buf); err != nil {
				*buf = (*buf)[:len(*buf)-int(n)]
				return err
			}
			*buf = (*buf)[:0]
		}
	}
	return nil
}

// s3Reader reads a blob with ranged GETs: Read streams from the current
// offset (one GET until the next Seek), ReadAt fetches its range.
type s3Reader struct {
	d       *s3Driver
	ctx     context.Context
	key     string
	size    int64
	pos     int64
	body    io.ReadCloser
	bodyPos int64
}

func (r *s3Reader) get(off, n int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", off)
	if n >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	}
	out, err := r.d.c.GetObject(r.ctx, &s3.GetObjectInput{Bucket: &r.d.bucket, Key: &r.key, Range: &rng})
	if err != nil {
		return nil, r.d.wrap("read", r.key, err)
	}
	return out.Body, nil
}

func (r *s3Reader) Read(p []byte) (int, error) {
	if r.pos >= r.size {
		return 0, io.EOF
	}
	if r.body != nil && r.bodyPos != r.pos {
		r.body.Close()
		r.body = nil
	}
	if r.body == nil {
		b, err := r.get(r.pos, -1)
		if err != nil {
			return 0, err
		}
		r.body, r.bodyPos = b, r.pos
	}
	n, err := r.body.Read(p)
	r.pos += int64(n)
	r.bodyPos += int64(n)
	if err == io.EOF && r.pos < r.size {
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

func (r *s3Reader) Seek(off int64, whence int) (int64, error) {
	switch whence {
	case io.SeekCurrent:
		off += r.pos
	case io.SeekEnd:
		off += r.size
	}
	if off < 0 {
		return r.pos, errors.New("seek before the start of the blob")
	}
	r.pos = off
	return off, nil
}

func (r *s3Reader) ReadAt(p []byte, off int64) (int, error) {
	if off >= r.size {
		return 0, io.EOF
	}
	n := min(int64(len(p)), r.size-off)
	b, err := r.get(off, n)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	got, err := io.ReadFull(b, p[:n])
	if err == nil && n < int64(len(p)) {
		err = io.EOF
	}
	return got, err
}

func (r *s3Reader) Close() error {
	if r.body != nil {
		return r.body.Close()
	}
	return nil
}

// ---- multipart uploads ----------------------------------------------------------

// s3Multipart is one multipart upload at key name (relative), started with
// its first part; every part but a blob's last is exactly chunksize.
type s3Multipart struct {
	d        *s3Driver
	name     string
	uploadID string
	parts    []s3Part
}

type s3Part struct {
	N    int32  `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

func (m *s3Multipart) size() int64 {
	var n int64
	for _, p := range m.parts {
		n += p.Size
	}
	return n
}

// uploadPart uploads buf as the next part (starting the upload first).
func (m *s3Multipart) uploadPart(ctx context.Context, buf []byte) error {
	d := m.d
	if m.uploadID == "" {
		out, err := d.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(m.name))})
		if err != nil {
			return d.wrap("start upload", m.name, err)
		}
		m.uploadID = aws.ToString(out.UploadId)
	}
	n := int32(len(m.parts) + 1)
	out, err := d.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &d.bucket, Key: aws.String(d.key(m.name)),
		UploadId: &m.uploadID, PartNumber: &n, Body: bytes.NewReader(buf), ContentLength: aws.Int64(int64(len(buf)))})
	if err != nil {
		return d.wrap(fmt.Sprintf("upload part %d of", n), m.name, err)
	}
	m.parts = append(m.parts, s3Part{N: n, ETag: aws.ToString(out.ETag), Size: int64(len(buf))})
	return nil
}

// complete completes the multipart upload into its key with the parts
// recorded (parts uploaded beyond them, by a request that did not live to
// record them, are dropped). An upload completed already (by a commit on
// another replica) is found by its key's size.
func (m *s3Multipart) complete(ctx context.Context) error {
	d := m.d
	if m.uploadID == "" {
		return nil
	}
	parts := make([]types.CompletedPart, len(m.parts))
	for i, p := range m.parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := d.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(m.name)),
		UploadId: &m.uploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		st, serr := d.Stat(ctx, m.name)
		if !isS3NotFound(err) || serr != nil || st.Size != m.size() {
			return d.wrap("complete upload", m.name, err)
		}
	}
	m.uploadID = ""
	return nil
}

// abort abandons the multipart upload, if one was started.
func (m *s3Multipart) abort(ctx context.Context) {
	if m.uploadID == "" {
		return
	}
	m.d.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &m.d.bucket, Key: aws.String(m.d.key(m.name)), UploadId: &m.uploadID})
	m.uploadID = ""
}

// s3Object is an object (relative name) and its size.
type s3Object struct {
	name string
	size int64
}

// maxCopy is the largest object CopyObject copies in one request.
const maxCopy = 5 << 30

// copyStep is the size of the part ranges a large copy is made of.
const copyStep = 1 << 30

// assemble writes object to as the concatenation of srcs (each at least
// a part's minimum, 5 MiB, but the last when tail is empty) and tail,
// server-side: one CopyObject for a single source of at most 5 GiB,
// otherwise a multipart upload of copied ranges (UploadPartCopy) and the
// tail as its last part. The object appears whole or not at all.
func (d *s3Driver) assemble(ctx context.Context, to string, srcs []s3Object, tail []byte) error {
	if len(srcs) == 1 && len(tail) == 0 && srcs[0].size <= maxCopy {
		src := d.bucket + "/" + d.key(srcs[0].name)
		if _, err := d.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), CopySource: &src}); err != nil {
			return d.wrap("copy "+srcs[0].name+" to", to, err)
		}
		return nil
	}
	out, err := d.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(to))})
	if err != nil {
		return d.wrap("assemble", to, err)
	}
	id := out.UploadId
	fail := func(err error) error {
		d.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), UploadId: id})
		return d.wrap("assemble", to, err)
	}
	var parts []types.CompletedPart
	n := int32(1)
	for _, o := range srcs {
		src := d.bucket + "/" + d.key(o.name)
		for off := int64(0); off < o.size; n++ {
			end := min(off+copyStep, o.size)
			if o.size-end < MinS3ChunkSize {
				end = o.size // no range below the part minimum but the last
			}
			rng := fmt.Sprintf("bytes=%d-%d", off, end-1)
			p, err := d.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), UploadId: id,
				PartNumber: aws.Int32(n), CopySource: &src, CopySourceRange: &rng})
			if err != nil {
				return fail(err)
			}
			parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.CopyPartResult.ETag})
			off = end
		}
	}
	if len(tail) > 0 {
		p, err := d.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), UploadId: id,
			PartNumber: aws.Int32(n), Body: bytes.NewReader(tail), ContentLength: aws.Int64(int64(len(tail)))})
		if err != nil {
			return fail(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.ETag})
	}
	if _, err := d.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(to)),
		UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		return fail(err)
	}
	return nil
}

// ---- upload sessions ------------------------------------------------------------

// s3UploadState is the S3 part of an upload session's state. The bytes
// received are the pieces' parts in order, then the tail object.
type s3UploadState struct {
	// Layout is s3Layout for sessions whose bytes are pieces (older
	// sessions are not resumed).
	Layout   int       `json:"layout"`
	Pieces   []s3Piece `json:"pieces,omitempty"`
	Tail     string    `json:"tail,omitempty"` // name of the tail object
	TailSize int64     `json:"tailSize,omitempty"`
	// Rev is random per state written, so that a conditional write
	// never mistakes another request's state for the one it read.
	Rev string `json:"rev,omitempty"`
}

const s3Layout = 2

// s3Piece is the multipart upload of the bytes one request received
// (UploadID empty once completed).
type s3Piece struct {
	Name     string   `json:"name"`
	UploadID string   `json:"uploadId,omitempty"`
	Parts    []s3Part `json:"parts,omitempty"`
}

func sessionDir(id string) string { return "uploads/" + id }
func stateName(id string) string  { return sessionDir(id) + "/state" }

func (d *s3Driver) newSession(ctx context.Context, id string, st *uploadState) error {
	st.S3 = &s3UploadState{Layout: s3Layout}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return d.WriteFile(ctx, stateName(id), b)
}

func (d *s3Driver) readSession(ctx context.Context, id string) (uploadState, time.Time, error) {
	st, mod, _, err := d.readSessionETag(ctx, id)
	return st, mod, err
}

// readSessionETag also returns the state object's ETag (for the
// conditional write that replaces it).
func (d *s3Driver) readSessionETag(ctx context.Context, id string) (uploadState, time.Time, string, error) {
	var st uploadState
	out, err := d.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(stateName(id)))})
	if err != nil {
		return st, time.Time{}, "", d.wrap("read", stateName(id), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return st, time.Time{}, "", d.wrap("read", stateName(id), err)
	}
	mod := aws.ToTime(out.LastModified)
	if err := json.Unmarshal(b, &st); err != nil {
		return st, mod, "", fmt.Errorf("corrupt upload state: %w", err)
	}
	if st.S3 == nil {
		st.S3 = &s3UploadState{}
	}
	return st, mod, aws.ToString(out.ETag), nil
}

func (d *s3Driver) sessionIDs(ctx context.Context) ([]string, error) {
	ents, err := d.List(ctx, "uploads")
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(ents))
	for _, e := range ents {
		if e.Dir {
			ids = append(ids, e.Name)
		}
	}
	return ids, nil
}

// piece is the multipart upload of piece p of session id.
func (d *s3Driver) piece(id string, p *s3Piece) *s3Multipart {
	return &s3Multipart{d: d, name: sessionDir(id) + "/" + p.Name, uploadID: p.UploadID, parts: p.Parts}
}

// purgeSession aborts the session's open pieces and removes its objects.
// (A request working on the session at the same moment fails: its
// conditional state write finds the state gone.)
func (d *s3Driver) purgeSession(ctx context.Context, id string) (bool, int64) {
	var freed int64
	if st, _, err := d.readSession(ctx, id); err == nil {
		for i := range st.S3.Pieces {
			mp := d.piece(id, &st.S3.Pieces[i])
			if mp.uploadID != "" {
				freed += mp.size()
				mp.abort(ctx)
			}
		}
	}
	n, err := d.removeAll(ctx, sessionDir(id))
	return err == nil, freed + n
}

// purgeOrphans aborts multipart uploads older than age that no session
// references: pieces of requests that failed or lost a race, monolithic
// PUTs and commits that never finished.
func (d *s3Driver) purgeOrphans(ctx context.Context, age time.Duration) error {
	p := s3.NewListMultipartUploadsPaginator(d.c, &s3.ListMultipartUploadsInput{Bucket: &d.bucket, Prefix: aws.String(d.prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return d.wrap("list uploads", "", err)
		}
		for _, u := range page.Uploads {
			if time.Since(aws.ToTime(u.Initiated)) < age {
				continue
			}
			name := strings.TrimPrefix(aws.ToString(u.Key), d.prefix)
			if rest, ok := strings.CutPrefix(name, "uploads/"); ok {
				id, _, _ := strings.Cut(rest, "/")
				if st, _, err := d.readSession(ctx, id); err == nil && slices.ContainsFunc(st.S3.Pieces, func(p s3Piece) bool { return p.UploadID == aws.ToString(u.UploadId) }) {
					continue // the session's own; purged with it
				}
			} else if !strings.HasPrefix(name, "ingest/") && !strings.HasPrefix(name, "blobs/") {
				continue
			}
			d.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	return nil
}

// s3Session is a session opened for one request. Nothing is locked: the
// state object is the commit point, written after the bytes it describes
// and only over the version this request read (If-Match its ETag). The
// bytes a request receives go to objects only it writes (its own piece and
// tail objects, named at random), so a request that loses a race to
// another on the same session (on this replica or another) changes
// nothing another request relies on: its state write fails, it removes
// what it wrote and reports ErrFailedPrecondition.
type s3Session struct {
	d    *s3Driver
	id   string
	st   uploadState
	etag string // of the state object as last read or written
	h    hash.Hash
	buf  []byte // the tail's bytes, then those received short of a part
	// dirty: buf differs from the saved tail
	dirty bool
	// cur is this request's piece (index into st.S3.Pieces, -1: none
	// yet); curSaved: a state naming it was written (others may now
	// rely on its recorded parts).
	cur      int
	curMP    *s3Multipart
	curSaved bool
	lost     error // set once the state was changed by another request
}

func (d *s3Driver) openSession(ctx context.Context, id string) (sessionIO, error) {
	st, _, etag, err := d.readSessionETag(ctx, id)
	if err != nil {
		if notExist(err) {
			return nil, errdefs.NotFoundf("upload %s not found", id)
		}
		return nil, err
	}
	if st.S3.Layout != s3Layout && st.Offset > 0 {
		return nil, errdefs.NotFoundf("upload %s was started by an older hoist registry: start it again", id)
	}
	alg, err := st.algorithm(id)
	if err != nil {
		return nil, err
	}
	h, ok := restoreHash(alg, st.HashState)
	if !ok {
		return nil, errdefs.NotFoundf("upload %s has no usable hash state", id)
	}
	ss := &s3Session{d: d, id: id, st: st, etag: etag, h: h, cur: -1}
	if st.S3.TailSize > 0 {
		b, err := d.ReadFile(ctx, sessionDir(id)+"/"+st.S3.Tail)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) != st.S3.TailSize {
			return nil, fmt.Errorf("upload %s: tail object holds %d bytes, the state says %d", id, len(b), st.S3.TailSize)
		}
		ss.buf = make([]byte, 0, d.chunk)
		ss.buf = append(ss.buf, b...)
	}
	return ss, nil
}

func (ss *s3Session) state() *uploadState { return &ss.st }
func (ss *s3Session) hash() hash.Hash     { return ss.h }

func (ss *s3Session) write(ctx context.Context, p []byte) error {
	if ss.lost != nil {
		return ss.lost
	}
	ss.dirty = true
	return fillParts(ctx, ss.d.chunk, &ss.buf, p, ss.uploadPart)
}

// uploadPart adds a full part to this request's piece (started with it).
func (ss *s3Session) uploadPart(ctx context.Context, buf []byte) error {
	if ss.curMP == nil {
		rnd, err := randomID()
		if err != nil {
			return err
		}
		ss.curMP = &s3Multipart{d: ss.d, name: sessionDir(ss.id) + "/piece-" + rnd}
	}
	if err := ss.curMP.uploadPart(ctx, buf); err != nil {
		return err
	}
	piece := s3Piece{Name: path.Base(ss.curMP.name), UploadID: ss.curMP.uploadID, Parts: slices.Clone(ss.curMP.parts)}
	if ss.cur < 0 {
		ss.cur = len(ss.st.S3.Pieces)
		ss.st.S3.Pieces = append(ss.st.S3.Pieces, piece)
	} else {
		ss.st.S3.Pieces[ss.cur] = piece
	}
	return nil
}

// checkpoint saves the bytes short of a part as a new tail object, then
// the state naming it (over the version read), then removes the old tail.
func (ss *s3Session) checkpoint(ctx context.Context) error {
	if ss.lost != nil {
		return ss.lost
	}
	s3st := ss.st.S3
	old, oldSize := s3st.Tail, s3st.TailSize
	newTail := ""
	if ss.dirty {
		s3st.Tail, s3st.TailSize = "", 0
		if len(ss.buf) > 0 {
			rnd, err := randomID()
			if err != nil {
				return err
			}
			newTail = "tail-" + rnd
			if err := ss.d.WriteFile(ctx, sessionDir(ss.id)+"/"+newTail, ss.buf); err != nil {
				s3st.Tail, s3st.TailSize = old, oldSize
				return err
			}
			s3st.Tail, s3st.TailSize = newTail, int64(len(ss.buf))
		}
	}
	ss.st.HashState = hashState(ss.h)
	s3st.Layout = s3Layout
	rev, err := randomID()
	if err != nil {
		return err
	}
	s3st.Rev = rev
	if err := ss.saveState(ctx); err != nil {
		if newTail != "" {
			ss.d.remove(context.WithoutCancel(ctx), sessionDir(ss.id)+"/"+newTail)
		}
		s3st.Tail, s3st.TailSize = old, oldSize
		if ss.lost != nil && !ss.curSaved && ss.curMP != nil {
			ss.curMP.abort(context.WithoutCancel(ctx))
		}
		return err
	}
	ss.dirty = false
	ss.curSaved = ss.cur >= 0
	if old != "" && old != s3st.Tail {
		ss.d.remove(ctx, sessionDir(ss.id)+"/"+old)
	}
	return nil
}

// saveState replaces the state object if it is still the version this
// request read (or last wrote). Another version, or none, means another
// request changed the session meanwhile: ss.lost is set.
func (ss *s3Session) saveState(ctx context.Context) error {
	b, err := json.Marshal(&ss.st)
	if err != nil {
		return err
	}
	name := stateName(ss.id)
	out, err := ss.d.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &ss.d.bucket, Key: aws.String(ss.d.key(name)),
		Body: bytes.NewReader(b), ContentLength: aws.Int64(int64(len(b))), IfMatch: aws.String(ss.etag)})
	if err == nil {
		ss.etag = aws.ToString(out.ETag)
		return nil
	}
	var ae smithy.APIError
	switch {
	case isS3NotFound(err):
		ss.lost = errdefs.NotFoundf("upload %s was completed or cancelled by another request while this one was received", ss.id)
	case errors.As(err, &ae) && (ae.ErrorCode() == "PreconditionFailed" || ae.ErrorCode() == "ConditionalRequestConflict"):
		ss.lost = errdefs.FailedPreconditionf("upload %s was changed by another request (on this replica or another) while this chunk was received: the chunk was discarded; ask for the upload's offset and go on from there", ss.id)
	default:
		return ss.d.wrap("write", name, err)
	}
	return ss.lost
}

// completePieces completes the pieces still open (with their recorded
// parts) and returns them as objects, in order.
func (ss *s3Session) completePieces(ctx context.Context) ([]s3Object, error) {
	var objs []s3Object
	for i := range ss.st.S3.Pieces {
		p := &ss.st.S3.Pieces[i]
		mp := ss.d.piece(ss.id, p)
		if len(p.Parts) == 0 {
			continue
		}
		if err := mp.complete(ctx); err != nil {
			return nil, err
		}
		if p.UploadID != "" {
			p.UploadID = ""
			ss.dirty = true
		}
		objs = append(objs, s3Object{mp.name, mp.size()})
	}
	return objs, nil
}

// readAll streams the bytes written so far (to hash them with another
// algorithm than the session's): the pieces are completed first (the
// parts of an upload in progress cannot be read), and that is recorded.
func (ss *s3Session) readAll(ctx context.Context, w io.Writer) error {
	objs, err := ss.completePieces(ctx)
	if err != nil {
		return err
	}
	if ss.dirty {
		if err := ss.checkpoint(ctx); err != nil {
			return err
		}
	}
	for _, o := range objs {
		out, err := ss.d.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &ss.d.bucket, Key: aws.String(ss.d.key(o.name))})
		if err != nil {
			return ss.d.wrap("read upload", o.name, err)
		}
		_, err = io.Copy(w, out.Body)
		out.Body.Close()
		if err != nil {
			return ss.d.wrap("read upload", o.name, err)
		}
	}
	_, err = w.Write(ss.buf)
	return err
}

// publish makes the bytes received blob dg (verified by the caller): the
// pieces and the tail are assembled into the blob's key server-side (a
// blob shorter than a part is one PUT).
func (ss *s3Session) publish(ctx context.Context, dg digest.Digest) error {
	d := ss.d
	if _, err := d.Blobs().Info(ctx, dg); err == nil {
		d.TouchBlob(ctx, dg, 0)
		return nil
	}
	objs, err := ss.completePieces(ctx)
	if err != nil {
		return err
	}
	if len(objs) == 0 {
		return d.WriteFile(ctx, blobName(dg), ss.buf)
	}
	return d.assemble(ctx, blobName(dg), objs, ss.buf)
}

func (ss *s3Session) remove(ctx context.Context) {
	for i := range ss.st.S3.Pieces {
		ss.d.piece(ss.id, &ss.st.S3.Pieces[i]).abort(ctx)
	}
	if ss.curMP != nil {
		ss.curMP.abort(ctx)
	}
	ss.d.removeAll(ctx, sessionDir(ss.id))
}

func (ss *s3Session) close() {}
