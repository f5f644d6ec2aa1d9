package dist_test

import (
	"github.com/sslpipe/sslpipe/train"
	"github.com/sslpipe/sslpipe/train/dist"
)

// A *dist.Group is the training loop's process group (RunOptions.Dist).
var _ train.Collective = (*dist.Group)(nil)
