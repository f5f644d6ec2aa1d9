package train

import (
	"github.com/sugarme/gotch"
	"github.com/sugarme/gotch/ts"
)

func emptyPermuted() (*ts.Tensor, error) {
	return ts.EmptyPermuted([]int64{2, 3}, []int64{1, 0}, gotch.Float, gotch.CPU)
}
