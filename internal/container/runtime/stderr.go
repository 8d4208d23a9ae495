package runtime

import "io"

// maxHeld bounds what ProcessStderr holds back: more than a runtime's own
// error, so a process that writes more has started.
const maxHeld = 64 << 10

// ProcessStderr is the standard error handed to the runtime for a process
// it starts in a container (exec without a terminal), which is also the
// runtime's own until the process runs. crun writes its failure to start
// the process there (its child, which would have become the process,
// writes "executable file `x` not found in $PATH: ..." before exiting), in
// its own words, where runc writes its failure as its own line. For crun
// the output is held back until started reports the process running (the
// runtime has written its pid file), then passed on; Done, once the
// runtime has exited, passes on what is still held if the process ran and
// drops it otherwise (the runtime's words, which its log has too: the
// caller reports them, in docker's words). For runc it is w.
type ProcessStderr struct {
	w       io.Writer
	started func() bool
	crun    bool
	hold    bool // still holding back
	held    []byte
}

// NewProcessStderr returns the stderr for a process the runtime starts,
// passed on to w (see ProcessStderr).
func (r Runtime) NewProcessStderr(w io.Writer, started func() bool) *ProcessStderr {
	crun := isCrun(r.Binary)
	return &ProcessStderr{w: w, started: started, crun: crun, hold: crun}
}

// Shows reports whether the runtime's own words on failing to start the
// process reach w (runc), so that the caller does not repeat them.
func (p *ProcessStderr) Shows() bool { return !p.crun }

// Write passes b on, or holds it while the process may not have started.
func (p *ProcessStderr) Write(b []byte) (int, error) {
	if p.hold && (p.started() || len(p.held)+len(b) > maxHeld) {
		p.hold = false
		if err := p.flush(); err != nil {
			return 0, err
		}
	}
	if p.hold {
		p.held = append(p.held, b...)
		return len(b), nil
	}
	return p.w.Write(b)
}

// Done is called once the runtime has exited (and the output is copied):
// ran tells whether the process ran.
func (p *ProcessStderr) Done(ran bool) error {
	if !ran {
		p.held = nil
	}
	return p.flush()
}

func (p *ProcessStderr) flush() error {
	b := p.held
	p.held = nil
	if len(b) == 0 {
		return nil
	}
	_, err := p.w.Write(b)
	return err
}
