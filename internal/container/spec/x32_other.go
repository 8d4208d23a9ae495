//go:build !amd64

package spec

// x32Supported: the x32 ABI exists only on amd64 kernels; elsewhere the
// profile's architectures are left as they are.
func x32Supported() bool { return true }
