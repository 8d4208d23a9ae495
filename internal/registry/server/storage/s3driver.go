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
	"path"
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
//	blobtouch/<alg>/<hex>   empty object: its LastModified is the blob's last use (GC grace)
//	uploads/<id>/state      JSON session state with the multipart upload id, its parts' ETags
//	                        and the serialized hash state
//	uploads/<id>/tail-<n>   received bytes not yet in a part (less than chunksize)
//	uploads/<id>/data       the multipart upload's key (completed at commit, then copied)
//	ingest/<random>         multipart key of a monolithic blob PUT in progress
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
	if _, err := c.HeadBucket(cctx, &s3.HeadBucketInput{Bucket: &d.bucket}); err != nil {
		return nil, fmt.Errorf("%s: %s", cfg.where(), describeS3Error(err))
	}
	// HEAD on a bucket is allowed to some who cannot list it: list too.
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
		case "Forbidden", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch":
			return "access denied: check accesskey and secretkey (" + ae.ErrorCode() + ")"
		}
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
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
	return &s3Writer{ctx: ctx, mp: &s3Multipart{d: b.d(), name: "ingest/" + id, st: &s3UploadState{}}, dg: alg.Digester()}, nil
}

type s3Writer struct {
	ctx  context.Context
	mp   *s3Multipart
	dg   digest.Digester
	n    int64
	done bool
}

func (w *s3Writer) Write(p []byte) (int, error) {
	if err := w.mp.write(w.ctx, p); err != nil {
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
	if err := w.mp.publish(ctx, got, w.n); err != nil {
		w.mp.abort(context.WithoutCancel(ctx))
		return content.Info{}, err
	}
	return content.Info{Digest: got, Size: w.n, CreatedAt: time.Now()}, nil
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

// s3UploadState is the S3 part of an upload session's state.
type s3UploadState struct {
	UploadID string   `json:"uploadId,omitempty"`
	Parts    []s3Part `json:"parts,omitempty"`
	Tail     string   `json:"tail,omitempty"` // name of the tail object
	TailSize int64    `json:"tailSize,omitempty"`
	Seq      int      `json:"seq,omitempty"`
	// Completed: the multipart upload was completed into its key (to be
	// read back for another digest algorithm); it takes no more bytes.
	Completed bool `json:"completed,omitempty"`
}

type s3Part struct {
	N    int32  `json:"n"`
	ETag string `json:"etag"`
	Size int64  `json:"size"`
}

// s3Multipart accumulates bytes into parts of exactly chunksize (the last
// part of a blob may be shorter); bytes short of a part wait in buf.
type s3Multipart struct {
	d    *s3Driver
	name string // the multipart upload's key (relative)
	st   *s3UploadState
	buf  []byte
	// dirty: buf differs from the saved tail
	dirty bool
}

func (m *s3Multipart) write(ctx context.Context, p []byte) error {
	if m.st.Completed && len(p) > 0 {
		return errdefs.FailedPreconditionf("upload %s was completed to be checked against another digest algorithm: start a new upload", m.name)
	}
	for len(p) > 0 {
		if m.buf == nil {
			m.buf = make([]byte, 0, m.d.chunk)
		}
		n := min(int64(len(p)), m.d.chunk-int64(len(m.buf)))
		m.buf = append(m.buf, p[:n]...)
		p = p[n:]
		m.dirty = true
		if int64(len(m.buf)) == m.d.chunk {
			if err := m.uploadPart(ctx); err != nil {
				m.buf = m.buf[:len(m.buf)-int(n)]
				return err
			}
			m.buf = m.buf[:0]
		}
	}
	return nil
}

func (m *s3Multipart) uploadPart(ctx context.Context) error {
	d := m.d
	if m.st.UploadID == "" {
		out, err := d.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(m.name))})
		if err != nil {
			return d.wrap("start upload", m.name, err)
		}
		m.st.UploadID = aws.ToString(out.UploadId)
	}
	n := int32(len(m.st.Parts) + 1)
	out, err := d.c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &d.bucket, Key: aws.String(d.key(m.name)),
		UploadId: &m.st.UploadID, PartNumber: &n, Body: bytes.NewReader(m.buf), ContentLength: aws.Int64(int64(len(m.buf)))})
	if err != nil {
		return d.wrap(fmt.Sprintf("upload part %d of", n), m.name, err)
	}
	m.st.Parts = append(m.st.Parts, s3Part{N: n, ETag: aws.ToString(out.ETag), Size: int64(len(m.buf))})
	return nil
}

