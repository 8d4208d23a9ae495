package server

import (
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// latencyBuckets are the histogram upper bounds in seconds.
var latencyBuckets = [...]float64{0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

type counterKey struct {
	route  route
	method string
	code   int
}

type histogram struct {
	buckets [len(latencyBuckets)]atomic.Int64
	count   atomic.Int64
	sumNs   atomic.Int64
}

// Metrics are the server's Prometheus metrics: requests by route, method
// and status, latency histograms by route, bytes in and out, and GC runs.
// Safe for concurrent use.
type Metrics struct {
	mu       sync.RWMutex
	requests map[counterKey]*atomic.Int64
	latency  [numRoutes]histogram
	bytesIn  atomic.Int64
	bytesOut atomic.Int64

	gcRuns      atomic.Int64
	gcFailures  atomic.Int64
	gcBlobs     atomic.Int64
	gcBytes     atomic.Int64
	gcManifests atomic.Int64
}

// NewMetrics returns empty metrics.
func NewMetrics() *Metrics {
	return &Metrics{requests: map[counterKey]*atomic.Int64{}}
}

func (m *Metrics) observe(rt route, method string, code int, d time.Duration, in, out int64) {
	k := counterKey{rt, method, code}
	m.mu.RLock()
	c := m.requests[k]
	m.mu.RUnlock()
	if c == nil {
		m.mu.Lock()
		if c = m.requests[k]; c == nil {
			c = new(atomic.Int64)
			m.requests[k] = c
		}
		m.mu.Unlock()
	}
	c.Add(1)
	h := &m.latency[rt]
	sec := d.Seconds()
	for i, b := range latencyBuckets {
		if sec <= b {
			h.buckets[i].Add(1)
			break
		}
	}
	h.count.Add(1)
	h.sumNs.Add(int64(d))
	m.bytesIn.Add(in)
	m.bytesOut.Add(out)
}

// GCRun records one garbage collection.
func (m *Metrics) GCRun(blobs int, bytes int64, manifests int, failed bool) {
	m.gcRuns.Add(1)
	if failed {
		m.gcFailures.Add(1)
	}
	m.gcBlobs.Add(int64(blobs))
	m.gcBytes.Add(bytes)
	m.gcManifests.Add(int64(manifests))
}

// WriteTo writes the metrics in the Prometheus text format.
func (m *Metrics) WriteTo(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	m.write(w)
}

func (m *Metrics) write(w io.Writer) {
	const p = "hoist_registry_"
	fmt.Fprintf(w, "# HELP %shttp_requests_total HTTP requests by route, method and status code.\n# TYPE %shttp_requests_total counter\n", p, p)
	m.mu.RLock()
	keys := make([]counterKey, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		a, b := keys[i], keys[j]
		if a.route != b.route {
			return a.route < b.route
		}
		if a.method != b.method {
			return a.method < b.method
		}
		return a.code < b.code
	})
	for _, k := range keys {
		fmt.Fprintf(w, "%shttp_requests_total{route=%q,method=%q,code=\"%d\"} %d\n", p, routeNames[k.route], k.method, k.code, m.requests[k].Load())
	}
	m.mu.RUnlock()
	fmt.Fprintf(w, "# HELP %shttp_request_duration_seconds HTTP request latency by route.\n# TYPE %shttp_request_duration_seconds histogram\n", p, p)
	for rt := range numRoutes {
		h := &m.latency[rt]
		cnt := h.count.Load()
		if cnt == 0 {
			continue
		}
		var cum int64
		for i, b := range latencyBuckets {
			cum += h.buckets[i].Load()
			fmt.Fprintf(w, "%shttp_request_duration_seconds_bucket{route=%q,le=%q} %d\n", p, routeNames[rt], strconv.FormatFloat(b, 'g', -1, 64), cum)
		}
		fmt.Fprintf(w, "%shttp_request_duration_seconds_bucket{route=%q,le=\"+Inf\"} %d\n", p, routeNames[rt], cnt)
		fmt.Fprintf(w, "%shttp_request_duration_seconds_sum{route=%q} %g\n", p, routeNames[rt], float64(h.sumNs.Load())/1e9)
		fmt.Fprintf(w, "%shttp_request_duration_seconds_count{route=%q} %d\n", p, routeNames[rt], cnt)
	}
	counter := func(name, help string, v int64) {
		fmt.Fprintf(w, "# HELP %s%s %s\n# TYPE %s%s counter\n%s%s %d\n", p, name, help, p, name, p, name, v)
	}
	counter("http_request_bytes_total", "Bytes received in request bodies.", m.bytesIn.Load())
	counter("http_response_bytes_total", "Bytes sent in response bodies.", m.bytesOut.Load())
	counter("gc_runs_total", "Garbage collections run.", m.gcRuns.Load())
	counter("gc_failures_total", "Garbage collections that failed.", m.gcFailures.Load())
	counter("gc_blobs_deleted_total", "Blobs deleted by garbage collection.", m.gcBlobs.Load())
	counter("gc_bytes_freed_total", "Bytes freed by garbage collection.", m.gcBytes.Load())
	counter("gc_manifests_deleted_total", "Untagged manifests deleted by garbage collection.", m.gcManifests.Load())
}
