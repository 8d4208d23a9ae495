// Package logfile owns docker's json-file log format, the one container
// logs are kept in: one JSON object per line,
//
//	{"log":"...","stream":"stdout|stderr","time":"RFC3339Nano"}
//
// with "log" holding one line of output (its newline included; a line
// longer than 16 KiB is split). Writer appends entries (Stream splits a
// process's output into them), rotating the file as docker's max-size and
// max-file ask (PATH.1, PATH.2, ... older); Copy prints a log and its
// rotated files as `docker logs` does: --tail, --since, --until,
// --timestamps, --details and --follow (polling the file while its writer
// runs, following it across rotations).
//
// The file's place is the caller's (containers/<id>/container-json.log).
package logfile
