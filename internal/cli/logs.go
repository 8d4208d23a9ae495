package cli

import (
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/hoistproject/hoist/internal/engine"
	"github.com/hoistproject/hoist/internal/errdefs"
)

func newLogsCmd(e *env) *cobra.Command {
	var follow, timestamps, details bool
	var tail, since, until string
	c := &cobra.Command{
		Use:   "logs [OPTIONS] CONTAINER",
		Short: "Fetch the logs of a container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := engine.LogOptions{Follow: follow, Timestamps: timestamps, Details: details, Tail: -1}
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
			return e.engine().Logs(cmd.Context(), args[0], o, e.out, e.errOut)
		},
	}
	fs := c.Flags()
	fs.BoolVarP(&follow, "follow", "f", false, "Follow log output")
	fs.BoolVarP(&timestamps, "timestamps", "t", false, "Show timestamps")
	fs.BoolVar(&details, "details", false, "Show extra details provided to logs")
	fs.StringVarP(&tail, "tail", "n", "all", "Number of lines to show from the end of the logs")
	fs.StringVar(&since, "since", "", "Show logs since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)")
	fs.StringVar(&until, "until", "", "Show logs before a timestamp or relative")
	return c
}

// parseTimeArg reads --since/--until ("" is no limit).
func parseTimeArg(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	return engine.ParseTimestamp(s, time.Now())
}
