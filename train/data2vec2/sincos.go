package data2vec2

import "math"

// SinCos2D is MAE's fixed 2-D sin-cos position table (get_2d_sincos_pos_embed,
// which data2vec 2.0's image encoder uses, without the CLS row) for a
// rows x cols patch grid and width d (a multiple of 4): row r·cols + c holds
// the 1-D embedding of the column c in its first d/2 entries and of the row
// r in the last d/2, each 1-D embedding being sin(p·ω_k) for k < d/4, then
// cos(p·ω_k), with ω_k = 10000^(-k/(d/4)).
func SinCos2D(rows, cols, d int) []float32 {
	q := d / 4
	omega := make([]float64, q)
	for k := range omega {
		omega[k] = 1 / math.Pow(10000, float64(k)/float64(q))
	}
	out := make([]float32, rows*cols*d)
	for r := range rows {
		for c := range cols {
			e := out[(r*cols+c)*d:][:d]
			for k, w := range omega {
				e[k] = float32(math.Sin(float64(c) * w))
				e[q+k] = float32(math.Cos(float64(c) * w))
				e[2*q+k] = float32(math.Sin(float64(r) * w))
				e[3*q+k] = float32(math.Cos(float64(r) * w))
			}
		}
	}
	return out
}
