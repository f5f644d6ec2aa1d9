// Package methods links every built-in method into a program: importing
// it (for its side effect) registers byol, hubert, data2vec and the
// others with package train. The sslpipe command imports it; a Go program
// that wants only some methods imports their packages instead.
package methods

import (
	_ "github.com/sslpipe/sslpipe/train/byol"         // registers "byol"
	_ "github.com/sslpipe/sslpipe/train/colorization" // registers "colorization"
	_ "github.com/sslpipe/sslpipe/train/data2vec"     // registers "data2vec"
	_ "github.com/sslpipe/sslpipe/train/data2vec2"    // registers "data2vec2"
	_ "github.com/sslpipe/sslpipe/train/dino"         // registers "dino"
	_ "github.com/sslpipe/sslpipe/train/hubert"       // registers "hubert"
	_ "github.com/sslpipe/sslpipe/train/inpainting"   // registers "inpainting"
	_ "github.com/sslpipe/sslpipe/train/jigsaw"       // registers "jigsaw"
	_ "github.com/sslpipe/sslpipe/train/mocov3"       // registers "mocov3"
	_ "github.com/sslpipe/sslpipe/train/rotation"     // registers "rotation"
	_ "github.com/sslpipe/sslpipe/train/simclr"       // registers "simclr"
	_ "github.com/sslpipe/sslpipe/train/simsiam"      // registers "simsiam"
	_ "github.com/sslpipe/sslpipe/train/sop"          // registers "sop"
	_ "github.com/sslpipe/sslpipe/train/transformer"  // registers the vit-* backbones
)
