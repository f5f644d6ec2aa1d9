package augment

import (
	"fmt"
	"sort"
)

func sslView(name string, size int, interp Interp) View {
	return View{
		Name: name, Size: size, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		Interp: interp, FlipP: 0.5,
		JitterP: 0.8, Jitter: Jitter{0.4, 0.4, 0.2, 0.1}, GrayP: 0.2,
		BlurSigma: [2]float64{0.1, 2.0}, Normalize: ImageNet,
	}
}

// BYOL is DeepMind's two-view BYOL recipe at the given size: bicubic
// crops of scale (0.08, 1), flip 0.5, ColorJitter(0.4, 0.4, 0.2, 0.1)
// with p 0.8, grayscale 0.2, blur p 1.0 / 0.1, solarize p 0 / 0.2,
// ImageNet normalization. With blur false the blur is omitted, as
// solo-learn's CIFAR and Fashion-MNIST (32 px) setting does.
func BYOL(size int, blur bool) Recipe {
	v1, v2 := sslView("view1", size, Bicubic), sslView("view2", size, Bicubic)
	v1.BlurP, v2.BlurP = 1.0, 0.1
	if !blur {
		v1.BlurP, v2.BlurP = 0, 0
	}
	v2.SolarizeP = 0.2
	name := "byol"
	if !blur {
		name = "byol-noblur"
	}
	return Recipe{Name: name, Channels: 3, Views: []View{v1, v2}}
}

// SimCLR is SimCLR's two symmetric views: bilinear crops (0.08, 1), flip,
// ColorJitter(0.8, 0.8, 0.8, 0.2) p 0.8, grayscale 0.2, blur p 0.5.
func SimCLR(size int) Recipe {
	v := sslView("view", size, Bilinear)
	v.Jitter = Jitter{0.8, 0.8, 0.8, 0.2}
	v.BlurP = 0.5
	v.Count = 2
	return Recipe{Name: "simclr", Channels: 3, Views: []View{v}}
}

// SimSiam is SimSiam's two symmetric views: crops of scale (0.2, 1),
// ColorJitter(0.4, 0.4, 0.4, 0.1) p 0.8, grayscale 0.2, blur p 0.5.
func SimSiam(size int) Recipe {
	v := sslView("view", size, Bilinear)
	v.Scale = [2]float64{0.2, 1}
	v.Jitter = Jitter{0.4, 0.4, 0.4, 0.1}
	v.BlurP = 0.5
	v.Count = 2
	return Recipe{Name: "simsiam", Channels: 3, Views: []View{v}}
}

// DINO is DINO's multi-crop: two global bicubic crops (scale 0.4-1) with
// blur p 1.0 and 0.1 and solarize 0.2 on the second, and nLocal local
// crops of localSize (scale 0.05-0.4) with blur p 0.5.
func DINO(globalSize, localSize, nLocal int) Recipe {
	g1, g2 := sslView("global1", globalSize, Bicubic), sslView("global2", globalSize, Bicubic)
	g1.Scale, g2.Scale = [2]float64{0.4, 1}, [2]float64{0.4, 1}
	g1.BlurP, g2.BlurP = 1.0, 0.1
	g2.SolarizeP = 0.2
	l := sslView("local", localSize, Bicubic)
	l.Scale = [2]float64{0.05, 0.4}
	l.BlurP = 0.5
	l.Count = nLocal
	views := []View{g1, g2}
	if nLocal > 0 {
		views = append(views, l)
	}
	return Recipe{Name: "dino", Channels: 3, Views: views}
}

// MaskedImage is a masked-image-modelling recipe: one crop (scale 0.08-1,
// flip, no color ops) plus a block-wise mask over a 14x14 grid (for
// 16-pixel patches at 224) covering ratio of the patches, as BEiT and
// data2vec do; kind "random" gives MAE's random masking instead.
func MaskedImage(size int, kind string, ratio float64) Recipe {
	v := View{Name: "view", Size: size, Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3},
		Interp: Bicubic, FlipP: 0.5, Normalize: ImageNet}
	g := max(size/16, 1)
	return Recipe{Name: "mask", Channels: 3, Views: []View{v},
		Mask: &MaskSpec{Kind: kind, Rows: g, Cols: g, Ratio: ratio, MinPatches: 16, MinAspect: 0.3}}
}

var recipeNames = map[string]func(size int) Recipe{
	"byol":        func(s int) Recipe { return BYOL(s, true) },
	"byol-noblur": func(s int) Recipe { return BYOL(s, false) },
	"simclr":      SimCLR,
	"simsiam":     SimSiam,
	"dino": func(s int) Recipe {
		return DINO(s, max(s*96/224, 1), 8)
	},
	"mask": func(s int) Recipe { return MaskedImage(s, "block", 0.6) },
	"mae":  func(s int) Recipe { return MaskedImage(s, "random", 0.75) },
}

// RecipeNames lists the built-in recipes.
func RecipeNames() []string {
	var n []string
	for k := range recipeNames {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// NamedRecipe returns a built-in recipe at the given size (the global view
// size for dino, whose local views are size*96/224).
func NamedRecipe(name string, size int) (Recipe, error) {
	f, ok := recipeNames[name]
	if !ok {
		return Recipe{}, fmt.Errorf("augment: unknown recipe %q (one of %v)", name, RecipeNames())
	}
	if size <= 0 {
		return Recipe{}, fmt.Errorf("augment: recipe size must be positive, got %d", size)
	}
	return f(size), nil
}
