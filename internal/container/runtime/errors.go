package runtime

import (
	"bufio"
	"encoding/json"
	"os"
	"regexp"
	"strings"
)

// LastError extracts the runtime's last error message from its JSON log
// file (--log-format json), falling back to fallback.
func LastError(logPath, fallback string) string {
	msg := LogError(logPath)
	if msg == "" {
		msg = strings.TrimSpace(fallback)
	}
	if msg == "" {
		msg = "unknown runtime error"
	}
	return msg
}

// LogError is the runtime's last error message in its JSON log file
// (--log-format json), "" when it logged none.
func LogError(logPath string) string {
	msg := ""
	if f, err := os.Open(logPath); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			var e struct {
				Level string `json:"level"`
				Msg   string `json:"msg"`
			}
			if json.Unmarshal(sc.Bytes(), &e) == nil && (e.Level == "error" || e.Level == "fatal") && e.Msg != "" {
				msg = e.Msg
			}
		}
		f.Close()
	}
	return msg
}

// ExitCode maps a runtime's error starting a process to docker's exit
// code: 127 (not found), 126 (cannot execute) or 125.
func ExitCode(msg string) int {
	low := strings.ToLower(msg)
	switch {
	case strings.Contains(low, "executable file not found"), strings.Contains(low, "no such file or directory"):
		return 127
	case strings.Contains(low, "permission denied"), strings.Contains(low, "exec format error"), strings.Contains(low, "is a directory"), strings.Contains(low, "not a directory"):
		return 126
	}
	return 125
}

// crunNotFound is crun's error for a command it could not find, in $PATH
// or at the path given ("executable file `x` not found in $PATH: No such
// file or directory"); crunCannotOpen its error for a command it could
// not open for execution (a file without x permission, a directory).
var (
	crunNotFound   = regexp.MustCompile("^executable file `(.*)` not found in \\$PATH: No such file or directory$")
	crunCannotOpen = regexp.MustCompile(`^open executable: (Permission denied|Operation not permitted)$`)
)

// DockerWords rewrites a runtime's error starting the process whose
// argv[0] is arg0 in the words docker gives with its default runtime
// (runc's), which users' scripts match: crun's "executable file `x` not
// found in $PATH: No such file or directory" becomes `exec: "x":
// executable file not found in $PATH` (`exec: "/x": stat /x: no such file
// or directory` for a path), and its "open executable: Permission denied"
// (or "Operation not permitted", for a directory) becomes `exec: "x":
// permission denied`, so that ExitCode gives docker's 127 and 126. Other
// messages are kept as they are.
func DockerWords(msg, arg0 string) string {
	const prefix = "unable to start container process: "
	if m := crunNotFound.FindStringSubmatch(msg); m != nil {
		if strings.Contains(m[1], "/") {
			return prefix + `exec: "` + m[1] + `": stat ` + m[1] + ": no such file or directory"
		}
		return prefix + `exec: "` + m[1] + `": executable file not found in $PATH`
	}
	if crunCannotOpen.MatchString(msg) {
		return prefix + `exec: "` + arg0 + `": permission denied`
	}
	return msg
}
