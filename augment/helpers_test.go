package augment

import (
	"math/rand/v2"
	"os"
	"path/filepath"
)

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)) }

func readTestdata(t interface {
	Helper()
	Fatal(...any)
}, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
