// Package output is `build --output`: Parse reads docker's value
// ("type=local,dest=DIR", "type=tar,dest=FILE|-", or a bare path, local)
// and Output.Write exports a finished build's root filesystem there
// instead of storing an image: as one tar stream ("tar", to a file or the
// given writer for "-"), or that same stream extracted into a directory
// ("local").
//
// It owns no on-disk state (it writes only where Dest names).
package output
