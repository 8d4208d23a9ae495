package apiserver

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/moby/api/types/jsonstream"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

// boolValue is docker's boolean query parameter: absent, and "", "0",
// "no", "false" and "none" in any case and spacing are false (docker-py
// sends Python's False as "False").
func boolValue(r *http.Request, k string) bool {
	switch strings.ToLower(strings.TrimSpace(r.URL.Query().Get(k))) {
	case "", "0", "no", "false", "none":
		return false
	}
	return true
}

// boolValueOr is boolValue, def when the parameter is absent.
func boolValueOr(r *http.Request, k string, def bool) bool {
	if !r.URL.Query().Has(k) {
		return def
	}
	return boolValue(r, k)
}

// intValue is an integer query parameter (def when absent).
func intValue(r *http.Request, k string, def int) (int, error) {
	v := r.URL.Query().Get(k)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, errdefs.InvalidArgumentf("invalid value for %s: %q is not an integer", k, v)
	}
	return n, nil
}

// filterArgs reads docker's filters parameter ({"key": {"value": true}},
// or the older {"key": ["value"]}) as the KEY=VALUE list the engine's
// filters take, in a stable order.
func filterArgs(r *http.Request) ([]string, error) {
	raw := r.URL.Query().Get("filters")
	if raw == "" {
		return nil, nil
	}
	var byMap map[string]map[string]bool
	if err := json.Unmarshal([]byte(raw), &byMap); err != nil {
		var byList map[string][]string
		if err2 := json.Unmarshal([]byte(raw), &byList); err2 != nil {
			return nil, errdefs.InvalidArgumentf("invalid filter: %v", err)
		}
		byMap = map[string]map[string]bool{}
		for k, vs := range byList {
			byMap[k] = map[string]bool{}
			for _, v := range vs {
				byMap[k][v] = true
			}
		}
	}
	var out []string
	for k, vs := range byMap {
		for v, on := range vs {
			if on {
				out = append(out, k+"="+v)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// jsonStream writes docker's streamed JSON messages (pull, push, build,
// load, import), each flushed as it is written. It is safe for
// concurrent use (progress arrives from several goroutines).
type jsonStream struct {
	mu      sync.Mutex
	w       http.ResponseWriter
	enc     *json.Encoder
	started bool
	held    []jsonstream.Message
}

func newJSONStream(w http.ResponseWriter) *jsonStream {
	return &jsonStream{w: w, enc: json.NewEncoder(w)}
}

// start sends the headers (200): from here failures are messages.
func (s *jsonStream) start() {
	if !s.started {
		s.started = true
		s.w.Header().Set("Content-Type", "application/json")
		s.w.WriteHeader(http.StatusOK)
	}
}

// hold keeps m until the next message is sent: a failure before that is
// still the answer's status (docker's "Error response from daemon" of a
// pull of a missing image), not a message after "Pulling from".
func (s *jsonStream) hold(m jsonstream.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.held = append(s.held, m)
}

// streamMessage is a stream message as dockerd writes it: an error is
// also in the deprecated "error" field, the one docker-py and other older
// clients look for (the module's Message has only errorDetail).
type streamMessage struct {
	jsonstream.Message
	ErrorMessage string `json:"error,omitempty"`
}

func (s *jsonStream) send(m jsonstream.Message) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start()
	for _, h := range append(s.held, m) {
		sm := streamMessage{Message: h}
		if h.Error != nil {
			sm.ErrorMessage = h.Error.Message
		}
		s.enc.Encode(sm)
	}
	s.held = nil
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// fail ends the stream with err: as the answer's status when nothing was
// sent yet, else as docker's error message.
func (s *jsonStream) fail(err error) {
	s.mu.Lock()
	started := s.started
	s.mu.Unlock()
	if !started {
		writeError(s.w, err)
		return
	}
	je := &jsonstream.Error{Message: err.Error()}
	var re *engine.BuildRunError
	if errors.As(err, &re) {
		je.Code = re.ExitCode // docker's client exits with it
	}
	s.send(jsonstream.Message{Error: je})
}

// Write sends p as a stream message (a build's output).
func (s *jsonStream) Write(p []byte) (int, error) {
	s.send(jsonstream.Message{Stream: string(p)})
	return len(p), nil
}

// stdWriter writes docker's multiplexed frames of one stream (1 stdout,
// 2 stderr): a byte of the stream, three zeros, the big-endian length,
// the payload.
type stdWriter struct {
	mu     *sync.Mutex // shared by the streams of one connection
	w      io.Writer
	stream byte
}

func (s stdWriter) Write(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	var h [8]byte
	h[0] = s.stream
	binary.BigEndian.PutUint32(h[4:], uint32(len(p)))
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.w.Write(append(h[:], p...)); err != nil {
		return 0, err
	}
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
	return len(p), nil
}

// flushWriter flushes after each write (raw streams: logs of a TTY).
type flushWriter struct{ w io.Writer }

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if fl, ok := f.w.(http.Flusher); ok {
		fl.Flush()
	}
	return n, err
}
