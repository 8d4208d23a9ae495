package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Reading blobs from S3. A blob is read with ranged GETs: Read streams
// from the current offset (one GET until the next Seek), ReadAt fetches
// its range, and WriteRangeTo (the server's blob GET, through
// RangeWriter) fetches a range larger than one part as parts of
// partReads.size, partReads.ahead of them in flight, written to the
// client in order as each arrives whole. A part buffer is taken from the
// driver's budget (partReads.tokens) before its GET starts, so all the
// reads of a process hold at most budget*size bytes; a read that finds
// fewer than two buffers free streams one GET instead. A failed part
// ends the copy with its error after the parts before it were written
// (the server's response then falls short of its Content-Length and the
// connection is closed: the client sees the failure).

const (
	s3PartSize   = 8 << 20 // bytes per ranged GET of a large read
	s3PartsAhead = 4       // ranged GETs in flight per read
	s3PartBudget = 16      // part buffers of all reads at once (128 MiB)
)

// partReads is how a driver splits large reads into ranged GETs.
type partReads struct {
	size   int64
	ahead  int
	tokens chan struct{} // one per part buffer that may exist
	bufs   sync.Pool     // *[]byte of size bytes
}

func newPartReads(size int64, ahead, budget int) *partReads {
	p := &partReads{size: size, ahead: ahead, tokens: make(chan struct{}, budget)}
	p.bufs.New = func() any { b := make([]byte, size); return &b }
	return p
}

// take reserves up to p.ahead part buffers without waiting; it returns
// how many.
func (p *partReads) take() int {
	n := 0
	for n < p.ahead {
		select {
		case p.tokens <- struct{}{}:
			n++
		default:
			return n
		}
	}
	return n
}

func (p *partReads) give(n int) {
	for range n {
		<-p.tokens
	}
}

// s3Reader reads a blob (see above).
type s3Reader struct {
	d       *s3Driver
	ctx     context.Context
	key     string
	size    int64
	pos     int64
	body    io.ReadCloser
	bodyPos int64
}

// get starts a GET of n bytes at off (n < 0: to the end).
func (r *s3Reader) get(ctx context.Context, off, n int64) (io.ReadCloser, error) {
	rng := fmt.Sprintf("bytes=%d-", off)
	if n >= 0 {
		rng = fmt.Sprintf("bytes=%d-%d", off, off+n-1)
	}
	out, err := r.d.c.GetObject(ctx, &s3.GetObjectInput{Bucket: &r.d.bucket, Key: &r.key, Range: &rng})
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
		b, err := r.get(r.ctx, r.pos, -1)
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
	b, err := r.get(r.ctx, off, n)
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

// WriteRangeTo implements RangeWriter.
func (r *s3Reader) WriteRangeTo(w io.Writer, n int64) (int64, error) {
	n = min(n, r.size-r.pos)
	if n <= 0 {
		return 0, nil
	}
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	pr := r.d.reads
	bufs := 0
	if n > pr.size {
		bufs = pr.take()
	}
	if bufs < 2 {
		pr.give(bufs)
		return r.stream(w, n)
	}
	defer pr.give(bufs)
	return r.parts(w, n, bufs)
}

// stream copies n bytes at the offset with one GET.
func (r *s3Reader) stream(w io.Writer, n int64) (int64, error) {
	b, err := r.get(r.ctx, r.pos, n)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	got, err := io.Copy(w, b)
	r.pos += got
	if err == nil && got < n {
		err = r.d.wrap("read", r.key, io.ErrUnexpectedEOF)
	}
	return got, err
}

// part is one ranged GET of parts: done is closed when buf holds its
// bytes or err is set.
type part struct {
	buf  *[]byte
	err  error
	done chan struct{}
}

// parts copies n bytes at the offset as ranged GETs of pr.size, at most
// inflight of them fetched at once, writing each whole part in order.
func (r *s3Reader) parts(w io.Writer, n int64, inflight int) (int64, error) {
	pr := r.d.reads
	ctx, cancel := context.WithCancel(r.ctx)
	defer cancel()
	next, end := r.pos, r.pos+n
	start := func() *part {
		off, m := next, min(pr.size, end-next)
		next += m
		p := &part{buf: pr.bufs.Get().(*[]byte), done: make(chan struct{})}
		go func() {
			defer close(p.done)
			b, err := r.get(ctx, off, m)
			if err != nil {
				p.err = err
				return
			}
			defer b.Close()
			buf := (*p.buf)[:m]
			if _, err := io.ReadFull(b, buf); err != nil {
				p.err = r.d.wrap("read", r.key, err)
				return
			}
			*p.buf = buf
		}()
		return p
	}
	queue := make([]*part, 0, inflight)
	for len(queue) < inflight && next < end {
		queue = append(queue, start())
	}
	var written int64
	var err error
	for len(queue) > 0 && err == nil {
		p := queue[0]
		queue = queue[1:]
		<-p.done
		if err = p.err; err == nil {
			var k int
			k, err = w.Write(*p.buf)
			written += int64(k)
			r.pos += int64(k)
		}
		*p.buf = (*p.buf)[:cap(*p.buf)]
		pr.bufs.Put(p.buf)
		if err == nil && next < end {
			queue = append(queue, start())
		}
	}
	cancel()
	for _, p := range queue {
		<-p.done
		*p.buf = (*p.buf)[:cap(*p.buf)]
		pr.bufs.Put(p.buf)
	}
	return written, err
}
