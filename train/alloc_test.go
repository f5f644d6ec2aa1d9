package train

import (
	"os"
	"os/exec"
	"runtime"
	"testing"
)

// TestTuneAllocator checks, in child processes (the setting is once per
// process), that TuneAllocator takes on glibc Linux with cgo and stands
// aside when the user set SSLPIPE_MALLOC=default or glibc's own variable.
func TestTuneAllocator(t *testing.T) {
	if v := os.Getenv("SSLPIPE_TUNE_CHILD"); v != "" {
		if got := TuneAllocator(); (v == "want-true") != got {
			t.Fatalf("TuneAllocator() = %v, want %v", got, v == "want-true")
		}
		if TuneAllocator() != (v == "want-true") {
			t.Fatal("a second call reports differently")
		}
		return
	}
	if runtime.GOOS != "linux" || !tuneMalloc() {
		t.Skip("no glibc malloc to tune here")
	}
	for _, c := range []struct{ env, want string }{
		{"", "want-true"},
		{"SSLPIPE_MALLOC=default", "want-false"},
		{"MALLOC_TRIM_THRESHOLD_=1000000", "want-false"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestTuneAllocator$")
		cmd.Env = append(os.Environ(), "SSLPIPE_TUNE_CHILD="+c.want)
		if c.env != "" {
			cmd.Env = append(cmd.Env, c.env)
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("with %q: %v\n%s", c.env, err, out)
		}
	}
}
