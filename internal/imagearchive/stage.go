package imagearchive

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"

	"github.com/hoistproject/hoist/internal/archive"
	"github.com/hoistproject/hoist/internal/layers"
	"github.com/opencontainers/go-digest"
)

// Unpacking a layer while its blob is stored (Options.Stage): the member
// is read once; its bytes go to the content writer and, through a bounded
// queue, to the unpacker in another goroutine, so that hashing and writing
// the blob run beside the extraction (two cores).

// maxSpeculative bounds the members being unpacked at once: a third waits,
// so memory stays bounded whatever the number of layers.
const maxSpeculative = 2

// Queue between the member stream and an unpacker: chunkQueue chunks of at
// most chunkSize bytes (the blob copy buffer's size) in flight.
const (
	chunkSize  = 1 << 20
	chunkQueue = 4
)

// looksLikeLayer tells from a member's first bytes whether it may be a
// layer: gzip or zstd data, or a tar stream (the "ustar" magic of the first
// header). Configs and manifests (JSON) are not.
func looksLikeLayer(head []byte) bool {
	if c := archive.DetectCompression(head); c == archive.Gzip || c == archive.Zstd {
		return true
	}
	return len(head) >= 262 && string(head[257:262]) == "ustar"
}

// speculation is one member being unpacked while it is stored.
type speculation struct {
	src    io.Reader
	pipe   *chunkPipe
	failed bool // the unpacker stopped reading: drop the rest
	ended  bool // the pipe is closed
	done   chan struct{}
	result *layers.Staged
}

// Read reads the member for the content writer and feeds the unpacker the
// same bytes. The unpacker sees the end of the stream as soon as the member
// ends (not after the blob's fsync); the caller discards the result if the
// blob then fails verification.
func (s *speculation) Read(p []byte) (int, error) {
	n, err := s.src.Read(p)
	if n > 0 && !s.failed && s.pipe.write(p[:n]) != nil {
		// The unpacker gave up (the member is no layer after all): the
		// blob's write goes on without it.
		s.failed = true
	}
	if err == io.EOF {
		s.finish(nil)
	}
	return n, err
}

// finish ends the stream the unpacker reads: with the blob write's error,
// or io.EOF when err is nil. Only the first call counts.
func (s *speculation) finish(err error) {
	if !s.ended {
		s.ended = true
		s.pipe.closeWrite(err)
	}
}

// wait returns the staged layer once the unpacker is done, nil when it
// failed.
func (s *speculation) wait() *layers.Staged {
	<-s.done
	return s.result
}

// speculate returns the reader to store a member from: when the member
// looks like a layer, its bytes are also fed to l.stage, and the
// speculation is recorded in l.pending under the member's name. At most
// maxSpeculative run at once.
func (l *loader) speculate(ctx context.Context, src io.Reader) (io.Reader, *speculation, error) {
	head := make([]byte, 512)
	n, err := io.ReadFull(src, head)
	head = head[:n]
	src = io.MultiReader(bytes.NewReader(head), src)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, nil, err
	}
	if !looksLikeLayer(head) {
		return src, nil, nil
	}
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	s := &speculation{src: src, pipe: newChunkPipe(l.chunks), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		p, err := l.stage(ctx, s.pipe)
		s.pipe.closeRead()
		<-l.slots // the buffers are free; syncing needs no slot
		if err == nil && p.Sync() == nil {
			s.result = p
		} else {
			p.Discard()
		}
	}()
	return s, s, nil
}

// stagedOf waits for every speculation and returns the staged layers by
// blob digest (a digest stored twice keeps its first).
func (l *loader) stagedOf() map[digest.Digest]*layers.Staged {
	out := map[digest.Digest]*layers.Staged{}
	for _, sp := range l.pending {
		p := sp.s.wait()
		if p == nil {
			continue
		}
		if out[sp.digest] != nil {
			p.Discard()
			continue
		}
		out[sp.digest] = p
	}
	l.pending = nil
	return out
}

type pendingSpec struct {
	digest digest.Digest
	s      *speculation
}

// chunkPipe is a one-writer one-reader pipe with a bounded queue of chunk
// copies, so that the writer runs ahead of the reader by up to chunkQueue
// chunks (io.Pipe would make it wait for every read).
type chunkPipe struct {
	ch     chan []byte
	free   chan []byte
	gone   chan struct{} // closed when the reader stops
	goneMu sync.Once
	werr   error // set before ch is closed
	cur    []byte
	buf    []byte
}

// newChunkPipe makes a pipe that takes its chunks from free and gives them
// back there (one free list for a whole load: chunks are reused from member
// to member instead of left to the garbage collector).
func newChunkPipe(free chan []byte) *chunkPipe {
	return &chunkPipe{ch: make(chan []byte, chunkQueue), free: free, gone: make(chan struct{})}
}

var errReaderGone = errors.New("unpacker stopped reading")

func (c *chunkPipe) write(p []byte) error {
	for len(p) > 0 {
		var b []byte
		select {
		case b = <-c.free:
		default:
			b = make([]byte, chunkSize)
		}
		n := copy(b[:cap(b)], p)
		p = p[n:]
		select {
		case c.ch <- b[:n]:
		case <-c.gone:
			return errReaderGone
		}
	}
	return nil
}

// closeWrite ends the stream: the reader sees err, or io.EOF when nil.
func (c *chunkPipe) closeWrite(err error) {
	if err == nil {
		err = io.EOF
	}
	c.werr = err
	close(c.ch)
}

// closeRead tells the writer that nothing reads any more.
func (c *chunkPipe) closeRead() { c.goneMu.Do(func() { close(c.gone) }) }

func (c *chunkPipe) Read(p []byte) (int, error) {
	if len(c.cur) == 0 {
		if c.buf != nil {
			select {
			case c.free <- c.buf:
			default:
			}
			c.buf = nil
		}
		b, ok := <-c.ch
		if !ok {
			return 0, c.werr
		}
		c.cur, c.buf = b, b
	}
	n := copy(p, c.cur)
	c.cur = c.cur[n:]
	return n, nil
}
