package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/units"
)

// progress renders per-layer transfer status as docker pull/push do: on a
// terminal one line per layer, rewritten in place with a progress bar; else
// one plain line per status change ("ID: Download complete").
type progress struct {
	out io.Writer
	tty bool

	mu     sync.Mutex
	ids    []string
	status map[string]string
}

func newProgress(out io.Writer, tty bool) *progress {
	return &progress{out: out, tty: tty, status: map[string]string{}}
}

// Event takes a registry client event (a client.ProgressFunc).
func (p *progress) Event(ev engine.ProgressEvent) {
	p.Update(ev.ID, ev.Status, ev.Current, ev.Total)
}

// Update sets the status of id; current/total draw a bar for transfers.
func (p *progress) Update(id, status string, current, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	moving := status == engine.StatusDownloading || status == engine.StatusPushing || status == "Extracting" || status == "Loading layer"
	prev, known := p.status[id]
	if prev == engine.StatusAlreadyExists {
		// docker's last word on a layer it has: unpacking it from a blob
		// that was already stored is not news.
		return
	}
	p.status[id] = status
	if !p.tty {
		if moving || prev == status {
			return
		}
		fmt.Fprintf(p.out, "%s: %s\n", id, status)
		return
	}
	line := id + ": " + status
	if moving && total > 0 {
		line += " " + progressBar(current, total)
	}
	if !known {
		p.ids = append(p.ids, id)
		fmt.Fprintf(p.out, "%s\n", line)
		return
	}
	up := 0
	for i, x := range p.ids {
		if x == id {
			up = len(p.ids) - i
		}
	}
	// cursor up, clear the line, write, cursor back down
	fmt.Fprintf(p.out, "\x1b[%dA\x1b[2K\r%s\x1b[%dB\r", up, line, up)
}

// progressBar is docker's "[=====>     ]  1.2MB/3.4MB" (50 columns).
func progressBar(current, total int64) string {
	const width = 50
	current = min(current, total)
	n := int(float64(width) * float64(current) / float64(total))
	bar := strings.Repeat("=", n) + ">" + strings.Repeat(" ", width-n)
	return fmt.Sprintf("[%s] %8s/%s", bar, units.HumanSize(current, 4), units.HumanSize(total, 4))
}
