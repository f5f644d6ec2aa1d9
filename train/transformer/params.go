package transformer

import (
	"github.com/sugarme/gotch"

	"github.com/sslpipe/sslpipe/train/nn"
)

// The parameter set and AdamW are package nn's; these names keep the
// Transformer models' code short.
type (
	// Param is nn.Param.
	Param = nn.Param
	// Params is nn.Params.
	Params = nn.Params
	// AdamW is nn.AdamW.
	AdamW = nn.AdamW
	// AdamWConfig is nn.AdamWConfig.
	AdamWConfig = nn.AdamWConfig
)

// NewParams is nn.NewParams.
func NewParams(seed uint64, dev gotch.Device) *Params { return nn.NewParams(seed, dev) }

// NewAdamW is nn.NewAdamW.
func NewAdamW(cfg AdamWConfig) *AdamW { return nn.NewAdamW(cfg) }

// Fill is nn.Fill.
func Fill(n int64, v float32) []float32 { return nn.Fill(n, v) }
