// Package methods links every built-in method into a program: importing
// it (for its side effect) registers byol, hubert, data2vec and the
// others with package train. The sslpipe command imports it; a Go program
// that wants only some methods imports their packages instead.
package methods

import (
	_ "github.com/sslpipe/sslpipe/train/byol"         // registers "byol"
	_ "github.com/sslpipe/sslpipe/train/colorization" // registers "colorization"
	_ "github.com/sslpipe/sslpipe/train/data2vec2"    // registers "data2vec2"
	_ "github.com/sslpipe/sslpipe/train/inpainting"   // registers "inpainting"
	_ "github.com/sslpipe/sslpipe/train/jigsaw"       // registers "jigsaw"
	_ "github.com/sslpipe/sslpipe/train/rotation"     // registers "rotation"
	_ "github.com/sslpipe/sslpipe/train/sop"          // registers "sop"
)
