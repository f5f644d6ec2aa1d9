package speechdata_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/speechdata"
)

// The voices espeak-ng speaks the sets in, and the demo sizes.
func Example() {
	v := speechdata.Voices()
	o := speechdata.Defaults()
	fmt.Println(len(v), "voices, e.g.", v[0], v[len(v)-1])
	fmt.Printf("%d pretraining + %d valid utterances; digits in %d voices (%d held out)\n", o.Pretrain, o.Valid, o.DigitVoices, o.TestVoices)
	// Output:
	// 204 voices, e.g. en+m1 en-gb-x-gbclan+belinda
	// 400 pretraining + 40 valid utterances; digits in 32 voices (8 held out)
}
