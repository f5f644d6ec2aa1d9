package augment

import "fmt"

// Normalize is torchvision's ToTensor followed by Normalize(mean, std):
// x = (v/255 - mean[c]) / std[c], in float32. An empty Mean and Std mean
// ToTensor only (x = v/255). For a 1-channel image given 3-channel
// statistics, the means of Mean and of Std are used.
type Normalize struct {
	Mean []float64 `yaml:"mean" json:"mean"`
	Std  []float64 `yaml:"std" json:"std"`
}

// ImageNet is the normalization of ImageNet-pretrained and SSL models.
var ImageNet = Normalize{Mean: []float64{0.485, 0.456, 0.406}, Std: []float64{0.229, 0.224, 0.225}}

// Validate checks that Mean and Std have equal length (0, 1 or 3) and
// that no std is zero.
func (n Normalize) Validate() error {
	if len(n.Mean) != len(n.Std) || (len(n.Mean) != 0 && len(n.Mean) != 1 && len(n.Mean) != 3) {
		return fmt.Errorf("augment: normalize mean %v and std %v need 0, 1 or 3 values each", n.Mean, n.Std)
	}
	for _, s := range n.Std {
		if s == 0 {
			return fmt.Errorf("augment: normalize std must not be 0")
		}
	}
	return nil
}

func (n Normalize) channel(c, channels int) (mean, std float32) {
	switch {
	case len(n.Mean) == 0:
		return 0, 1
	case len(n.Mean) == 1:
		return float32(n.Mean[0]), float32(n.Std[0])
	case channels == 1:
		return float32((n.Mean[0] + n.Mean[1] + n.Mean[2]) / 3), float32((n.Std[0] + n.Std[1] + n.Std[2]) / 3)
	}
	return float32(n.Mean[c]), float32(n.Std[c])
}

// lut returns the 256 float32 outputs of each channel.
func (n Normalize) lut(channels int) [3][256]float32 {
	var l [3][256]float32
	for c := 0; c < channels; c++ {
		m, s := n.channel(c, channels)
		for v := range 256 {
			x := float32(v) / 255
			l[c][v] = (x - m) / s
		}
	}
	return l
}

// ToCHW writes m normalized into dst as float32 channels-first (C, H, W),
// the layout of torchvision's ToTensor. dst must hold C*H*W values.
func (n Normalize) ToCHW(dst []float32, m *Image) {
	plane := m.W * m.H
	if len(dst) < m.C*plane {
		panic(fmt.Sprintf("augment: ToCHW needs %d floats, got %d", m.C*plane, len(dst)))
	}
	lut := n.lut(m.C)
	if m.C == 1 {
		l := &lut[0]
		for i, v := range m.Pix {
			dst[i] = l[v]
		}
		return
	}
	r, g, b := dst[:plane], dst[plane:2*plane], dst[2*plane:3*plane]
	lr, lg, lb := &lut[0], &lut[1], &lut[2]
	p := m.Pix[:3*plane]
	for i := range r {
		q := p[3*i : 3*i+3 : 3*i+3]
		r[i], g[i], b[i] = lr[q[0]], lg[q[1]], lb[q[2]]
	}
}

// ToNCHW packs imgs (all the same size and channel count) into one
// contiguous float32 slice in NCHW order, normalized, ready to be copied
// into a tensor of shape {N, C, H, W}. It reuses dst when large enough.
func (n Normalize) ToNCHW(dst []float32, imgs []*Image) ([]float32, [4]int, error) {
	if len(imgs) == 0 {
		return dst[:0], [4]int{}, nil
	}
	f := imgs[0]
	shape := [4]int{len(imgs), f.C, f.H, f.W}
	per := f.C * f.H * f.W
	for i, m := range imgs {
		if m.W != f.W || m.H != f.H || m.C != f.C {
			return dst, shape, fmt.Errorf("augment: ToNCHW: image %d is %dx%dx%d, image 0 is %dx%dx%d", i, m.W, m.H, m.C, f.W, f.H, f.C)
		}
	}
	if cap(dst) < per*len(imgs) {
		dst = make([]float32, per*len(imgs))
	}
	dst = dst[:per*len(imgs)]
	for i, m := range imgs {
		n.ToCHW(dst[i*per:(i+1)*per], m)
	}
	return dst, shape, nil
}