// publish makes the bytes received blob dg (verified by the caller): a
// small blob is one PUT; otherwise the last part is uploaded, the
// multipart upload completed and the object copied to its blob key.
func (m *s3Multipart) publish(ctx context.Context, dg digest.Digest, size int64) error {
	d := m.d
	if _, err := d.Blobs().Info(ctx, dg); err == nil {
		m.abort(ctx)
		d.TouchBlob(ctx, dg, 0)
		return nil
	}
	if len(m.st.Parts) == 0 {
		if err := d.WriteFile(ctx, blobName(dg), m.buf); err != nil {
			return err
		}
		m.abort(ctx)
		return nil
	}
	if err := m.complete(ctx, size); err != nil {
		return err
	}
	if err := d.copy(ctx, m.name, blobName(dg), size); err != nil {
		return err
	}
	m.st.UploadID = ""
	return d.remove(ctx, m.name)
}

// complete uploads the bytes short of a part as the last part and
// completes the multipart upload into its own key (m.name), which then
// holds the size bytes written; a second call finds it completed.
func (m *s3Multipart) complete(ctx context.Context, size int64) error {
	d := m.d
	if m.st.Completed {
		return nil
	}
	if len(m.buf) > 0 {
		if err := m.uploadPart(ctx); err != nil {
			return err
		}
		m.buf = m.buf[:0]
	}
	parts := make([]types.CompletedPart, len(m.st.Parts))
	for i, p := range m.st.Parts {
		parts[i] = types.CompletedPart{PartNumber: aws.Int32(p.N), ETag: aws.String(p.ETag)}
	}
	_, err := d.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(m.name)),
		UploadId: &m.st.UploadID, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}})
	if err != nil {
		// Completed by an earlier call (readAll, or an attempt that failed
		// later)?
		st, serr := d.Stat(ctx, m.name)
		if !isS3NotFound(err) || serr != nil || st.Size != size {
			return d.wrap("complete upload", m.name, err)
		}
	}
	m.st.Completed = true
	m.dirty = true // the tail went into the last part
	return nil
}

// maxCopy is the largest object CopyObject copies in one request.
const maxCopy = 5 << 30

// copy copies an object server-side (multipart copy beyond 5 GiB).
func (d *s3Driver) copy(ctx context.Context, from, to string, size int64) error {
	src := d.bucket + "/" + d.key(from)
	if size <= maxCopy {
		if _, err := d.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), CopySource: &src}); err != nil {
			return d.wrap("copy "+from+" to", to, err)
		}
		return nil
	}
	out, err := d.c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(to))})
	if err != nil {
		return d.wrap("copy to", to, err)
	}
	id := out.UploadId
	var parts []types.CompletedPart
	const step = 1 << 30
	for off, n := int64(0), int32(1); off < size; off, n = off+step, n+1 {
		rng := fmt.Sprintf("bytes=%d-%d", off, min(off+step, size)-1)
		p, err := d.c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), UploadId: id,
			PartNumber: aws.Int32(n), CopySource: &src, CopySourceRange: &rng})
		if err != nil {
			d.c.AbortMultipartUpload(context.WithoutCancel(ctx), &s3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(to)), UploadId: id})
			return d.wrap("copy to", to, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: p.CopyPartResult.ETag})
	}
	if _, err := d.c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &d.bucket, Key: aws.String(d.key(to)),
		UploadId: id, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		return d.wrap("copy to", to, err)
	}
	return nil
}

// abort abandons the multipart upload, if one was started.
func (m *s3Multipart) abort(ctx context.Context) {
	if m.st.UploadID == "" {
		return
	}
	m.d.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &m.d.bucket, Key: aws.String(m.d.key(m.name)), UploadId: &m.st.UploadID})
	m.st.UploadID = ""
}

// ---- upload sessions ------------------------------------------------------------

func sessionDir(id string) string { return "uploads/" + id }

func (d *s3Driver) saveState(ctx context.Context, id string, st *uploadState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	return d.WriteFile(ctx, sessionDir(id)+"/state", b)
}

func (d *s3Driver) newSession(ctx context.Context, id string, st *uploadState) error {
	st.S3 = &s3UploadState{}
	return d.saveState(ctx, id, st)
}

func (d *s3Driver) readSession(ctx context.Context, id string) (uploadState, time.Time, error) {
	var st uploadState
	b, mod, err := d.get(ctx, sessionDir(id)+"/state")
	if err != nil {
		return st, time.Time{}, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, mod, fmt.Errorf("corrupt upload state: %w", err)
	}
	if st.S3 == nil {
		st.S3 = &s3UploadState{}
	}
	return st, mod, nil
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

// purgeSession aborts the session's multipart upload and removes its
// objects. (S3 has no lock: a request working on the session at the same
// moment fails and its client starts over.)
func (d *s3Driver) purgeSession(ctx context.Context, id string) (bool, int64) {
	var freed int64
	if st, _, err := d.readSession(ctx, id); err == nil {
		for _, p := range st.S3.Parts {
			freed += p.Size
		}
		(&s3Multipart{d: d, name: sessionDir(id) + "/data", st: st.S3}).abort(ctx)
	}
	n, err := d.removeAll(ctx, sessionDir(id))
	return err == nil, freed + n
}

// purgeOrphans aborts multipart uploads older than age that no session
// references (a crash between starting one and saving the state, or a
// monolithic PUT that never finished).
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
			if id, ok := strings.CutPrefix(name, "uploads/"); ok {
				id = strings.TrimSuffix(id, "/data")
				if st, _, err := d.readSession(ctx, id); err == nil && st.S3.UploadID == aws.ToString(u.UploadId) {
					continue // the session's own; purged with it
				}
			} else if !strings.HasPrefix(name, "ingest/") {
				continue
			}
			d.c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &d.bucket, Key: u.Key, UploadId: u.UploadId})
		}
	}
	return nil
}

