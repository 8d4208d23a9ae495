package imagearchive

import "runtime"

func hostArch() string { return runtime.GOARCH }
