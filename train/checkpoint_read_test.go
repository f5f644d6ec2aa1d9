package train

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// ReadCheckpoint verifies the checksum over the file's own data section
// and rejects a file whose tensors claim the same bytes many times without
// allocating the claim.
func TestReadCheckpointBoundsAllocation(t *testing.T) {
	dir := t.TempDir()
	tensors := map[string]STensor{
		"enc.w": {Shape: []int64{2, 3}, F32: []float32{1, -2, 3.5, 0, 1e-30, 7}},
		"step":  {Shape: []int64{1}, I64: []int64{42}},
	}
	img, err := encodeCheckpoint(tensors, State{Method: "byol", Step: 7})
	if err != nil {
		t.Fatal(err)
	}
	good := filepath.Join(dir, "good.ckpt")
	if err := os.WriteFile(good, img, 0o644); err != nil {
		t.Fatal(err)
	}
	got, st, err := ReadCheckpoint(good)
	if err != nil || !reflect.DeepEqual(got, tensors) || st.Step != 7 || st.Method != "byol" {
		t.Fatalf("round trip: %v %+v %v", got, st, err)
	}
	// One flipped data bit: checksum mismatch.
	img[len(img)-3] ^= 0x10
	flipped := filepath.Join(dir, "flipped.ckpt")
	os.WriteFile(flipped, img, 0o644)
	if _, _, err := ReadCheckpoint(flipped); !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "checksum") {
		t.Errorf("flipped bit: %v", err)
	}

	mj, _ := json.Marshal(State{Format: checkpointFormat, Method: "byol"})
	huge := filepath.Join(dir, "overlap.ckpt")
	data := overlappingSafetensors(1000, map[string]string{"sslpipe": string(mj)})
	if err := os.WriteFile(huge, data, 0o644); err != nil {
		t.Fatal(err)
	}
	n := bytesAllocated(func() { _, _, err = ReadCheckpoint(huge) })
	if !errors.Is(err, ErrBadCheckpoint) || !strings.Contains(err.Error(), "overlap.ckpt") {
		t.Errorf("err = %v, want ErrBadCheckpoint naming the file", err)
	}
	if n > 4*uint64(len(data)) {
		t.Errorf("allocated %d bytes for a %d-byte file", n, len(data))
	}
}
