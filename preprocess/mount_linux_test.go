package preprocess

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// tmpfs mounts a small tmpfs at a new folder under t.TempDir (root only)
// and unmounts it at cleanup; it skips the test where mounting is not
// allowed.
func tmpfs(t *testing.T, opts string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a tmpfs (the fault-injection tests cover the same paths)")
	}
	dir := filepath.Join(t.TempDir(), "mnt")
	os.Mkdir(dir, 0o755)
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", opts, "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", dir).Run() })
	return dir
}

// TestRealDiskFullAndReadOnly fills a real 48 KiB file system, then grows
// it and resumes, and writes to a real read-only mount.
func TestRealDiskFullAndReadOnly(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts file systems")
	}
	dir, _ := imageCorpus(t, 30)
	ref := t.TempDir()
	if _, err := Run(context.Background(), imageOpts(dir, ref)); err != nil {
		t.Fatal(err)
	}
	mnt := tmpfs(t, "size=48k")
	out := filepath.Join(mnt, "ds")
	_, err := Run(context.Background(), imageOpts(dir, out))
	if !errors.Is(err, ErrDiskFull) {
		t.Fatalf("want a disk-full error, got %v", err)
	}
	t.Logf("full disk: %v", err)
	tars, _ := filepath.Glob(filepath.Join(out, "shard-*.tar"))
	for _, p := range tars {
		rec, err := readRecord(recordPath(out, shardIndex(p)))
		if err != nil {
			t.Fatalf("%s under its final name without a record: %v", p, err)
		}
		if sum, _, _ := fileSHA256(p); sum != rec.Shard.SHA256 {
			t.Fatalf("%s is not complete", p)
		}
	}
	if len(tars) == 0 {
		t.Fatal("the disk filled before any shard: resume is not exercised")
	}
	if tmps, _ := filepath.Glob(filepath.Join(out, ".*.tmp")); len(tmps) > 0 {
		t.Errorf("temporary files left on the full disk: %v", tmps)
	}
	if out, err := exec.Command("mount", "-o", "remount,size=4m", mnt).CombinedOutput(); err != nil {
		t.Fatalf("remount: %v: %s", err, out)
	}
	sum, err := Run(context.Background(), imageOpts(dir, out))
	if err != nil {
		t.Fatal(err)
	}
	if sum.ShardsKept != len(tars) {
		t.Errorf("kept %d shards, %d were complete", sum.ShardsKept, len(tars))
	}
	sameTree(t, ref, out)

	ro := tmpfs(t, "size=1m,ro")
	_, err = Run(context.Background(), imageOpts(dir, filepath.Join(ro, "ds")))
	if !errors.Is(err, ErrReadOnly) {
		t.Fatalf("read-only mount: %v", err)
	}
	t.Logf("read-only: %v", err)
}

func shardIndex(p string) int {
	var j int
	for _, c := range filepath.Base(p)[len("shard-"):] {
		if c < '0' || c > '9' {
			break
		}
		j = j*10 + int(c-'0')
	}
	return j
}
