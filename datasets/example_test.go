package datasets_test

import (
	"fmt"

	"github.com/sslpipe/sslpipe/datasets"
)

func ExampleOpen() {
	// "fashion-mnist:test" reads Debian's dataset-fashion-mnist files; a
	// folder or a CSV/JSONL manifest works the same way.
	s, err := datasets.Open("fashion-mnist:test")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Len(), s.Images.H, s.Images.W, s.Classes[s.Labels[0]], s.Keys[0])
	// Output: 10000 28 28 Ankle boot fashion-mnist:test/00000
}
