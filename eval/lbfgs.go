package eval

import "math"

// lbfgsResult is the outcome of minimize.
type lbfgsResult struct {
	x          []float64
	f          float64
	gradMax    float64
	iterations int
	status     string
}

// minimize runs L-BFGS (two-loop recursion, memory m) with a backtracking
// line search on the Armijo condition, starting at x0 (not modified).
// fg returns f(x) and writes the gradient into g. It stops when the largest
// gradient component is below gtol, when the relative decrease of f over
// the last 10 iterations is below ftol, when a line search cannot decrease
// f (the attainable precision is reached), or after maxIter iterations.
func minimize(fg func(x, g []float64) float64, x0 []float64, m, maxIter int, gtol, ftol float64) lbfgsResult {
	n := len(x0)
	x := append([]float64(nil), x0...)
	g := make([]float64, n)
	f := fg(x, g)
	xn, gn, d := make([]float64, n), make([]float64, n), make([]float64, n)
	s := make([][]float64, 0, m)
	y := make([][]float64, 0, m)
	rho := make([]float64, 0, m)
	alpha := make([]float64, m)
	hist := []float64{f}
	res := lbfgsResult{status: "iteration limit"}
	it := 0
	for ; it < maxIter; it++ {
		if gm := maxAbs(g); gm < gtol {
			res.status = "gradient below tolerance"
			break
		}
		// d = -H g by the two-loop recursion.
		copy(d, g)
		for i := len(s) - 1; i >= 0; i-- {
			alpha[i] = rho[i] * dot(s[i], d)
			axpy(-alpha[i], y[i], d)
		}
		gamma := 1.0
		if k := len(s) - 1; k >= 0 {
			gamma = dot(s[k], y[k]) / dot(y[k], y[k])
		} else {
			gamma = 1 / math.Max(math.Sqrt(dot(g, g)), 1e-12)
		}
		for i := range d {
			d[i] *= gamma
		}
		for i := range s {
			b := rho[i] * dot(y[i], d)
			axpy(alpha[i]-b, s[i], d)
		}
		for i := range d {
			d[i] = -d[i]
		}
		slope := dot(g, d)
		if slope >= 0 { // not a descent direction: restart from steepest descent
			s, y, rho = s[:0], y[:0], rho[:0]
			for i := range d {
				d[i] = -g[i] / math.Max(math.Sqrt(dot(g, g)), 1e-12)
			}
			slope = dot(g, d)
		}
		step, fn := 1.0, 0.0
		ok := false
		for range 40 {
			for i := range x {
				xn[i] = x[i] + step*d[i]
			}
			fn = fg(xn, gn)
			if fn <= f+1e-4*step*slope {
				ok = true
				break
			}
			step *= 0.5
		}
		if !ok {
			res.status = "line search made no progress"
			break
		}
		// Curvature pair; skipped when not positive (keeps H positive definite).
		var sv, yv []float64
		if len(s) == m {
			sv, yv = s[0], y[0]
			s, y, rho = s[1:], y[1:], rho[1:]
		} else {
			sv, yv = make([]float64, n), make([]float64, n)
		}
		for i := range x {
			sv[i] = xn[i] - x[i]
			yv[i] = gn[i] - g[i]
		}
		if sy := dot(sv, yv); sy > 1e-10*math.Sqrt(dot(sv, sv)*dot(yv, yv)) {
			s, y, rho = append(s, sv), append(y, yv), append(rho, 1/sy)
		}
		x, xn = xn, x
		g, gn = gn, g
		f = fn
		hist = append(hist, f)
		if k := len(hist); k > 10 && hist[k-11]-f <= ftol*math.Max(math.Abs(f), 1) {
			it++
			res.status = "objective converged"
			break
		}
	}
	res.x, res.f, res.gradMax, res.iterations = x, f, maxAbs(g), it
	return res
}

func dot(a, b []float64) float64 {
	var s float64
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpy(a float64, x, y []float64) {
	for i, v := range x {
		y[i] += a * v
	}
}

func maxAbs(a []float64) float64 {
	var m float64
	for _, v := range a {
		m = math.Max(m, math.Abs(v))
	}
	return m
}
