//go:build !amd64 || purego

package augment

func addSym(out, a, b []float32, k float32) { addSymGeneric(out, a, b, k) }

func scale(out, a []float32, k float32) { scaleGeneric(out, a, k) }

func roundRow(out []uint8, a []float32) { roundRowGeneric(out, a) }

func toFloat(out []float32, in []uint8) {
	in = in[:len(out)]
	for i, v := range in {
		out[i] = float32(v)
	}
}
