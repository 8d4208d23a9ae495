package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/container/logfile"
	"github.com/hoistproject/hoist/internal/errdefs"
)

func newLogsCmd(e *env) *cobra.Command {
	var follow, timestamps bool
	var tail, since, until string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := logfile.Options{Follow: follow, Timestamps: timestamps, Tail: -1}
			if tail != "all" && tail != "" {
				n, err := strconv.Atoi(tail)
				if err != nil {
					return errdefs.InvalidArgumentf("invalid value for \"tail\": %s", tail)
				}
				o.Tail = n
			}
			var err error
			if o.Since, err = parseTimeArg(since); err != nil {
				return err
			}
			if o.Until, err = parseTimeArg(until); err != nil {
				return err
			}
			m, err := e.containers()
			if err != nil {
				return err
			}
			return m.Logs(cmd.Context(), args[0], o, e.out, e.errOut)
		},
	}
	fs := c.Flags()
	fs.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	fs.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	fs.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fs.StringVar(&since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	fs.StringVar(&until, "until", "", "Show logs before a timestamp or relative")
	return c
}

// parseTimeArg accepts docker's --since/--until forms: RFC3339 (with or
// without fraction/zone), a date, unix seconds, or a duration ago (10m).
func parseTimeArg(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		sec := int64(f)
		return time.Unix(sec, int64((f-float64(sec))*1e9)), nil
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, s, time.Local); err == nil {
			return t, nil
		}
	}
	return time.Time{}, errdefs.InvalidArgumentf("invalid time value %q", s)
}
