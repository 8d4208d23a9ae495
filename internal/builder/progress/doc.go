// Package progress renders the progress of a build as BuildKit does: a
// Printer numbers the steps ("vertices") in the order they start and
// writes, in the plain form, "#N [stage i/n] INSTR", "#N CACHED", "#N 0.123
// output line", "#N DONE 0.3s" or "#N ERROR: msg" with a blank line after
// each vertex; on a terminal (TTY) a compact live view of the running
// steps is rewritten in place and finished steps are printed as " => ..."
// lines; Quiet prints nothing. A LineWriter splits a RUN step's output into
// log lines and keeps the last ones for the step's error message.
//
// It owns no on-disk state.
package progress
