//go:build cgo

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestDoctorJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if err := run(context.Background(), &cmdEnv{Stdout: &out, Stderr: &errb}, []string{"doctor", "--json", "--smoke", "--smoke-steps", "200"}); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	var m map[string]any
	if err := json.Unmarshal(out.Bytes(), &m); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"libtorch_version", "libtorch_path", "cuda_available", "cuda_devices", "stubbed_ops", "smoke"} {
		if _, ok := m[k]; !ok {
			t.Errorf("doctor --json lacks %q", k)
		}
	}
	if v, _ := m["libtorch_version"].(string); v == "" || !strings.Contains(v, ".") {
		t.Errorf("libtorch_version = %v", m["libtorch_version"])
	}
}