// s3Session is a session opened for one request. Nothing is locked: the
// state object is the commit point, written after the bytes it describes.
type s3Session struct {
	d  *s3Driver
	id string
	st uploadState
	h  hash.Hash
	mp *s3Multipart
}

func (d *s3Driver) openSession(ctx context.Context, id string) (sessionIO, error) {
	st, _, err := d.readSession(ctx, id)
	if err != nil {
		if notExist(err) {
			return nil, errdefs.NotFoundf("upload %s not found", id)
		}
		return nil, err
	}
	alg, err := st.algorithm(id)
	if err != nil {
		return nil, err
	}
	h, ok := restoreHash(alg, st.HashState)
	if !ok {
		return nil, errdefs.NotFoundf("upload %s has no usable hash state", id)
	}
	mp := &s3Multipart{d: d, name: sessionDir(id) + "/data", st: st.S3}
	if st.S3.TailSize > 0 {
		b, err := d.ReadFile(ctx, sessionDir(id)+"/"+st.S3.Tail)
		if err != nil {
			return nil, err
		}
		if int64(len(b)) != st.S3.TailSize {
			return nil, fmt.Errorf("upload %s: tail object holds %d bytes, the state says %d", id, len(b), st.S3.TailSize)
		}
		mp.buf = make([]byte, 0, d.chunk)
		mp.buf = append(mp.buf, b...)
	}
	return &s3Session{d: d, id: id, st: st, h: h, mp: mp}, nil
}

func (ss *s3Session) state() *uploadState { return &ss.st }
func (ss *s3Session) hash() hash.Hash     { return ss.h }
func (ss *s3Session) write(ctx context.Context, p []byte) error {
	return ss.mp.write(ctx, p)
}

// checkpoint saves the bytes short of a part as a new tail object, then
// the state naming it, then removes the old tail.
func (ss *s3Session) checkpoint(ctx context.Context) error {
	s3st := ss.st.S3
	old := s3st.Tail
	if ss.mp.dirty {
		s3st.Tail, s3st.TailSize = "", 0
		if len(ss.mp.buf) > 0 {
			s3st.Seq++
			s3st.Tail, s3st.TailSize = fmt.Sprintf("tail-%d", s3st.Seq), int64(len(ss.mp.buf))
			if err := ss.d.WriteFile(ctx, sessionDir(ss.id)+"/"+s3st.Tail, ss.mp.buf); err != nil {
				s3st.Tail = old
				return err
			}
		}
	}
	ss.st.HashState = hashState(ss.h)
	if err := ss.d.saveState(ctx, ss.id, &ss.st); err != nil {
		return err
	}
	ss.mp.dirty = false
	if old != "" && old != s3st.Tail {
		ss.d.remove(ctx, sessionDir(ss.id)+"/"+old)
	}
	return nil
}

// readAll streams the bytes written so far (to hash them with another
// algorithm than the session's): the multipart upload is completed into
// its own key first (publish then finds it completed), since the parts of
// an upload in progress cannot be read.
func (ss *s3Session) readAll(ctx context.Context, w io.Writer) error {
	m := ss.mp
	if len(m.st.Parts) == 0 {
		_, err := w.Write(m.buf)
		return err
	}
	if err := m.complete(ctx, ss.st.Offset); err != nil {
		return err
	}
	// Recorded before the read: a commit that then fails (a wrong
	// digest) leaves a session that another commit can still publish.
	if err := ss.checkpoint(ctx); err != nil {
		return err
	}
	out, err := ss.d.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &ss.d.bucket, Key: aws.String(ss.d.key(m.name))})
	if err != nil {
		return ss.d.wrap("read upload", m.name, err)
	}
	defer out.Body.Close()
	_, err = io.Copy(w, out.Body)
	return err
}

func (ss *s3Session) publish(ctx context.Context, dg digest.Digest) error {
	return ss.mp.publish(ctx, dg, ss.st.Offset)
}

func (ss *s3Session) remove(ctx context.Context) {
	ss.mp.abort(ctx)
	ss.d.removeAll(ctx, sessionDir(ss.id))
}

func (ss *s3Session) close() {}
