package images

import (
	"github.com/hoistproject/hoist/internal/content"
	"github.com/hoistproject/hoist/internal/metadata"
	"github.com/opencontainers/go-digest"
)

type (
	metadataTx = metadata.Tx
	digestT    = digest.Digest
	any2       = content.Info
)
