package nn

import "github.com/sslpipe/sslpipe/train/op"

// GridPoolMatrix is adaptive average pooling of an h x w map to a g x g
// grid as a (g·g) x (h·w) row-major matrix: row gy·g+gx holds the weights
// of input cells y·w+x in that output cell. The bins are PyTorch's
// (AdaptiveAvgPool2d): output cell i of n covers inputs
// [floor(i·in/n), ceil((i+1)·in/n)), each weighted 1/len, so the matrix
// pools, or upsamples by repetition when in < n.
func GridPoolMatrix(h, w, g int64) []float32 {
	rows := bins(h, g)
	cols := bins(w, g)
	m := make([]float32, g*g*h*w)
	for gy := range g {
		for gx := range g {
			r := rows[gy]
			c := cols[gx]
			wt := 1 / float32((r[1]-r[0])*(c[1]-c[0]))
			row := m[(gy*g+gx)*h*w:]
			for y := r[0]; y < r[1]; y++ {
				for x := c[0]; x < c[1]; x++ {
					row[y*w+x] = wt
				}
			}
		}
	}
	return m
}

// bins are the [start, end) input ranges of n adaptive-pooling outputs
// over in inputs.
func bins(in, n int64) [][2]int64 {
	b := make([][2]int64, n)
	for i := range n {
		b[i] = [2]int64{i * in / n, ((i+1)*in + n - 1) / n}
	}
	return b
}

// PooledLinear is LinearOp(Flatten(AdaptiveAvgPool2d(m, g)), w, b) for a
// map m (B x C x h x w; w is out x C·g²), computed as one Linear on the
// flattened map with the pooling folded into the weight: w' = w·P per
// channel (P = GridPoolMatrix), out x C·h·w. The function and its
// gradients are the same up to rounding; when h·w < g² (a map upsampled
// to the grid, as a small crop's is) it costs h·w/g² of the Linear's
// multiply-adds per sample plus one out·C x g² by g² x h·w product.
func PooledLinear(tp *op.Tape, m, w, b op.Tensor, g int64) op.Tensor {
	s := op.Shape(m)
	n, c, h, wd := s[0], s[1], s[2], s[3]
	out := op.Shape(w)[0]
	p := tp.Float32(GridPoolMatrix(h, wd, g), op.DeviceOf(m), g*g, h*wd)
	folded := tp.Reshape(tp.Matmul(tp.Reshape(w, out*c, g*g), p), out, c*h*wd)
	return LinearOp(tp, tp.Reshape(m, n, c*h*wd), folded, b)
}
