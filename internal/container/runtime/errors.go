package runtime

import (
	"bufio"
	"encoding/json"
	"os"
	"strings"
)

// LastError extracts the runtime's last error message from its JSON log
// file (--log-format json), falling back to fallback.
func LastError(logPath, fallback string) string {
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
	if msg == "" {
		msg = strings.TrimSpace(fallback)
	}
	if msg == "" {
		msg = "unknown runtime error"
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
