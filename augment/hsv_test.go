package augment

import "math"

// hsvToRGBRef is a literal transcription of Pillow 9.4's hsv2rgb (float
// and double arithmetic as in C), kept to check the tabulated version.
func hsvToRGBRef(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	hf := float64(float32(h)) * 6.0 / 255.0
	i := int(math.Floor(hf))
	f := float32(hf - float64(float32(i)))
	fs := float32(float64(float32(s)) / 255.0)
	fv := float64(float32(v))
	p := clipInt8(int(math.Round(fv * (1.0 - float64(fs)))))
	q := clipInt8(int(math.Round(fv * (1.0 - float64(fs*f)))))
	t := clipInt8(int(math.Round(fv * (1.0 - float64(fs)*(1.0-float64(f))))))
	switch i % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	default:
		return v, p, q
	}
}
